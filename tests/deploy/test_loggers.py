"""Loggers: the interface, the entries a run makes, and what DefaultLogger prints."""

from __future__ import annotations

import io

import pytest

from shoal.deploy.exceptions import ActionException, ExecCommandFailed
from shoal.deploy.host import LocalHost
from shoal.deploy.loggers import (
    DefaultLogger,
    FileEntry,
    ForkEntry,
    Logger,
    LoggerInterface,
    RunCallback,
    RunEntry,
)
from shoal.deploy.pseudo_terminal import DummyPty


class Local(LocalHost):
    slug = "local"


class Recording(Logger):
    def __init__(self) -> None:
        self.events: list[str] = []
        self.runs: list[RunEntry] = []

    def enter_group(self, func_name: str, *args: object, **kwargs: object) -> None:
        self.events.append(f"enter {func_name}")

    def leave_group(self) -> None:
        self.events.append("leave")

    def log_run(self, run_entry: RunEntry) -> RunCallback:
        self.runs.append(run_entry)
        self.events.append(f"run {run_entry.command}")
        return RunCallback(completed=lambda: self.events.append(
            f"done {run_entry.status_code}"))

    def log_msg(self, msg: str) -> None:
        self.events.append(f"msg {msg}")


def test_attached_loggers_hear_groups_runs_and_messages() -> None:
    interface, first, second = LoggerInterface(), Recording(), Recording()
    interface.attach(first)
    with interface.attach_in_block(second), interface.group("deploy", "v1"):
        interface.log_msg("hello")
    interface.log_msg("after")
    assert first.events == ["enter deploy", "msg hello", "leave", "msg after"]
    assert second.events == ["enter deploy", "msg hello", "leave"]
    interface.detach(first)
    interface.log_msg("nobody")
    assert first.events[-1] == "msg after"


def test_each_command_of_a_host_is_one_entry_with_status_and_duration() -> None:
    interface, recording = LoggerInterface(), Recording()
    interface.attach(recording)
    host = Local(pty=DummyPty(), logger=interface)
    with host.host_context.prefix("true"):
        host.run("echo hi")
    with pytest.raises(ExecCommandFailed):
        host.run("exit 4", interactive=False)
    host.run("echo quiet", silent=True)  # silent: not logged, as in python-deployer
    first, second = recording.runs
    assert (first.host, first.command, first.use_sudo, first.sandboxing, first.interactive) == (
        host, "true && echo hi", False, False, True)
    assert (first.status_code, first.succeeded) == (0, True)
    assert (second.status_code, second.succeeded, second.interactive) == (4, False, False)
    assert first.duration is not None and first.duration >= 0
    assert recording.events == ["run true && echo hi", "done 0", "run exit 4", "done 4"]


def test_default_logger_prints_the_slug_the_command_then_the_status() -> None:
    out = io.StringIO()
    interface = LoggerInterface()
    interface.attach(DefaultLogger(out))
    host = Local(pty=DummyPty(), logger=interface)
    with interface.group("deploy", "v1", fast=True):
        host.run("echo one")
    with pytest.raises(ExecCommandFailed):
        host.run("exit 3", sandbox=False)
    host.run("rm -rf /tmp/x", sandbox=True)
    lines = out.getvalue().splitlines()
    assert lines[0] == "deploy('v1', fast=True)"
    assert lines[1] == f"{'local':>20} echo one"
    assert lines[2].startswith(f"{'local':>20} SUCCESS in ")
    assert lines[3] == f"{'local':>20} exit 3"
    assert lines[4].startswith(f"{'local':>20} FAILED (status 3) in ")
    assert lines[5] == f"{'local':>20} (sandbox) rm -rf /tmp/x"
    assert "\x1b" not in out.getvalue()  # no colour when not a terminal


def test_default_logger_prints_files_forks_and_failures() -> None:
    out = io.StringIO()
    logger = DefaultLogger(out, print_group=False)
    interface = LoggerInterface()
    interface.attach(logger)
    with interface.log_file("h", mode="wb", remote_path="/etc/x", use_sudo=True) as entry:
        assert isinstance(entry, FileEntry)
        entry.complete(True)
    fork = interface.log_fork("web[1]")
    assert isinstance(fork, ForkEntry)
    forked = fork.get_logger_interface()
    with forked.log_run("h", command="id") as run:
        run.set_status_code(0)
    fork.set_succeeded()
    failed = ExecCommandFailed("false", Local(), False, 1, "")
    logger.log_exception(ActionException(failed, "traceback"))
    logger.log_exception(ActionException(ValueError("bad"), "Traceback: ValueError: bad\n"))
    text = out.getvalue()
    assert f"{'h':>20} (sudo) Opening file\n  Mode: wb\n  Remote path: /etc/x\n" in text
    assert f"{'h':>20} SUCCESS\nForking <web[1]>\n{'h':>20} id\n" in text
    assert "Command:     false\nHost:        local\nStatus code: 1\n" in text
    assert f"{'-' * 79}\nTraceback: ValueError: bad\n{'-' * 79}\n" in text
