"""Propagation trees on the loopback testbed: gateways that ssh on to the targets.

The root and the gateways share one set of ssh client files (:mod:`shoal.testbed.clients`):
the gateways run as the testbed's login user, who owns the key copies, and the root
(root, or that same user) reads them too. :class:`TreeBed` builds the tasks a test
compares: a :class:`~shoal.tree.TreeTask` through a topology, and a flat
:class:`~shoal.engine.AsyncTask` on the same nodes through the same config.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shoal.cli.tree_run import gateway_settings
from shoal.engine import AsyncTask, TaskResult
from shoal.hosts import ConnectOptions
from shoal.hosts.ssh import SSHTransport
from shoal.testbed import Testbed
from shoal.testbed.clients import ClientFiles, Route, client_files
from shoal.tree.driver import GatewayLauncher, SSHGatewayLauncher, TreeSettings
from shoal.tree.routing import Topology
from shoal.tree.task import TreeTask
from shoal.tree.topology import gateways_topology, parse_conf

#: seconds a test waits for anything it expects to happen
DEADLINE = 60.0


#: node2 and node4 are in role "odd", node8 and node9 in "slow" (SetEnv in the ssh config);
#: gwdeny1, gwdeny2… log in as a user sshd refuses
ROLES = ("Host node2 node4\n    SetEnv SHOAL_ROLE=odd\n"
         "Host node8 node9\n    SetEnv SHOAL_ROLE=slow\n"
         "Host gwdeny*\n    User nobody\n")

#: a command whose output differs by role: lines, stderr, exit codes, a line longer than
#: a piece, a last line without its newline and bytes that are not UTF-8
MIXED = ("echo common; echo role=$SHOAL_ROLE; echo warn-$SHOAL_ROLE >&2; "
         "case $SHOAL_ROLE in odd) exit 3;; slow) head -c 70000 /dev/zero | tr '\\0' x; "
         "echo; printf '\\377\\376 no newline';; esac")


@dataclass(frozen=True)
class TreeBed:
    """The testbed, with client files the root and its gateways share."""

    bed: Testbed
    client: ClientFiles
    folder: Path  #: a folder the login user may write, for files the nodes leave

    @property
    def options(self) -> ConnectOptions:
        return ConnectOptions(ssh_config=self.client.ssh_config)

    def settings(self, options: ConnectOptions | None = None, **changes: Any) -> TreeSettings:
        """Settings for a tree over the testbed: gateways reach targets with ``options``."""
        base = TreeSettings(heartbeat=1.0, stall=30.0,
                            gateway_settings=gateway_settings(options or self.options, "ssh",
                                                              None))
        extra = dict(changes.pop("gateway_settings", ()))
        if extra:
            merged = dict(base.gateway_settings)
            merged.update(extra)
            base = dataclasses.replace(base, gateway_settings=tuple(merged.items()))
        return dataclasses.replace(base, **changes)

    def launcher(self) -> GatewayLauncher:
        return SSHGatewayLauncher(self.options)

    def tree(self, nodes: str, topology: Topology, **kwargs: Any) -> TreeTask:
        """A TreeTask on ``nodes`` through ``topology`` (direct nodes over asyncssh)."""
        kwargs.setdefault("settings", self.settings())
        if "gateways" not in kwargs:
            kwargs.setdefault("launcher", self.launcher())
        return TreeTask(nodes, SSHTransport(self.options), topology=topology, **kwargs)

    def flat(self, nodes: str, **kwargs: Any) -> AsyncTask:
        """A flat task on ``nodes``, as ``shoal run`` reaches them (asyncssh)."""
        return AsyncTask(nodes, SSHTransport(self.options), **kwargs)


class ReplacedLauncher(SSHGatewayLauncher):
    """Starts the gateways named in ``commands`` with another command: one whose Python
    is missing, one that prints garbage…"""

    def __init__(self, options: ConnectOptions, commands: dict[str, str]) -> None:
        super().__init__(options)
        self.commands = commands

    def argv(self, gateway: str, command: str) -> list[str]:
        return super().argv(gateway, self.commands.get(gateway, command))


def one_level(gateways: str = "gw[1-2]") -> Topology:
    """``--gateways``: every target through ``gateways``, seen from a root called admin."""
    return gateways_topology(gateways, root_name="admin")


def routes(text: str) -> Topology:
    """A topology.conf's routes, seen from admin."""
    return parse_conf(f"[routes]\n{text}", "topology.conf", root_name="admin")


@pytest.fixture(scope="session")
def treebed(testbed: Testbed) -> Iterator[TreeBed]:
    """Client files for the testbed's login user, and a folder it may write."""
    top = Path(tempfile.mkdtemp(prefix="shoal-tree-"))
    top.chmod(0o755)
    folder = top / "files"
    folder.mkdir()
    folder.chmod(0o777)
    try:
        yield TreeBed(testbed, client_files(top / "client", [Route("node* gw*", testbed)],
                                            preamble=ROLES), folder)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def same_results(tree: TaskResult, flat: TaskResult) -> None:
    """Assert both runs ended every node alike: status, return code, stdout, stderr."""
    assert list(tree) == list(flat)
    for node in flat:
        a, b = tree[node], flat[node]
        assert (a.status, a.rc, a.stdout, a.stderr) == (b.status, b.rc, b.stdout, b.stderr), node


def wait_gone(pids: list[int], deadline: float = DEADLINE) -> list[int]:
    """Wait until none of ``pids`` runs (zombies count as gone); those left at the deadline."""
    end = time.monotonic() + deadline
    while True:
        alive = [pid for pid in pids if _alive(pid)]
        if not alive or time.monotonic() > end:
            return alive
        time.sleep(0.05)  # polling a condition with a deadline, not a synchronisation


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def read_pids(folder: Path, suffix: str) -> dict[str, int]:
    """The pids the nodes wrote as ``NODE.SUFFIX`` files in ``folder``."""
    return {path.name[:-len(suffix) - 1]: int(path.read_text().split()[0])
            for path in folder.glob(f"*.{suffix}")}


def kill(pid: int, sig: signal.Signals) -> None:
    """Signal ``pid`` if it still runs."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
