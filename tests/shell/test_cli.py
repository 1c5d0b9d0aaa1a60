"""``shoal deploy`` and a script's ``start()`` with the shell's options: bad input is one
line and exit status 2; listing and attaching to served shells."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import shoal

SCRIPT = """
from support.shell_site import Site

root = Site

if __name__ == "__main__":
    from shoal.deploy.client import start
    start(Site)
"""

TESTS = str(Path(__file__).resolve().parents[1])


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "site.py"
    path.write_text(f"import sys\nsys.path.insert(0, {TESTS!r})\n" + SCRIPT)
    return path


@pytest.mark.parametrize(("args", "message"), [
    pytest.param(["--authorized-keys", "k"], "--authorized-keys goes with --listen ssh://",
                 id="keys-without-ssh"),
    pytest.param(["--bind-any"], "--bind-any goes with --listen URL", id="bind-any-alone"),
    pytest.param(["--listen", "telnet://0.0.0.0:2323"], "0.0.0.0 is not a loopback address; "
                 "add --bind-any", id="network-without-bind-any"),
    pytest.param(["--listen", "ssh://127.0.0.1:0"], "an SSH listener needs --authorized-keys",
                 id="ssh-without-keys"),
    pytest.param(["--listen", "ftp://127.0.0.1:21"], "expected ssh://HOST:PORT", id="scheme"),
    pytest.param(["--attach", "somewhere"], "--attach 'somewhere': expected unix:PATH",
                 id="attach-not-unix"),
    pytest.param(["--panes"], "--panes needs tmux", id="panes-outside-tmux"),
    pytest.param(["one", "two"], "'one': arguments need --run", id="args-without-run"),
    pytest.param([], "the deployment shell needs a terminal", id="no-terminal"),
])
def test_bad_shell_options_are_one_line_and_exit_2(script: Path, args: list[str],
                                                   message: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TMUX", raising=False)
    outcome = shoal("deploy", str(script), *args)
    err = outcome.err.decode()
    assert (outcome.status, err.count("\n")) == (2, 1), err
    assert message in err and "Traceback" not in err


def test_attach_without_a_server_and_no_file(tmp_path: Path) -> None:
    outcome = shoal("deploy", "--attach", f"unix:{tmp_path}/none.sock")
    assert outcome.status == 2
    assert outcome.err.decode() == (f"shoal: --attach unix:{tmp_path}/none.sock: "
                                    "No such file or directory\n")
    outcome = shoal("deploy")
    assert (outcome.status, outcome.err.decode()) == (
        2, "shoal: shoal deploy: give FILE, the deployment script\n")


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment whose sessions folder is the test's own."""
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return dict(os.environ)


def wait_line(process: subprocess.Popen[str], pattern: str) -> str:
    """The first line of the process's stdout that matches ``pattern``."""
    assert process.stdout is not None
    for line in process.stdout:
        if re.search(pattern, line):
            return line
    raise AssertionError(f"{pattern!r} never printed; status {process.wait()}")


def test_listen_list_sessions_and_the_telnet_server(script: Path,
                                                    runtime: dict[str, str]) -> None:
    """python-deployer's commands: ``listen`` on the first free socket, ``list-sessions``,
    ``telnet-server`` on loopback with a token."""
    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, str(script), *args], env=runtime,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)

    listening = [start("listen"), start("telnet-server", "--port", "0")]
    try:
        line = wait_line(listening[0], r"serving the deployment shell on unix:")
        socket = Path(line.split("unix:")[1].split()[0])
        assert socket.name == "0.sock" and socket.stat().st_mode & 0o777 == 0o600
        assert oct(socket.parent.stat().st_mode & 0o777) == "0o700"
        wait_line(listening[1], r"serving the deployment shell on telnet://127\.0\.0\.1:\d+")
        assert re.fullmatch(r"telnet token: \S{20,}\n", wait_line(listening[1], "token"))
        listed = subprocess.run([sys.executable, str(script), "list-sessions"], env=runtime,
                                capture_output=True, text=True, timeout=60)
        assert listed.stdout == f"{socket}\n"
        assert shoal("deploy", "--sessions").out.decode() == f"{socket}\n"  # the same
    finally:
        for process in listening:
            process.terminate()
            process.wait(timeout=30)
            assert process.stderr is not None
            process.stderr.close()
            assert process.stdout is not None
            process.stdout.close()
    assert not socket.exists()  # the server removed it as it stopped
