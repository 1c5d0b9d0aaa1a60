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
import stat
from pathlib import Path

from shoal.errors import TestbedError
from shoal.testbed.tools import find_tool, run_tool

__all__ = ["LOGIN_USER", "can_read", "ensure_dedicated_user", "login_user",
           "remove_dedicated_user"]

#: The account the testbed logs in as when run by root.
LOGIN_USER = "shoal-test"
_HOMES = Path("/var/lib")
#: In a dedicated account's home: the testbed created the account, so may remove it.
_MARKER = ".shoal-testbed"
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


def ensure_dedicated_user(name: str = LOGIN_USER) -> pwd.struct_passwd:
    """Create the account ``name`` for testbed logins if missing, and make it ready.

    A new account is a system user with its home in ``/var/lib/NAME`` and a marker file
    there (``.shoal-testbed``) that lets :func:`remove_dedicated_user` know the testbed
    made it. Every time: unlocked for key logins, its shell start-up files empty. Files in
    the home are written through a directory descriptor and never through a symbolic
    link, so a link planted there cannot make root write elsewhere.

    :raises TestbedError: the account cannot be created, or its home is not a directory.
    """
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        try:
            run_tool([find_tool("useradd", "passwd"), "--system", "--user-group",
                      "--create-home", "--home-dir", str(_HOMES / name), "--shell", "/bin/sh",
                      name], f"creating user {name}")
        except TestbedError:
            # Another testbed starting at the same moment may have created it first.
            if name not in {e.pw_name for e in pwd.getpwall()}:
                raise
        entry = pwd.getpwnam(name)
        created = True
    else:
        created = False
    # A new account is locked ("!"); with PAM off, sshd refuses a locked account even a
    # key login. "*" means "no password" without locking it.
    if _password_field(name, entry).startswith("!"):
        run_tool([find_tool("usermod", "passwd"), "-p", "*", name], f"unlocking user {name}")
    home = Path(entry.pw_dir)
    home.mkdir(mode=0o755, parents=True, exist_ok=True)
    try:
        folder = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        raise TestbedError(f"home of user {name}, {home}, is not a directory: "
                           f"{exc.strerror}") from exc
    try:
        os.fchown(folder, entry.pw_uid, entry.pw_gid)
        for file in (*_STARTUP_FILES, *([_MARKER] if created else [])):
            _empty_file(folder, file, entry)
    finally:
        os.close(folder)
    return entry


def _empty_file(folder: int, name: str, entry: pwd.struct_passwd) -> None:
    """Make ``name`` in the directory ``folder`` an empty regular file owned by ``entry``."""
    try:
        st = os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISREG(st.st_mode) and st.st_size == 0 \
            and st.st_uid == entry.pw_uid:
        return
    if st is not None:
        os.unlink(name, dir_fd=folder)
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644,
                     dir_fd=folder)
    except FileExistsError:  # another testbed starting now made it first
        return
    try:
        os.fchown(fd, entry.pw_uid, entry.pw_gid)
    finally:
        os.close(fd)


def remove_dedicated_user(name: str = LOGIN_USER) -> bool:
    """Remove the account ``name`` and its home, if the testbed made it; False if absent.

    :raises TestbedError: the account was not made by the testbed (no marker file in its
        home), or ``userdel`` failed (for instance while a login of it is still running).
    """
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return False
    home = Path(entry.pw_dir)
    if not (home / _MARKER).is_file() and not (
            name == LOGIN_USER and home == _HOMES / LOGIN_USER):
        raise TestbedError(f"user {name} was not created by the testbed (no {home / _MARKER}): "
                           "not removing it")
    run_tool([find_tool("userdel", "passwd"), "--remove", name], f"removing user {name}")
    return True


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
        return ensure_dedicated_user()
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
