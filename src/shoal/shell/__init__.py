"""The interactive deployment shell and the servers that offer it remotely.

:func:`run_local` runs it on this terminal; :func:`serve` serves it over SSH, telnet or a
Unix socket; :class:`ShellSession` is one session, whatever its terminal. Above
:mod:`shoal.deploy`; below the command line.
"""

from __future__ import annotations

from shoal.shell.attach import attach, live_sessions
from shoal.shell.entry import open_shell
from shoal.shell.listen import Listen, parse_listen
from shoal.shell.main import run_local, serve
from shoal.shell.session import JobInterrupted, SessionOptions, ShellSession
from shoal.shell.ssh_server import serve_ssh
from shoal.shell.telnet_server import TokenTelnetServer, new_token
from shoal.shell.unix_server import UnixSession, private_socket_path, serve_unix
from shoal.shell.words import LineSyntaxError, Word, quote, split_line

__all__ = [
    # running the shell
    "JobInterrupted",
    "SessionOptions",
    "ShellSession",
    "open_shell",
    "run_local",
    "serve",
    # where and how it is served
    "Listen",
    "TokenTelnetServer",
    "UnixSession",
    "attach",
    "live_sessions",
    "new_token",
    "parse_listen",
    "private_socket_path",
    "serve_ssh",
    "serve_unix",
    # the words of a line
    "LineSyntaxError",
    "Word",
    "quote",
    "split_line",
]
