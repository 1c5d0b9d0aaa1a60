"""The command lines hosts build: context, quoting, sudo, the sandbox check."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from shoal.deploy.host.commands import SudoPlan, is_simple, sandbox_check, sudo_plan, wrap
from shoal.deploy.host.context import ContextState


def sh(line: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", line], cwd=cwd, capture_output=True, text=True,
                          check=False)


def test_the_directory_is_quoted_so_a_hostile_name_runs_nothing(tmp_path: Path) -> None:
    # python-deployer wrote `cd <path>` bare: this name would have run `touch pwned`.
    hostile = tmp_path / "a; touch pwned; b"
    hostile.mkdir()
    proc = sh(wrap("pwd", str(hostile), ContextState()), tmp_path)
    assert proc.returncode == 0
    assert proc.stdout == f"{hostile}\n"
    assert not (tmp_path / "pwned").exists()


def test_variables_are_quoted_unless_asked_not_to(tmp_path: Path) -> None:
    state = ContextState(env=(("A", shlex.quote("$(touch pwned) 'x'")), ("B", "$A-raw")))
    proc = sh(wrap('printf "%s|%s" "$A" "$B"', str(tmp_path), state), tmp_path)
    assert proc.stdout == "$(touch pwned) 'x'|$(touch pwned) 'x'-raw"
    assert not (tmp_path / "pwned").exists()


def test_prefixes_come_first_and_the_command_keeps_its_own_operators(tmp_path: Path) -> None:
    state = ContextState(prefixes=("X=1", "export X"))
    proc = sh(wrap("false || echo $X", str(tmp_path), state, term="vt100"), tmp_path)
    assert (proc.returncode, proc.stdout) == (0, "1\n")
    assert wrap("ls", "/", ContextState(), term="vt100").startswith("cd / && export TERM=vt100")
    assert "TERM" not in wrap("ls", "/", ContextState())


@pytest.mark.parametrize(("command", "simple"), [
    pytest.param("id -u", True, id="words"),
    pytest.param("/usr/bin/whoami", True, id="path"),
    pytest.param("service nginx reload", True, id="three-words"),
    pytest.param("id -u && whoami", False, id="chain"),
    pytest.param("echo 'quoted'", False, id="quotes"),
    pytest.param("echo $HOME", False, id="expansion"),
    pytest.param("ls > out", False, id="redirection"),
    pytest.param("A=1 env", False, id="assignment"),
    pytest.param("echo a\nrm b", False, id="newline"),
])
def test_simple_commands(command: str, simple: bool) -> None:
    assert is_simple(command) is simple


def test_sudo_runs_simple_commands_directly_and_the_rest_in_a_shell() -> None:
    plan = SudoPlan("P: ", "nobody")
    assert plan.command("id -u") == "sudo -S -p 'P: ' -u nobody -- id -u"
    inner = "cd /x && echo 'a b'"
    words = shlex.split(SudoPlan("P: ").command(inner))
    assert words == ["sudo", "-S", "-p", "P: ", "--", "sh", "-c", inner]


def test_under_sudo_the_prefixes_go_with_the_command() -> None:
    line = wrap("whoami", "/srv", ContextState(prefixes=("umask 022",), env=(("A", "1"),)),
                sudo=SudoPlan("P: "))
    assert line == "cd /srv && export A=1 && (sudo -S -p 'P: ' -- sh -c 'umask 022 && whoami')"


def test_each_sudo_prompt_is_new_and_holds_no_password() -> None:
    prompts = {sudo_plan().prompt for _ in range(20)}
    assert len(prompts) == 20
    assert all(p.startswith("[sudo] password (shoal ") for p in prompts)


def test_the_sandbox_check_parses_and_runs_nothing(tmp_path: Path) -> None:
    state = ContextState(prefixes=("touch prefix-ran",), env=(("A", "'1'"),))
    good = sh(sandbox_check("touch command-ran", str(tmp_path), state), tmp_path)
    bad = sh(sandbox_check("if then fi (", str(tmp_path), state), tmp_path)
    assert good.returncode == 0
    assert bad.returncode != 0 and "syntax error" in bad.stderr.lower()
    assert list(tmp_path.iterdir()) == []
    assert "sudo" not in sandbox_check("id -u", "/", ContextState())
