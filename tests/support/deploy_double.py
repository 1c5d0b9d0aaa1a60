"""A host double for the deployment model's pure-logic tests: it records, runs nothing.

``RecordingHost.run`` waits on shoal's loop like a real host (through the greenlet
bridge), then records what it was asked and answers ``"<slug>: <command>"``. A command
listed in ``failing`` fails with status 1. Tests that need real commands use the
testbed's hosts instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, ClassVar

from shoal.deploy._bridge import wait
from shoal.deploy.exceptions import ExecCommandFailed
from shoal.deploy.host import Host


class RecordingHost(Host):
    """Records every run as a dict; see the module docstring."""

    slug = "double"
    address = "double.invalid"
    runs: ClassVar[list[dict[str, Any]]] = []
    failing: ClassVar[set[str]] = set()
    #: called (on the loop) before each command answers: a test's synchronisation point
    hook: ClassVar[Callable[[str, str], Any] | None] = None

    def run(self, command: str, use_sudo: bool = False, sandbox: bool = False,
            interactive: bool = True, user: str | None = None,
            ignore_exit_status: bool = False, initial_input: str | None = None,
            silent: bool = False) -> str:
        hook = RecordingHost.hook

        async def answer() -> None:
            if hook is not None:
                await hook(self.slug, command)
            await asyncio.sleep(0)

        wait(answer())
        RecordingHost.runs.append({
            "host": self.slug, "command": command, "sudo": use_sudo, "sandbox": sandbox,
            "context": repr(self.host_context)})
        if command in RecordingHost.failing and not ignore_exit_status:
            raise ExecCommandFailed(command, self, use_sudo, 1, "")
        return f"{self.slug}: {command}"


def hosts(*slugs: str) -> list[type[RecordingHost]]:
    """One RecordingHost class per slug."""
    return [type(slug.capitalize(), (RecordingHost,), {"slug": slug, "address": f"{slug}.invalid"})
            for slug in slugs]
