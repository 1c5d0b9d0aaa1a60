"""The running view: what the bottom of the screen shows while a job runs.

A prompt_toolkit application below the job's output: the line the job is writing (a
question's text, a progress bar), then the job and what it does now. While an array
action runs on several hosts, one row per host: its state (running, done, failed,
interrupted), how long it has run, and its last line of output. Ctrl-C interrupts the
job on every host.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prompt_toolkit.application import Application, get_app
from prompt_toolkit.formatted_text import ANSI, StyleAndTextTuples, to_formatted_text
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import FormattedTextControl, Layout, Window

from shoal.shell.progress import STATUS_COLORS, RunState
from shoal.shell.screen import Screen

__all__ = ["make_view"]

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def _fit(text: str, room: int) -> str:
    text = text.replace("\t", " ")
    return text if len(text) <= room else text[:max(room - 1, 0)] + "…"


def _fit_formatted(fragments: StyleAndTextTuples, room: int) -> StyleAndTextTuples:
    out: StyleAndTextTuples = []
    for style, text, *_ in fragments:
        if room <= 0:
            break
        out.append((style, _fit(text, room)))
        room -= len(text)
    return out


def _lines(state: RunState, screen: Screen, columns: int, rows: int) -> StyleAndTextTuples:
    spinner = _SPINNER[int(time.monotonic() * 8) % len(_SPINNER)]
    out: StyleAndTextTuples = []
    partial = screen.partial
    if partial:
        out += [*_fit_formatted(to_formatted_text(ANSI(partial)), columns - 1), ("", "\n")]
    hint = "interrupting: waiting for every host to stop" if state.interrupting else (
        "Ctrl-C interrupts")
    forks = state.forks()
    elapsed = f"{time.monotonic() - state.started:.1f}s"
    if not forks:
        running = state.running_commands()
        doing = f"{running[-1][0]}: {running[-1][1]}" if running else ""
        head = f"{spinner} {state.label} {elapsed} "
        out += [("fg:ansicyan bold", head),
                ("", _fit(doing, max(columns - len(head) - len(hint) - 4, 0))),
                ("fg:ansibrightblack", f"  ({hint})")]
        return out
    counts = ", ".join(f"{n} {status}" for status, n in state.counts().items() if n)
    out += [("fg:ansicyan bold", f"{spinner} {state.label} {elapsed}"),
            ("", f"  {len(forks)} hosts: {counts}"),
            ("fg:ansibrightblack", f"  ({hint})")]
    room = max(rows - 4, 3)
    shown = forks if len(forks) <= room else (
        [f for f in forks if f.status == "running"] + [f for f in forks if f.status != "running"]
    )[:room - 1]
    width = max(len(f.name) for f in forks)
    for fork in shown:
        detail = fork.error if fork.status == "failed" else fork.last
        lead = f"  {fork.name:<{width}}  "
        out += [("", "\n"), ("bold", lead),
                (f"fg:ansi{STATUS_COLORS[fork.status]}", f"{fork.status:<11}"),
                ("", f" {fork.elapsed:6.1f}s  "),
                ("", _fit(detail, max(columns - len(lead) - 22, 0)))]
    if len(shown) < len(forks):
        out += [("", "\n"), ("fg:ansibrightblack",
                             f"  … and {len(forks) - len(shown)} more hosts")]
    return out


def make_view(state: RunState, screen: Screen, interrupt: Callable[[], None],
              typed: list[str]) -> Application[None]:
    """The running view of ``state``; ``interrupt`` is called on Ctrl-C.

    Other keys go to ``typed``: the answer to a question not asked yet (it was on the
    screen a moment before its prompt), which the prompt then starts with.
    """
    bindings = KeyBindings()

    @bindings.add("c-c")
    def _interrupt(event: KeyPressEvent) -> None:
        interrupt()
        event.app.invalidate()

    @bindings.add("<any>")
    def _type_ahead(event: KeyPressEvent) -> None:
        if event.data.isprintable():
            typed.append(event.data)

    @bindings.add("enter")
    def _enter(event: KeyPressEvent) -> None:
        typed.append("\n")

    @bindings.add("backspace")
    def _backspace(event: KeyPressEvent) -> None:
        if typed and typed[-1] != "\n":
            typed.pop()

    def text() -> StyleAndTextTuples:
        size = get_app().output.get_size()
        return _lines(state, screen, size.columns, size.rows)

    window = Window(FormattedTextControl(text, show_cursor=False), dont_extend_height=True,
                    wrap_lines=False)
    return Application(layout=Layout(window), key_bindings=bindings, refresh_interval=0.25,
                       erase_when_done=True)
