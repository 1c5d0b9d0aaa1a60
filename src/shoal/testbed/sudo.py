"""The testbed's sudo rule: its login account may run a few harmless commands as root.

Deployment tests check ``sudo`` with a password, so when run by root for the dedicated
account (``shoal-test``), :func:`install` gives that account a password and adds a rule in
``/etc/sudoers.d`` that lets it run only the commands of :data:`COMMANDS`, as root or as
``nobody``, each time after typing that password (never cached, never full root)::

    shoal-test ALL=(root, nobody) /usr/bin/id -u, /usr/bin/whoami "", /usr/bin/sleep 60

The password is made once per machine with :mod:`secrets` and kept in
:data:`PASSWORD_FILE` (root only, mode 0600), so testbeds started side by side agree on
it; ``chpasswd`` reads it from its stdin, never from a command line. Tests read it with
:func:`password`. Each testbed has its own rule file, named after its directory, which
:func:`remove` deletes when the testbed stops, so stopping one testbed leaves the rule of
another running beside it; :func:`install` also removes the rules of testbeds that are
gone without stopping (their sshd no longer runs). The rule is checked with
``visudo -cf`` before it is put in place (mode 0440, written under a name sudo skips,
then renamed).

Imports nothing from shoal but :mod:`shoal.errors` and :mod:`shoal.testbed`'s own modules.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import subprocess
from pathlib import Path

from shoal.errors import TestbedError
from shoal.testbed.config import SSHD_CONFIG, STATE_FILE
from shoal.testbed.tools import find_tool, run_tool
from shoal.testbed.user import LOGIN_USER

__all__ = ["COMMANDS", "PASSWORD_FILE", "RUN_AS", "SUDOERS_DIR", "install", "password",
           "remove", "rule_path"]

SUDOERS_DIR = Path("/etc/sudoers.d")
#: Where the login account's password is kept (root only).
PASSWORD_FILE = Path("/var/lib/shoal-testbed/sudo-password")
#: The users the rule lets the account run commands as.
RUN_AS = ("root", "nobody")
#: The commands it may run as them: the program, then its exact arguments.
COMMANDS = (("id", "-u"), ("whoami", '""'), ("sleep", "60"))  # "": no arguments


def rule_path(directory: Path) -> Path:
    """The rule file of the testbed kept in ``directory`` (no dot: sudo reads it)."""
    digest = hashlib.sha256(os.fsencode(Path(os.path.abspath(directory)))).hexdigest()
    return SUDOERS_DIR / f"shoal-testbed-{digest[:16]}"


def password() -> str:
    """The login account's password, which the testbed's sudo rule asks for.

    :raises TestbedError: there is none: the rule is only made by a testbed run as root
        for its dedicated account.
    """
    try:
        return PASSWORD_FILE.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise TestbedError(f"no sudo password for {LOGIN_USER} ({PASSWORD_FILE}: "
                           f"{exc.strerror}): start the testbed as root, with its own "
                           "login account") from exc


def install(directory: Path, user: str) -> Path | None:
    """Give the account ``user`` of the testbed in ``directory`` its password and sudo rule;
    None when that is not for us to do.

    Only root may, and only for the dedicated account: another account's password is
    never touched.

    :raises TestbedError: sudo is not installed, or ``chpasswd`` or ``visudo`` failed.
    """
    if os.geteuid() != 0 or user != LOGIN_USER:
        return None
    visudo = find_tool("visudo", "sudo")
    _set_password(user, _machine_password())
    commands = ", ".join(" ".join((find_tool(name, "coreutils"), *args))
                         for name, *args in COMMANDS)
    text = (f"# shoal testbed in {os.path.abspath(directory)}: {user} may run these, with "
            f"its password.\n"
            f"Defaults:{user} timestamp_timeout=0, !lecture, !mail_badpass\n"
            f"{user} ALL=({', '.join(RUN_AS)}) {commands}\n")
    path = rule_path(directory)
    _remove_stale(path)
    draft = path.with_name(f"{path.name}.new")  # a name with a dot: sudo skips it
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o440)
    try:
        os.fchmod(fd, 0o440)
        os.write(fd, text.encode())
    finally:
        os.close(fd)
    try:
        run_tool([visudo, "-cf", str(draft)], f"checking the sudo rule {draft}")
        os.replace(draft, path)
    finally:
        draft.unlink(missing_ok=True)
    return path


def remove(directory: Path) -> None:
    """Remove the sudo rule of the testbed kept in ``directory``, if it has one."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        rule_path(directory).unlink()


def _remove_stale(keep: Path) -> None:
    """Remove the rules of testbeds that died without stopping (a killed test run)."""
    for rule in SUDOERS_DIR.glob("shoal-testbed-*"):
        if rule == keep or "." in rule.name:
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            first = rule.read_text().splitlines()[0]
            found = re.fullmatch(r"# shoal testbed in (\S+): .*", first)
            if found is None:
                continue
            directory = Path(found[1])
            state = json.loads((directory / STATE_FILE).read_text()) \
                if (directory / STATE_FILE).is_file() else {}
            if f"{directory}/{SSHD_CONFIG}".encode() not in _command_line(state.get("pid")):
                rule.unlink()


def _command_line(pid: object) -> bytes:
    """The command line of the process ``pid``; empty when there is none."""
    if not isinstance(pid, int):
        return b""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _machine_password() -> str:
    """The password in :data:`PASSWORD_FILE`, made the first time (by one testbed only)."""
    if PASSWORD_FILE.is_file():
        return password()
    PASSWORD_FILE.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    draft = PASSWORD_FILE.with_name(f".{PASSWORD_FILE.name}.{secrets.token_hex(8)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, f"{secrets.token_urlsafe(18)}\n".encode("ascii"))
    finally:
        os.close(fd)
    try:
        os.link(draft, PASSWORD_FILE)  # fails if another testbed made one first: use that
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return password()


def _set_password(user: str, secret: str) -> None:
    """Set ``user``'s password with ``chpasswd``, which reads it on its stdin."""
    proc = subprocess.run([find_tool("chpasswd", "passwd")], input=f"{user}:{secret}\n",
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise TestbedError(f"setting the password of {user} failed: "
                           f"{lines[0] if lines else f'exit status {proc.returncode}'}")
