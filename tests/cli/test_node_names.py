"""``shoal run`` refuses node names that could pass for options or paths, and runs nothing.

A name such as ``-oProxyCommand=...`` handed to ssh would be an option; ``shoal run``
refuses it wherever it comes from (``-w``, ``-x``, a group) with one line naming it, exit
status 2, before any connection. Through shoal's real entry point, in this process.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import support.cli as support_cli
from support.files import group_config, writable_folder

from shoal.nodeset import groups
from shoal.testbed import Testbed


@dataclass(frozen=True)
class Outcome:
    """How one run ended: exit status, stdout and stderr as text."""

    status: int
    out: str
    err: str


def shoal(*args: str) -> Outcome:
    """``shoal ARGS`` through its real entry point, in this process, output as text."""
    got = support_cli.shoal(*args)
    return Outcome(got.status, got.out.decode(), got.err.decode())


def test_the_option_like_node_of_the_issue_is_refused() -> None:
    result = shoal("run", "-w", "-oProxyCommand=touch_/tmp/x", "true")
    assert result == Outcome(
        2, "", 'shoal: node name "-oProxyCommand=touch_/tmp/x": must not start with "-"\n')


@pytest.fixture
def drop(shared_tmp_path: Path) -> Path:
    """A folder the testbed's login user may write into (nothing should land there)."""
    return writable_folder(shared_tmp_path, "drop")


@pytest.fixture
def bad_group(tmp_path: Path) -> Iterator[Path]:
    """A groups.conf whose group "evil" holds node1 and an option-like name."""
    yield group_config(tmp_path, "local:\n  evil: ['node1', '-oProxyCommand=sh']\n")
    groups.set_std_group_resolver(None)  # the next test searches groups.conf afresh


@pytest.mark.parametrize(
    ("nodes", "name", "reason"),
    [
        pytest.param(["-w", "node1,-oProxyCommand=touch_{drop}/proxy"],
                     "-oProxyCommand=touch_{drop}/proxy", 'must not start with "-"',
                     id="dash-in-w"),
        pytest.param(["-w", "node[1-2]/x"], "node1/x", 'must not hold "/"', id="slash"),
        pytest.param(["-w", "node1", "-w", "node 2"], "node 2", 'must not hold whitespace (" ")',
                     id="space"),
        pytest.param(["-w", "node1", "-x", "-node2"], "-node2", 'must not start with "-"',
                     id="dash-in-x"),
    ],
)
def test_bad_names_exit_2_and_run_nothing(testbed: Testbed, drop: Path, nodes: list[str],
                                          name: str, reason: str) -> None:
    args = [arg.format(drop=drop) for arg in nodes]
    result = shoal("run", "-F", str(testbed.ssh_config), *args, f"touch {drop}/ran")
    assert result.status == 2
    assert result.out == ""
    assert result.err == f'shoal: node name "{name.format(drop=drop)}": {reason}\n'
    assert list(drop.iterdir()) == []


def test_bad_names_from_a_group_exit_2_and_run_nothing(testbed: Testbed, drop: Path,
                                                       bad_group: Path) -> None:
    result = shoal("run", "-F", str(testbed.ssh_config), "--groupsconf", str(bad_group),
                   "-w", "@evil", f"touch {drop}/ran")
    assert result.status == 2
    assert result.err == ('shoal: node name "-oProxyCommand=sh" (group "@evil"): must not '
                          'start with "-"\n')
    assert list(drop.iterdir()) == []
