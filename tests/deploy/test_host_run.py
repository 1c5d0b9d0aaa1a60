"""Host.run on an SSHHost (a testbed alias) and on LocalHost: output, failures, context,
input, sandbox, and the two faces (blocking and ``_async``)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support.deploy_hosts import node_class
from support.files import writable_folder

from shoal import _loop
from shoal.deploy.exceptions import ExecCommandFailed
from shoal.deploy.host import NOT_SURE_IN_SANDBOX, Host, LocalHost, SSHHost
from shoal.deploy.pseudo_terminal import DummyPty

MakeHost = Callable[..., Host]


@pytest.fixture(params=["ssh", "local"])
def make_host(request: pytest.FixtureRequest) -> MakeHost:
    """Builds a host of a class of its own: a testbed node, or this machine."""
    def make(**attributes: Any) -> Host:
        if request.param == "ssh":
            cls: type[Host] = node_class(request.getfixturevalue("testbed"), **attributes)
        else:
            cls = type("Here", (LocalHost,), {"slug": "here", **attributes})
        return cls(pty=DummyPty())
    return make


def output(host: Host) -> str:
    assert isinstance(host.pty, DummyPty)
    return host.pty.get_output()


def test_stdout_is_returned_and_both_streams_shown(make_host: MakeHost) -> None:
    host = make_host()
    assert host.run("echo out; echo err >&2; printf 'no newline'") == "out\nno newline"
    assert output(host) == "out\n[stderr] err\nno newline\n"


def test_without_interactive_only_stderr_is_shown(make_host: MakeHost) -> None:
    host = make_host()
    assert host.run("echo out; echo err >&2", interactive=False) == "out\n"
    assert output(host) == "[stderr] err\n"


def test_silent_shows_nothing(make_host: MakeHost) -> None:
    host = make_host()
    assert host.run("echo out; echo err >&2", silent=True) == "out\n"
    assert output(host) == ""


def test_a_failure_carries_command_host_sudo_status_and_output(make_host: MakeHost) -> None:
    host = make_host()
    with host.host_context.prefix("true"), pytest.raises(ExecCommandFailed) as caught:
        host.run("echo partial; exit 7")
    failed = caught.value
    assert (failed.command, failed.host, failed.use_sudo, failed.status_code, failed.result) == (
        "true && echo partial; exit 7", host, False, 7, "partial\n")
    assert str(failed) == f"{host.slug}: command exited with status 7: true && echo partial; exit 7"
    assert host.run("echo kept; exit 3", ignore_exit_status=True) == "kept\n"


def test_cd_env_and_prefix_apply_and_nest(make_host: MakeHost, shared_tmp_path: Path) -> None:
    spaced = shared_tmp_path / "with space; and more"
    (spaced / "sub").mkdir(parents=True)
    host = make_host()
    ctx = host.host_context
    with ctx.cd(str(spaced)), ctx.env("GREETING", "it's $HOME"), ctx.prefix("umask 077"):
        with ctx.cd("sub"), ctx.env("RAW", "$GREETING!", escape=False):
            got = host.run('pwd; printf "%s|%s|" "$GREETING" "$RAW"; umask')
        assert host.getcwd() == str(spaced)
    assert got == f"{spaced}/sub\nit's $HOME|it's $HOME!|0077\n"
    with ctx.cd("~", expand=True):
        assert host.run("pwd") == f"{host.get_home_directory()}\n"


def test_initial_input_is_the_commands_stdin_which_then_ends(make_host: MakeHost) -> None:
    host = make_host()
    assert host.run("cat; echo done", initial_input="one\ntwo\n") == "one\ntwo\ndone\n"
    assert host.run("cat; echo done") == "done\n"  # no input: it ends at once


def test_user_needs_sudo(make_host: MakeHost) -> None:
    with pytest.raises(ValueError, match="user='nobody' needs use_sudo=True"):
        make_host().run("id", user="nobody")


def test_the_sandbox_prints_checks_and_runs_nothing(make_host: MakeHost,
                                                    shared_tmp_path: Path) -> None:
    folder = writable_folder(shared_tmp_path, "w")
    host = make_host()
    with host.host_context.cd(str(folder)), host.host_context.env("A", "1"):
        assert host.run("touch ran", sandbox=True) == NOT_SURE_IN_SANDBOX
        assert host.sudo("touch ran-as-root", sandbox=True) == NOT_SURE_IN_SANDBOX
        with pytest.raises(ExecCommandFailed) as caught:
            host.run("if then", sandbox=True)
    assert list(folder.iterdir()) == []  # nothing ran on the host
    assert "syntax error" in (caught.value.result or "").lower()
    shown = output(host).splitlines()
    assert shown[0] == f"[sandbox] {host.slug}: cd {folder} && export A=1 && (touch ran)"
    assert shown[1].startswith(f"[sandbox] {host.slug}: cd {folder} && export A=1 && (sudo ")
    assert shown[1].endswith("-- touch ran-as-root)")


def test_async_twins_do_the_work_and_blocking_calls_on_the_loop_say_so(
        make_host: MakeHost) -> None:
    host = make_host()

    async def scenario() -> tuple[list[str], str]:
        both = await asyncio.gather(host.run_async("echo a"), host.sudo_async(
            "echo b", sandbox=True))
        try:
            host.run("echo c")
        except RuntimeError as exc:
            return list(both), str(exc)
        return list(both), "no error"

    results, error = _loop.run(scenario())
    assert results == ["a\n", NOT_SURE_IN_SANDBOX]
    assert error == "blocking shoal call made on shoal's own event loop: await " \
                    "Host.run_async instead"


@pytest.mark.parametrize("cls", [Host, SSHHost, LocalHost], ids=lambda c: c.__name__)
def test_every_blocking_method_has_an_async_twin_with_its_signature(cls: type[Host]) -> None:
    blocking = [name for name, _ in inspect.getmembers(cls, inspect.isfunction)
                if not name.startswith("_") and not name.endswith("_async")
                and name not in ("copy", "open", "connect_options")]  # no I/O in these
    assert {"run", "sudo", "exists", "stat", "put_file", "get_file"} <= set(blocking)
    for name in blocking:
        twin = getattr(cls, f"{name}_async")
        assert inspect.iscoroutinefunction(twin), name
        assert (inspect.signature(twin).parameters.keys()
                == inspect.signature(getattr(cls, name)).parameters.keys()), name


def test_an_interactive_shell_runs_the_command_given(make_host: MakeHost) -> None:
    host = make_host()
    assert host.start_interactive_shell("sh -c 'read a; echo got $a; exit 3'",
                                        initial_input="x\n") == 3
    assert output(host) == "got x\n"
    assert host.start_interactive_shell("touch x", sandbox=True) is None
    assert output(host).endswith("Interactive shell is not available in sandbox mode.\n")
