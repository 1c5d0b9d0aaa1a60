"""Finding and running the system tools the testbed needs (sshd, ssh-keygen, useradd).

Tools are looked up in the sbin directories before ``PATH``: ``sshd`` and ``useradd``
live in /usr/sbin, which an ordinary user's ``PATH`` often lacks. Every failure is a
one-line :class:`~shoal.errors.TestbedError` that names the package to install.

Imports nothing from shoal but :mod:`shoal.errors`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from shoal.errors import TestbedError

__all__ = ["find_sshd", "find_tool", "run_tool", "sshd_version"]

_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


def find_tool(name: str, package: str) -> str:
    """The absolute path of the program ``name``, from the sbin directories or ``PATH``.

    :param package: the Debian package that provides it, named in the error.
    :raises TestbedError: it is not installed.
    """
    search = os.pathsep.join([*_SBIN, os.environ.get("PATH", os.defpath)])
    found = shutil.which(name, path=search)
    if found is None:
        raise TestbedError(f"no {name} found: install {package} (apt-get install {package})")
    return os.path.abspath(found)


def find_sshd(sshd: str | None = None) -> str:
    """The absolute path of the sshd to run: ``sshd`` itself, or the one given.

    :param sshd: a path (``/opt/openssh/sbin/sshd``) or a program name to look up.
    :raises TestbedError: there is no such sshd.
    """
    if sshd is None:
        return find_tool("sshd", "openssh-server")
    found = shutil.which(sshd, path=os.pathsep.join([*_SBIN, os.environ.get("PATH", "")]))
    if found is None:
        raise TestbedError(f"no sshd found at {sshd}: install openssh-server "
                           "(apt-get install openssh-server) or give the path of an sshd")
    return os.path.abspath(found)


def run_tool(argv: list[str], what: str) -> str:
    """Run a system command to completion and return its output.

    :param what: what the command does, for the error (``"creating user shoal-test"``).
    :raises TestbedError: it exited non-zero; the message ends with the first line it
        printed.
    """
    proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          check=False)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        detail = lines[0] if lines else f"exit status {proc.returncode}"
        raise TestbedError(f"{what} failed: {detail}")
    return proc.stdout


def sshd_version(sshd: str) -> tuple[int, int]:
    """The OpenSSH version of ``sshd`` as ``(major, minor)``; ``(0, 0)`` when unknown.

    ``sshd -V`` prints it (OpenSSH 9.2 and later); older ones print it with their usage
    message, which the same pattern finds.
    """
    try:
        proc = subprocess.run([sshd, "-V"], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return (0, 0)
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", proc.stderr + proc.stdout)
    return (int(match[1]), int(match[2])) if match else (0, 0)
