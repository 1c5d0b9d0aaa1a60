"""The command lines a host sends: its context, sudo, and the sandbox's syntax check.

python-deployer's ``Host._wrap_command`` with the unsafe parts fixed::

    cd /srv/app && export TERM=xterm && export A='1' && (. env/bin/activate && ./migrate)
    cd /srv/app && (sudo -S -p '[sudo] password (shoal 3f…): ' -- sh -c '. env/bin && ./m')
    cd /srv/app && (sudo -S -p '[sudo] password (shoal 3f…): ' -u postgres -- id -u)

* The ``cd`` path and ``TERM`` are quoted (python-deployer left the path bare so that
  ``*`` would glob; a path with a blank or a ``;`` then broke the command or ran more).
* sudo reads the password from the channel (``-S``) when its prompt appears; the
  password is never on the command line (python-deployer's non-interactive form was
  ``echo 'PASSWORD' | sudo -S …``). The prompt carries a random token, new for every
  command, so that output of a program cannot pass for it.
* Under sudo, a compound command runs in ``sh -c`` as a whole (python-deployer ran only
  the first part of an ``&&`` chain under sudo in its non-interactive form); a simple
  command (words without shell syntax) runs directly, so that sudoers rules naming
  exact commands (``/usr/bin/id -u``) allow it.
* The sandbox checks the syntax with ``sh -n`` as the login user, nothing else.

Pure: no I/O. Imports nothing from shoal but :mod:`shoal.deploy.host.context`.
"""

from __future__ import annotations

import re
import secrets
import shlex
from dataclasses import dataclass

from shoal.deploy.host.context import ContextState

__all__ = ["SudoPlan", "is_simple", "sandbox_check", "sudo_plan", "wrap"]

#: Words that need no quoting and hold no shell syntax.
_WORD = r"[A-Za-z0-9_./@%+=:,-]+"
_SIMPLE = re.compile(rf"{_WORD}(?:[ \t]+{_WORD})*")


def is_simple(command: str) -> bool:
    """Whether ``command`` is plain words: no quotes, operators, expansions or assignments.

    >>> is_simple("id -u"), is_simple("service nginx reload")
    (True, True)
    >>> is_simple("id -u && whoami"), is_simple("echo $HOME"), is_simple("A=1 env")
    (False, False, False)
    """
    command = command.strip()
    return bool(_SIMPLE.fullmatch(command)) and "=" not in command.split()[0]


@dataclass(frozen=True)
class SudoPlan:
    """How one command runs under sudo: the prompt sudo will print, the user to run as."""

    prompt: str
    user: str | None = None

    def command(self, command: str) -> str:
        """``command`` under ``sudo -S``, run directly when simple, else through ``sh -c``.

        >>> SudoPlan("P: ", "postgres").command("id -u")
        "sudo -S -p 'P: ' -u postgres -- id -u"
        >>> SudoPlan("P: ").command("cd /x && ls")
        "sudo -S -p 'P: ' -- sh -c 'cd /x && ls'"
        """
        user = f" -u {shlex.quote(self.user)}" if self.user is not None else ""
        argv = command.strip() if is_simple(command) else f"sh -c {shlex.quote(command)}"
        return f"sudo -S -p {shlex.quote(self.prompt)}{user} -- {argv}"


def sudo_plan(user: str | None = None) -> SudoPlan:
    """A plan with a fresh prompt: ``[sudo] password (shoal TOKEN):`` with a random token.

    >>> plan = sudo_plan()
    >>> plan.prompt.startswith("[sudo] password (shoal ") and plan.prompt.endswith("): ")
    True
    """
    return SudoPlan(f"[sudo] password (shoal {secrets.token_hex(8)}): ", user)


def wrap(command: str, cwd: str | None, state: ContextState, term: str = "",
         sudo: SudoPlan | None = None) -> str:
    """The line that runs ``command`` in ``cwd`` with the context ``state``.

    ``cwd`` None: where the command starts anyway (no ``cd``).

    ``command`` is run after the context's prefixes (``&&``), in parentheses so that its
    own ``||`` binds as written; under ``sudo`` the prefixes run under sudo too, while
    the ``cd`` and the variables stay outside (sudo resets the environment, as it did
    for python-deployer).

    >>> wrap("ls", "/srv/my app", ContextState(prefixes=("umask 022",), env=(("A", "'1'"),)),
    ...      term="xterm")
    "cd '/srv/my app' && export TERM=xterm && export A='1' && (umask 022 && ls)"
    >>> wrap("ls", None, ContextState())
    '(ls)'
    """
    parts = [f"cd {shlex.quote(cwd)}"] if cwd is not None else []
    if term:
        parts.append(f"export TERM={shlex.quote(term)}")
    parts.extend(f"export {name}={word}" for name, word in state.env)
    inner = " && ".join((*state.prefixes, command))
    parts.append(f"({sudo.command(inner) if sudo is not None else inner})")
    return " && ".join(parts)


def sandbox_check(command: str, cwd: str | None, state: ContextState, term: str = "") -> str:
    """The sandbox's stand-in for :func:`wrap`: ``sh -n`` checks the line, runs nothing.

    The check runs as the login user, never under sudo.

    >>> sandbox_check("rm -rf build", "/srv", ContextState())
    "sh -n -c 'cd /srv && (rm -rf build)'"
    """
    return f"sh -n -c {shlex.quote(wrap(command, cwd, state, term))}"
