"""The interactive mode of ``shoal run``: a ``shoal>`` prompt that runs each line on the nodes.

``shoal run -w NODES`` with no command, on a terminal, enters it, as ``clush`` does. One
task serves the whole session, so the connections the first command opens serve the
next ones. Lines that start with a special character act on the session (see
:data:`HELP`); Ctrl-C interrupts the command under way and the session goes on.

This module is the only one that imports prompt_toolkit, and it loads only for the
interactive mode.
"""

from __future__ import annotations

import asyncio
import dataclasses

from shoal.cli.display import VERB_STD, Display
from shoal.cli.perform import exit_status, on_sigint, perform
from shoal.cli.render import Layout
from shoal.engine import AsyncTask
from shoal.errors import ShoalError
from shoal.nodeset import NodeSet

__all__ = ["HELP", "Session", "interact"]

PROMPT = "shoal> "

HELP = """\
Special commands:
  ?          this help, and the nodes in use
  =b  or  =  gathered output on or off (-b)
  =B         gathered output with standard error on or off (-B)
  +NODES     add NODES to the nodes in use
  -NODES     leave NODES out
  @NODES     use NODES only
  !COMMAND   run COMMAND on this machine
  quit       leave (Ctrl-D too)
Any other line runs on every node in use; Ctrl-C interrupts it."""

#: toggles -> whether they gather standard error too
_TOGGLES = {"=": False, "=b": False, "=B": True}


class Session:
    """One interactive session: the task, the nodes in use, the output layout."""

    def __init__(self, task: AsyncTask, display: Display, layout: Layout, maxrc: bool) -> None:
        self.task = task
        self.display = display
        self.layout = layout
        self.maxrc = maxrc
        self.nodes = task.nodes.copy()
        self.status = 0  #: exit status of the last command (0 unless -S)

    async def handle(self, line: str) -> bool:
        """Act on one line typed at the prompt; False when it asks to leave."""
        text = line.strip()
        if text.lower() == "quit":
            return False
        if text in _TOGGLES:
            self.toggle(_TOGGLES[text])
        elif text == "?":
            self.display.message(HELP)
            self.show_nodes()
        elif text[:1] in ("+", "-", "@"):
            self.change_nodes(text[0], text[1:])
        elif text[:1] == "!":
            await run_locally(text[1:])
        elif text:
            await self.run(text)
        self.display.flush()
        return True

    def show_nodes(self) -> None:
        """Say which nodes commands run on."""
        self.display.message(f"Working with nodes: {self.nodes}")

    def toggle(self, merge: bool) -> None:
        """Turn gathered output (with standard error when ``merge``) on or off."""
        on = not (self.layout.gather and self.layout.merge == merge)
        self.layout = dataclasses.replace(self.layout, gather=on, merge=merge and on,
                                          diff=self.layout.diff and on)
        self.display.message(f"Switching to {'gathered' if on else 'standard'} output format",
                             VERB_STD)

    def change_nodes(self, operation: str, text: str) -> None:
        """``+NODES`` adds, ``-NODES`` leaves out, ``@NODES`` replaces the nodes in use."""
        try:
            nodes = NodeSet(text)
        except ShoalError as exc:  # a typo, an unknown group: say so and carry on
            self.display.note(str(exc))
            return
        if operation == "+":
            self.nodes.update(nodes)
        elif operation == "-":
            self.nodes.difference_update(nodes)
        else:
            self.nodes = nodes
        self.show_nodes()

    async def run(self, command: str) -> None:
        """Run ``command`` on the nodes in use and show its output."""
        if not self.nodes:
            self.display.note("no node to run on: add some with +NODES")
            return
        nodes = self.nodes.copy()
        result, _ = await perform(self.task, lambda task: task.run(command, nodes=nodes),
                                  self.display, self.layout, nodes)
        # Ctrl-C stops one command, not the session: its nodes count as not reached.
        self.status = exit_status(result, self.maxrc, interrupted=False)


async def run_locally(command: str) -> None:
    """``!COMMAND``: run COMMAND in a local shell on the terminal; Ctrl-C stops only it."""
    with on_sigint(lambda: None):
        process = await asyncio.create_subprocess_shell(command)
        await process.wait()


async def interact(task: AsyncTask, display: Display, layout: Layout, maxrc: bool) -> int:
    """Read lines at the ``shoal>`` prompt until ``quit`` or Ctrl-D; return the exit status."""
    from prompt_toolkit import PromptSession

    prompt: PromptSession[str] = PromptSession()
    session = Session(task, display, layout, maxrc)
    display.message("Enter 'quit' to leave this interactive mode", VERB_STD)
    session.show_nodes()
    display.flush()
    async with task:
        while True:
            try:
                line = await prompt.prompt_async(PROMPT)
            except KeyboardInterrupt:
                continue
            except EOFError:
                break
            if not await session.handle(line):
                break
    return session.status
