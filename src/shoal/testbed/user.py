"""The account the testbed logs in as, and whether it can read the testbed's files.

Run by root, the testbed logs in as a dedicated system user, ``shoal-test``, created on
first use with empty shell start-up files: root's own start-up files are slow on some
machines, and every remote command would pay for them. Run by anyone else, sshd runs
unprivileged and can only log that same user in.

Imports nothing from shoal but :mod:`shoal.errors` and :mod:`shoal.testbed.tools`.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from shoal.errors import TestbedError
from shoal.testbed.tools import find_tool, run_tool

__all__ = ["LOGIN_USER", "can_read", "login_user"]

#: The account the testbed logs in as when run by root.
LOGIN_USER = "shoal-test"
_HOME = Path("/var/lib") / LOGIN_USER
_STARTUP_FILES = (".profile", ".bashrc", ".bash_logout")


def _password_field(name: str, entry: pwd.struct_passwd) -> str:
    """The account's password field: from /etc/shadow when there is one (we are root)."""
    try:
        with open("/etc/shadow", encoding="utf-8") as shadow:
            for line in shadow:
                fields = line.split(":")
                if fields[0] == name and len(fields) > 1:
                    return fields[1]
    except OSError:
        pass
    return entry.pw_passwd


def _ensure_dedicated_user() -> pwd.struct_passwd:
    """Create ``shoal-test`` if missing, unlock it for key logins, empty its start-up files."""
    try:
        entry = pwd.getpwnam(LOGIN_USER)
    except KeyError:
        try:
            run_tool([find_tool("useradd", "passwd"), "--system", "--user-group",
                      "--create-home", "--home-dir", str(_HOME), "--shell", "/bin/sh",
                      LOGIN_USER], f"creating user {LOGIN_USER}")
        except TestbedError:
            # Another testbed starting at the same moment may have created it first.
            if LOGIN_USER not in {e.pw_name for e in pwd.getpwall()}:
                raise
        entry = pwd.getpwnam(LOGIN_USER)
    # A new account is locked ("!"); with PAM off, sshd refuses a locked account even a
    # key login. "*" means "no password" without locking it.
    if _password_field(LOGIN_USER, entry).startswith("!"):
        run_tool([find_tool("usermod", "passwd"), "-p", "*", LOGIN_USER],
                 f"unlocking user {LOGIN_USER}")
    home = Path(entry.pw_dir)
    home.mkdir(mode=0o755, parents=True, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    for name in _STARTUP_FILES:
        path = home / name
        if path.is_symlink() or not path.exists() or path.stat().st_size:
            path.unlink(missing_ok=True)
            path.write_text("")
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return entry


def login_user(name: str | None = None) -> pwd.struct_passwd:
    """The account the testbed will log in as, made ready for key logins.

    :param name: the account to use; by default ``shoal-test`` when run by root (created
        if missing, with empty ``.profile``, ``.bashrc`` and ``.bash_logout``), else the
        current user.
    :raises TestbedError: the account does not exist or cannot be used: an unprivileged
        sshd can only log its own user in.
    """
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid())
        if name not in (None, me.pw_name):
            raise TestbedError(f'cannot log in as "{name}" without root: an unprivileged '
                               f"sshd only accepts its own user ({me.pw_name})")
        return me
    if name in (None, LOGIN_USER):
        return _ensure_dedicated_user()
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise TestbedError(f'no user "{name}" on this machine: create it, or leave user '
                           f"unset to use {LOGIN_USER}") from None


def _can(entry: pwd.struct_passwd, groups: set[int], st: os.stat_result, bits: int) -> bool:
    """Whether ``entry`` has the permission ``bits`` (r=4, x=1) on a file with ``st``."""
    if entry.pw_uid == 0:
        return True
    if st.st_uid == entry.pw_uid:
        return bool(st.st_mode & (bits << 6))
    if st.st_gid in groups:
        return bool(st.st_mode & (bits << 3))
    return bool(st.st_mode & bits)


def can_read(path: Path, entry: pwd.struct_passwd) -> bool:
    """Whether the account ``entry`` can read ``path``: every directory on the way open to it.

    sshd opens an ``AuthorizedKeysFile`` as the user logging in, so a testbed directory
    under a 0700 one (pytest's ``tmp_path``) is out of its reach.
    """
    groups = set(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return all(_can(entry, groups, d.stat(), 1) for d in path.parents) and \
        _can(entry, groups, path.stat(), 4)
