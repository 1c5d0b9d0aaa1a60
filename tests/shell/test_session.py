"""The shell session end to end on a pipe: commands, actions, questions, Ctrl-C, results.

The hosts are :class:`~shoal.deploy.host.LocalHost` classes: their commands are real
local processes, so output, failures and interrupts are real too; the tmux tests drive
the same shell against the SSH testbed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.processes import is_running, wait_gone
from support.shell_pipe import PipeShell
from support.shell_site import Site

from shoal.shell.prints import route_prints


@pytest.fixture
def shell() -> Iterator[PipeShell]:
    driver = PipeShell(Site())
    driver.wait_for("Site > ")
    try:
        yield driver
    finally:
        driver.close()


def test_navigation_and_listing(shell: PipeShell) -> None:
    seen = shell.run("ls")
    assert "Child nodes:\n  Live Web" in seen and "Actions:" in seen
    assert re.search(r"ask +chatty +enter +hello +size +touch", seen)
    shell.run("cd Web")
    assert "/Site.Web\n" in shell.run("pwd")
    assert "Site.Web[local2] > " in shell.run("cd :local2")
    assert "Site.Web > " in shell.run("cd -")
    assert "Site.Web[local1] > " in shell.run("cd / Web :local1")
    assert "Site > " in shell.run("cd ..")  # an isolation's parent is the array's parent
    assert "Site.Web > " in shell.run("cd Web")
    assert "Site > " in shell.run("cd /")


@pytest.mark.parametrize(("line", "message"), [
    pytest.param("cd nope", "cd: Site has no child node 'nope' (children: Live, Web; actions: "
                 "ask, chatty, enter, hello, size, touch)", id="unknown-node"),
    pytest.param("frobnicate", "frobnicate: Site has no child node or action 'frobnicate'",
                 id="unknown-action"),
    pytest.param("hello 'big world", "bad quoting at column 7: this ' is never closed",
                 id="quoting"),
    pytest.param("hello a b c", "too many positional arguments", id="arguments"),
    pytest.param("cd ..", "..: Site is the root: it has no parent", id="above-root"),
    pytest.param("cd Web :web9", ":web9: Site.Web has no isolation 'web9' (isolations: "
                 "local1, local2)", id="isolation"),
    pytest.param("Web", "Site.Web is a node: name one of its actions", id="not-callable"),
])
def test_bad_input_is_one_line_and_the_prompt_comes_back(shell: PipeShell, line: str,
                                                         message: str) -> None:
    seen = shell.run(line)
    lines = [text for text in seen.split("\n") if text.strip()]
    assert message in lines[-2], seen
    assert lines[-1].startswith("Site > ") and len(lines) == 3, seen


def test_arguments_are_quoted_and_keywords_named(shell: PipeShell) -> None:
    assert "hi big world\n" in shell.run("hello 'big world' greeting=hi")
    assert "hello name=x\n" in shell.run("hello 'name=x'")


def test_hosts_output_is_prefixed_and_results_printed(shell: PipeShell) -> None:
    seen = shell.run("Live uptime")
    assert "local1: up\n" in seen and "local2: up\n" in seen
    assert "local1: oops\n" in seen  # stderr too, with its host
    assert "local1: up\nlocal2: up\n" in seen.replace("local2: up\nlocal1: up", "local1: up"
                                                      "\nlocal2: up")


def test_an_array_action_shows_a_table_at_the_end(shell: PipeShell) -> None:
    seen = shell.run("Web slow 1")
    assert "local1: tick 1" in seen and "local2: tick 1" in seen
    assert re.search(r"local1 +done +\d+\.\ds +tick 1", seen)
    assert "2 hosts: 2 done" in seen
    assert "Site.Web[local1]: slept\nSite.Web[local2]: slept\n" in seen


def test_ctrl_c_stops_the_action_on_every_host(shell: PipeShell) -> None:
    shell.type("Web slow 60")
    shell.wait_for("local1: pid ")
    seen = shell.wait_for("local2: pid ")
    pids = [int(p) for p in re.findall(r"local\d: pid (\d+)", seen)]
    assert len(pids) == 2 and all(is_running(pid) for pid in pids)
    shell.keys("\x03")
    seen = shell.wait_prompt()
    assert "interrupted: Site.Web.slow (stopped on every host)" in seen
    assert "2 hosts: 2 interrupted" in seen
    assert all(wait_gone(pid) for pid in pids)
    assert "hello world" in shell.run("hello")  # and the shell goes on


def test_a_question_is_asked_in_the_shell(shell: PipeShell) -> None:
    shell.type("ask")
    shell.wait_for("Really? [y/n]")
    shell.type("y")
    assert "yes!" in shell.wait_prompt()


def test_retry_skip_abort_after_a_failed_command(shell: PipeShell) -> None:
    shell.type("Web fail")
    shell.wait_for("failed with status 1. Continue?")
    shell.type("3")  # skip, in the first isolation that asks
    shell.wait_for("failed with status 1. Continue?")
    shell.type("1")  # abort, in the other
    seen = shell.wait_prompt()
    table = dict(re.findall(r"\n(local\d) +(done|failed) ", seen))
    assert sorted(table.values()) == ["done", "failed"], seen
    failed = next(host for host, status in table.items() if status == "failed")
    assert f"Site.Web[{failed}]: {failed}: command exited with status 1: false" in seen


def test_sandbox_runs_nothing(shell: PipeShell, tmp_path: Path) -> None:
    target = tmp_path / "made"
    seen = shell.run(f"sandbox touch {target}")
    assert "[sandbox] " in seen and "touch" in seen
    assert not target.exists()
    shell.run(f"touch {target}")
    assert target.exists()


def test_inspect_a_node_and_trace_a_query(shell: PipeShell) -> None:
    seen = shell.run("--inspect Web")
    assert "Site.Web" in seen and '"host"' in seen and "local1 (localhost)" in seen
    assert "slow" in seen and "fail" in seen
    seen = shell.run("--inspect next_port")
    assert "Q.port + 1" in seen or "port" in seen
    assert "\n      81\n" in seen and "\n      80\n" in seen


def test_a_returned_node_opens_a_subshell(shell: PipeShell) -> None:
    seen = shell.run("enter")
    assert "subshell on Live" in seen and "(subshell) Site.Live > " in seen
    assert "local1: up" in shell.run("uptime")
    assert "Site > " in shell.run("exit")


def test_help_version_find(shell: PipeShell) -> None:
    assert "--inspect [NODE...] [ATTRIBUTE]" in shell.run("help")
    assert "root node:" in shell.run("--version")
    seen = shell.run("find")
    assert "Live uptime\n" in seen and "Web slow\n" in seen and "hello\n" in seen


def test_the_default_action_and_run_on_every_host(shell: PipeShell) -> None:
    assert "live and well\n" in shell.run("Live")
    shell.run("cd Live")
    assert "live and well\n" in shell.run(".")
    shell.type("--run")
    seen = shell.wait_for("Enter command: ")
    assert "on 2 hosts:\n   - local1 (localhost)\n   - local2 (localhost)" in seen
    shell.type("echo from $0")
    seen = shell.wait_prompt()
    assert "local1: from /bin/sh" in seen and "local2: from /bin/sh" in seen


def test_source_code_of_a_node(shell: PipeShell) -> None:
    seen = shell.run("--source-code Web")
    assert "shell_site.py" in seen
    assert re.search(r"\d+ +class Web\(ParallelNode.Array\)", seen)
    assert re.search(r"\d+ +        def slow\(self", seen)


def test_prints_reach_the_session_and_passwords_are_not_echoed(shell: PipeShell) -> None:
    route_prints()  # again: pytest put its own capture back in sys.stdout since the shell did
    shell.type("chatty")
    shell.wait_for("Password: ")
    # The print and the question reach the screen by two paths: either may come first.
    assert "printed by the action\n" in shell.wait_for("printed by the action\n")
    shell.type("hunter2")
    seen = shell.wait_prompt()
    assert "Password: *******" in seen and "hunter2" not in seen
