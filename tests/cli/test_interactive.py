"""shoal on a terminal: the interactive ``shoal>`` mode and the progress line.

The session is first driven from prompt_toolkit's pipe input on local nodes (no terminal,
no SSH), then for real in tmux over the testbed: keys typed with ``send-keys``, the
screen read with ``capture-pane`` until the expected text appears or a deadline passes.
"""

from __future__ import annotations

import asyncio
import io
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from support.gates import Gate

from shoal.cli.display import Display
from shoal.cli.interactive import HELP, interact
from shoal.cli.render import Layout
from shoal.engine import AsyncTask
from shoal.hosts import LocalTransport
from shoal.testbed import Testbed

SHOAL = Path(sys.executable).parent / "shoal"
SEP = "-" * 15


def session(typed: str, layout: Layout | None = None) -> tuple[int, str, str]:
    """Type ``typed`` into an interactive session on n[1-3] (local); its status and output."""
    out, err = io.BytesIO(), io.BytesIO()
    display = Display(out, err)
    task = AsyncTask("n[1-3]", LocalTransport())

    async def scenario() -> int:
        with create_pipe_input() as keys:
            keys.send_text(typed)
            with create_app_session(input=keys, output=DummyOutput()):
                return await interact(task, display, layout or Layout(), maxrc=True)

    status = asyncio.run(scenario())
    return status, out.getvalue().decode(), err.getvalue().decode()


def test_each_line_runs_on_every_node_until_quit() -> None:
    status, out, err = session("echo $SHOAL_NODE\nexit 4\nquit\necho never\n")
    lines = out.splitlines()
    assert lines[:2] == ["Enter 'quit' to leave this interactive mode",
                         "Working with nodes: n[1-3]"]
    assert sorted(lines[2:]) == ["n1: n1", "n2: n2", "n3: n3"]
    assert sorted(err.splitlines()) == [f"shoal: n{i}: exited with exit code 4"
                                        for i in (1, 2, 3)]
    assert status == 4  # -S: the last command's largest return code


def test_toggles_gather_and_changes_nodes() -> None:
    status, out, _ = session("=b\necho same\n-n2\necho x\n=b\n@n3\necho y\n=B\n"
                             "echo e >&2\n+n[1-2]\n?\n\x04")
    assert out.split("\n", 2)[2] == (
        "Switching to gathered output format\n"
        f"{SEP}\nn[1-3] (3)\n{SEP}\nsame\n"
        "Working with nodes: n[1,3]\n"
        f"{SEP}\nn[1,3] (2)\n{SEP}\nx\n"
        "Switching to standard output format\n"
        "Working with nodes: n3\n"
        "n3: y\n"
        "Switching to gathered output format\n"
        f"{SEP}\nn3\n{SEP}\ne\n"
        "Working with nodes: n[1-3]\n"
        f"{HELP}\nWorking with nodes: n[1-3]\n")
    assert status == 0  # Ctrl-D ends the session too


def test_bad_node_set_is_reported_and_the_session_goes_on() -> None:
    _, out, err = session("+n[1-\n-n[1-3]\necho nowhere\nquit\n")
    assert err == ('shoal: node set "n[1-": missing "]" at column 2\n'
                   "shoal: no node to run on: add some with +NODES\n")
    assert out.endswith("Working with nodes: n[1-3]\nWorking with nodes: \n")


# -- in a real terminal -------------------------------------------------------------------------


def _trimmed(text: str) -> str:
    """``text`` without spaces at the ends of lines (tmux does not show them)."""
    return "\n".join(line.rstrip(" ") for line in text.split("\n"))


class Tmux:
    """One tmux server of its own (socket ``socket``) showing a command in a 120x40 window."""

    def __init__(self, socket: Path, command: list[str]) -> None:
        self.base = ["tmux", "-S", str(socket), "-f", "/dev/null"]
        # The shell shows the exit status, then waits, so the screen stays readable.
        shell = f'{shlex.join(command)}; echo "exit=$?"; read wait'
        subprocess.run([*self.base, "new-session", "-d", "-s", "t", "-x", "120", "-y", "40",
                        shell], check=True)

    def type(self, *lines: str) -> None:
        """Type each line, then Enter."""
        for line in lines:
            subprocess.run([*self.base, "send-keys", "-t", "t", "-l", "--", line], check=True)
            self.keys("Enter")

    def keys(self, *keys: str) -> None:
        """Press keys by tmux name (``Enter``, ``C-c``)."""
        subprocess.run([*self.base, "send-keys", "-t", "t", *keys], check=True)

    def screen(self) -> str:
        """What the window shows, without trailing spaces on its lines."""
        shown = subprocess.run([*self.base, "capture-pane", "-p", "-t", "t"], check=True,
                               capture_output=True, text=True).stdout
        return _trimmed(shown)

    def wait_for(self, text: str, deadline: float = 30.0) -> str:
        """The screen once ``text`` shows on it; fails after ``deadline`` seconds."""
        end = time.monotonic() + deadline
        text = _trimmed(text)
        while text not in (screen := self.screen()):
            assert time.monotonic() < end, f"{text!r} never showed up on:\n{screen}"
            time.sleep(0.02)  # polling the screen with a deadline
        return screen

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], check=False, capture_output=True)


#: Opens a :class:`Tmux` window on a command.
OpenTmux = Callable[[list[str]], Tmux]


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[OpenTmux]:
    """Opens :class:`Tmux` windows for the test and closes their servers after it."""
    opened: list[Tmux] = []

    def open_tmux(command: list[str]) -> Tmux:
        window = Tmux(tmp_path / f"tmux-{len(opened)}", command)
        opened.append(window)
        return window

    yield open_tmux
    for window in opened:
        window.close()


def test_interactive_session_in_a_terminal(tmux: OpenTmux, testbed: Testbed) -> None:
    term = tmux([str(SHOAL), "run", "-F", str(testbed.ssh_config), "-w", "node[1-3]"])
    term.wait_for("Working with nodes: node[1-3]\nshoal> ")
    # Each line is typed once the prompt is back, as a person would.
    term.type("echo hi")
    for node in ("node1", "node2", "node3"):
        term.wait_for(f"{node}: hi")
    term.wait_for("hi\nshoal> ")
    term.type("=b")
    term.wait_for("Switching to gathered output format\nshoal> ")
    term.type("echo gathered")
    term.wait_for(f"{SEP}\nnode[1-3] (3)\n{SEP}\ngathered\nshoal> ")
    term.type("!echo here")
    term.wait_for("here\nshoal> ")
    term.type("echo up; sleep 60")
    term.wait_for("shoal: 0/3 done, 0 failed, 3 running")  # it runs, shown after a second
    term.keys("C-c")
    term.wait_for("shoal: node[1-3]: interrupted\nshoal> ")
    term.type("quit")
    term.wait_for("shoal> quit\nexit=0")


def test_progress_line_on_a_terminal_is_erased_before_output(
        tmux: OpenTmux, testbed: Testbed, shared_tmp_path: Path) -> None:
    gate = Gate(shared_tmp_path)
    command = f"{gate.command}; echo done"
    term = tmux([str(SHOAL), "run", "-F", str(testbed.ssh_config), "-b", "-w", "node[1-3]",
                 command])
    term.wait_for("shoal: 0/3 done, 0 failed, 3 running")
    gate.open()
    screen = term.wait_for("exit=0")
    assert screen.startswith(f"{SEP}\nnode[1-3] (3)\n{SEP}\ndone\nexit=0\n")
    assert "running" not in screen
