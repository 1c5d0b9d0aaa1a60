"""``Host``: one machine a deployment acts on, as python-deployer's ``deployer.host.base``.

Hosts are declared as classes (``class Web1(SSHHost): address = 'web1'``) and made by
the framework, ``Host(pty=None, logger=None)``. Every method has an ``_async`` twin that
does the work (``run_async``…); the blocking method hands it to the event loop through
:func:`shoal.deploy._bridge.wait`, so it works from plain blocking code and side by side
in ParallelNode isolations alike. Commands and files go over the host class's one
connection (:mod:`shoal.deploy.host.connections`).

``run`` in short: the command is wrapped in the host's context
(:mod:`shoal.deploy.host.commands`), started, its output shown on the pty line by line
and told to the loggers, its stdout returned; a non-zero exit raises
:class:`~shoal.deploy.exceptions.ExecCommandFailed`. With ``interactive=True`` and a real
terminal behind the pty, the command gets a remote terminal of the same size and the
keystrokes; otherwise it has no terminal, its stdout is kept and its stderr shown
(python-deployer dropped it). ``use_sudo`` answers sudo's prompt on the channel
(:mod:`shoal.deploy.host.exchange`). ``sandbox`` prints what would run and only checks
its syntax on the host with ``sh -n``, as the login user (no sudo, no password sent);
what only reads stays real in a sandbox (``exists``, ``stat``, ``listdir``, ``open`` for
reading without sudo), while nothing is written (``open`` for writing, ``put_file``,
``get_file``).

Imports nothing from shoal but the deployment's own modules, :mod:`shoal.errors` and
:mod:`shoal.hosts`.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import posixpath
import re
import shlex
import stat as stat_module
import tempfile
import termios
import tty
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from shoal.deploy._bridge import wait
from shoal.deploy.exceptions import ConnectionFailedException, ExecCommandFailed
from shoal.deploy.host import connections
from shoal.deploy.host.commands import sandbox_check, sudo_plan, wrap
from shoal.deploy.host.context import HostContext
from shoal.deploy.host.exchange import Exchange
from shoal.deploy.host.files import RemoteFile, check_mode
from shoal.deploy.loggers.base import DummyLoggerInterface, LoggerInterface
from shoal.deploy.pseudo_terminal import DummyPty, Pty
from shoal.errors import ConnectError, CopyFailed
from shoal.hosts import FileStat, Terminal

if TYPE_CHECKING:
    from shoal.hosts import Connection, Process

__all__ = ["NOT_SURE_IN_SANDBOX", "Host", "HostContext", "Stat", "SudoPasswordError",
           "check_interface"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What ``run`` returns in sandbox mode, as python-deployer.
NOT_SURE_IN_SANDBOX = "<Not sure in sandbox>"

_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\$?")
_INTERFACE = re.compile(r"[A-Za-z0-9_.:@-]+")
_INET = re.compile(r"\binet (?:addr:)?(\d{1,3}(?:\.\d{1,3}){3})")


def check_interface(interface: str) -> str:
    """``interface`` if it is a network interface name.

    :raises ValueError: it is not (``get_ip_address("lo; reboot")``).
    """
    if not _INTERFACE.fullmatch(interface):
        raise ValueError(f'get_ip_address(): "{interface}" is not an interface name')
    return interface


class SudoPasswordError(ExecCommandFailed):
    """sudo refused the host's ``sudo_password``, or asked for one the host does not have.

    An :class:`~shoal.deploy.exceptions.ExecCommandFailed` (``use_sudo`` is True), raised
    even with ``ignore_exit_status``; the command itself never ran.
    """

    def __init__(self, command: str, host: Any, status_code: int, result: str,
                 reason: str) -> None:
        super().__init__(command, host, True, status_code, result)
        self.reason = reason
        self.args = (f"{getattr(host, 'slug', host)}: {reason} (command: {command})",)


class Stat:
    """What ``stat`` says about a file: ``st_size``, ``st_uid``, ``st_gid``, ``st_mode``,
    ``is_dir``, ``is_file``, and its ``filename``."""

    def __init__(self, stat_result: FileStat | os.stat_result, filename: str) -> None:
        self._stat_result = stat_result
        self.filename = filename

    @property
    def st_size(self) -> int:
        """Size in bytes."""
        return self._stat_result.st_size

    @property
    def st_uid(self) -> int:
        """Owner's user id."""
        return self._stat_result.st_uid

    @property
    def st_gid(self) -> int:
        """Group id."""
        return self._stat_result.st_gid

    @property
    def st_mode(self) -> int:
        """Type and permission bits."""
        return self._stat_result.st_mode

    @property
    def st_mtime(self) -> float:
        """Time of the last change of content."""
        return self._stat_result.st_mtime

    @property
    def is_dir(self) -> bool:
        """Whether it is a directory."""
        return stat_module.S_ISDIR(self.st_mode)

    @property
    def is_file(self) -> bool:
        """Whether it is a regular file."""
        return stat_module.S_ISREG(self.st_mode)

    def __repr__(self) -> str:
        return f"Stat({self.filename!r}, mode={self.st_mode:o}, size={self.st_size})"


class Host(abc.ABC):
    """A machine to run commands on; subclass :class:`SSHHost` or :class:`LocalHost`.

    :param pty: where output goes (:class:`~shoal.deploy.pseudo_terminal.DummyPty`, which
        keeps it, by default).
    :param logger: the loggers commands are reported to (none by default).

    ::

        class MyHost(SSHHost):
            slug = 'my-host'
            address = 'my-host.example.com'

        MyHost().run('uptime', interactive=False)
    """

    #: A unique name for the host: in logs, isolation names and the shell.
    slug = ""
    #: The user to log in as ("" : the ssh config's, else yours).
    username = ""
    #: python-deployer's one password, for sudo (shoal logs in by key or agent only).
    password = ""

    @property
    def sudo_password(self) -> str | None:
        """The password sudo asks for; ``password`` unless a subclass sets its own.

        None or "": sudo must not ask (a prompt fails the command with
        :class:`SudoPasswordError`, or is left to the user at a real terminal).
        """
        return self.password or None

    def __init__(self, pty: Pty | None = None, logger: LoggerInterface | None = None) -> None:
        # one context per host class: see shoal.deploy.host.context
        self.host_context = HostContext(key=type(self))
        self.pty = pty if pty is not None else DummyPty()
        self.logger = logger if logger is not None else DummyLoggerInterface()

    def copy(self, pty: Pty | None = None) -> Host:
        """A new host object of this class, with a context of its own that starts as this
        one's stands now (``pty``: bind it to another terminal)."""
        other = type(self)(pty=pty or self.pty, logger=self.logger)
        other.host_context = self.host_context.copy()
        return other

    def __repr__(self) -> str:
        return f"Host(slug={self.slug!r}, context={self.host_context!r})"

    # -- the connection ------------------------------------------------------------------

    @abc.abstractmethod
    async def _open_connection(self) -> Connection:
        """Open a connection to this host (the pool calls it once per host class).

        :raises ConnectionFailedException: it cannot be opened.
        """

    async def _link(self) -> connections.Link:
        return await connections.link(type(self), self._open_connection)

    async def _using(self, step: Callable[[Connection], Awaitable[T]]) -> T:
        """``step`` on the connection; if it was lost meanwhile, once more on a new one.

        For steps that may be repeated: reads, and writes that land whole or not at all.
        """
        for attempt in (1, 2):
            link = await self._link()
            try:
                return await step(link.connection)
            except ConnectError as exc:
                connections.forget(type(self), link)
                if attempt == 2:
                    raise ConnectionFailedException(str(exc)) from exc
        raise AssertionError("unreachable")

    async def _capture(self, line: str) -> tuple[int, str, str]:
        """Run ``line`` as it is (no context, no logging): status, stdout and stderr."""
        out, err = bytearray(), bytearray()

        async def step(connection: Connection) -> int:
            out.clear()
            err.clear()
            return await connection.run(line, stdout=out.extend, stderr=err.extend)

        status = await self._using(step)
        return (status, out.decode("utf-8", "surrogateescape"),
                err.decode("utf-8", "replace"))

    async def _start(self, line: str, exchange: Exchange,
                     terminal: Terminal | None) -> tuple[Process, connections.Link]:
        """Start ``line``, on a new connection if the kept one has been lost meanwhile."""
        for attempt in (1, 2):
            link = await self._link()
            try:
                return await link.connection.start(line, stdout=exchange.stdout,
                                                   stderr=exchange.stderr,
                                                   terminal=terminal), link
            except ConnectError as exc:
                connections.forget(type(self), link)
                if attempt == 2:
                    raise ConnectionFailedException(str(exc)) from exc
        raise AssertionError("unreachable")

    # -- commands ------------------------------------------------------------------------

    async def run_async(self, command: str, use_sudo: bool = False, sandbox: bool = False,
                        interactive: bool = True, user: str | None = None,
                        ignore_exit_status: bool = False, initial_input: str | None = None,
                        silent: bool = False) -> str:
        """Run the shell command ``command`` on the host; its stdout.

        :param use_sudo: run it as root (or ``user``) with sudo; the prompt is answered
            with ``sudo_password``.
        :param sandbox: run nothing: print what would run and check its syntax.
        :param interactive: give it a remote terminal and the keystrokes when the pty is
            a real terminal; otherwise, show its stdout as well as its stderr.
        :param user: with ``use_sudo``, the user to run it as (``sudo -u``).
        :param ignore_exit_status: return the output even when it exits non-zero.
        :param initial_input: written to its stdin first (without a terminal, its input
            then ends).
        :param silent: show nothing and log nothing.
        :raises ExecCommandFailed: it exited non-zero.
        :raises SudoPasswordError: sudo refused the password or wanted one.
        :raises ConnectionFailedException: the host cannot be reached.
        """
        return await self._run(command, use_sudo=use_sudo, sandbox=sandbox,
                               interactive=interactive, user=user,
                               ignore_exit_status=ignore_exit_status,
                               stdin=initial_input.encode() if initial_input else None,
                               silent=silent)

    async def _run(self, command: str, *, use_sudo: bool = False, sandbox: bool = False,
                   interactive: bool = True, user: str | None = None,
                   ignore_exit_status: bool = False, stdin: bytes | None = None,
                   silent: bool = False) -> str:
        if not isinstance(command, str):
            raise TypeError(f"run(): the command must be a str, not {type(command).__name__}")
        if user is not None and not use_sudo:
            raise ValueError(f"run(): user={user!r} needs use_sudo=True")
        logger = DummyLoggerInterface() if silent else self.logger
        pty = None if silent else self.pty
        state = self.host_context.state
        shown = " && ".join((*state.prefixes, command))
        cwd = await (self.getcwd_async() if sandbox else self._command_directory())
        term = self.pty.get_term_var()
        with logger.log_run(self, command=shown, use_sudo=use_sudo, sandboxing=sandbox,
                            interactive=interactive) as entry:
            if sandbox:
                if pty is not None:
                    plan = sudo_plan(user) if use_sudo else None
                    pty.write_line(self.slug, f"[sandbox] {self.slug}: "
                                              f"{wrap(command, cwd, state, term, plan)}")
                status, _, errors = await self._capture(sandbox_check(command, cwd, state,
                                                                      term))
                entry.set_status_code(status)
                if status and not ignore_exit_status:
                    raise ExecCommandFailed(shown, self, use_sudo, status, errors)
                return NOT_SURE_IN_SANDBOX
            terminal = self._terminal() if interactive and pty is not None else None
            plan = sudo_plan(user) if use_sudo else None
            exchange = Exchange(self.slug, pty, entry,
                                show_stdout=interactive, terminal=terminal is not None,
                                prompt=plan.prompt if plan is not None else None,
                                password=self.sudo_password, stdin=stdin)
            line = wrap(command, cwd, state, term, plan)
            log.debug("[host=%s] running: %s", self.slug, line)
            status, result = await self._converse(line, exchange, terminal)
            entry.set_status_code(status)
            if exchange.failure is not None:
                reason = ("sudo refused the password (sudo_password)"
                          if exchange.failure == "rejected" else
                          "sudo asked for a password, and the host has no sudo_password")
                raise SudoPasswordError(shown, self, status, result, reason)
            if status and not ignore_exit_status:
                raise ExecCommandFailed(shown, self, use_sudo, status, result)
        return result

    async def _converse(self, line: str, exchange: Exchange,
                        terminal: Terminal | None) -> tuple[int, str]:
        """Run ``line`` with ``exchange`` as its sinks until it ends; status and stdout.

        ``terminal``, from :meth:`_terminal`, is given back to the pty at the end.
        """
        try:
            process, link = await self._start(line, exchange, terminal)
            exchange.attach(process)
            try:
                with (self._keystrokes(process) if terminal is not None
                      else contextlib.nullcontext()):
                    status = await process.wait()
            except ConnectError as exc:
                connections.forget(type(self), link)
                raise ConnectionFailedException(str(exc)) from exc
            except BaseException:
                process.stop()
                raise
        finally:
            if terminal is not None:
                self.pty.terminal_in_use = False
        return status, exchange.finish()

    def _terminal(self, shell: bool = False) -> Terminal | None:
        """The remote terminal to give a command: one like the pty's when the pty is a real
        terminal that no other command is using at the moment (it is taken until
        :meth:`_converse` ends: the others run without). ``shell``: for an interactive
        login, which the deployment shell hands its terminal to (and commands not)."""
        if self.pty.terminal_in_use or not self.pty.is_terminal(shell=shell):
            return None
        self.pty.terminal_in_use = True
        rows, columns = self.pty.get_size()
        return Terminal(self.pty.get_term_var() or os.environ.get("TERM", "xterm"), columns,
                        rows)

    @contextlib.contextmanager
    def _keystrokes(self, process: Process) -> Iterator[None]:
        """Forward the pty's keystrokes (raw mode) and size changes to ``process``."""
        loop = asyncio.get_running_loop()
        fd = self.pty.stdin.fileno()
        saved = termios.tcgetattr(fd)

        def key() -> None:
            try:
                data = os.read(fd, 1024)
            except OSError:
                data = b""
            if data:
                process.write(data)
            else:
                loop.remove_reader(fd)

        def resize() -> None:
            rows, columns = self.pty.get_size()
            loop.call_soon_threadsafe(process.resize, columns, rows)

        tty.setraw(fd)
        loop.add_reader(fd, key)
        self.pty.set_ssh_channel_size = resize
        try:
            yield
        finally:
            self.pty.set_ssh_channel_size = None
            loop.remove_reader(fd)
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    async def sudo_async(self, command: str, sandbox: bool = False, interactive: bool = True,
                         user: str | None = None, ignore_exit_status: bool = False,
                         initial_input: str | None = None, silent: bool = False) -> str:
        """:meth:`run_async` with ``use_sudo=True``."""
        return await self.run_async(command, True, sandbox, interactive, user,
                                    ignore_exit_status, initial_input, silent)

    async def start_interactive_shell_async(self, command: str | None = None,
                                            initial_input: str | None = None,
                                            sandbox: bool = False) -> int | None:
        """Run the login shell (or ``exec command`` in it) at the pty; its exit status.

        With a real terminal behind the pty, the shell gets a remote terminal of its size
        and the keystrokes. In sandbox mode it says so and runs nothing (None), as
        python-deployer's host containers did.
        """
        if sandbox:
            self.pty.write_line(self.slug, "Interactive shell is not available in sandbox mode.")
            return None
        line = f"exec {command}" if command else 'exec "${SHELL:-/bin/sh}" -l'
        terminal = self._terminal(shell=True)
        with self.logger.log_run(self, command=command, sandboxing=sandbox, interactive=True,
                                 shell=True) as entry:
            exchange = Exchange(self.slug, self.pty, entry, terminal=terminal is not None,
                                stdin=initial_input.encode() if initial_input else None)
            status, _ = await self._converse(line, exchange, terminal)
            entry.set_status_code(status)
        return status

    # -- paths ---------------------------------------------------------------------------

    @abc.abstractmethod
    async def get_start_path_async(self) -> str:
        """The absolute directory commands start in when no ``cd()`` says otherwise."""

    async def get_home_directory_async(self, username: str | None = None) -> str:
        """The home directory of ``username`` (default: the login user) on the host.

        :raises ValueError: ``username`` is not a user name.
        """
        if username is not None and not _USER.fullmatch(username):
            raise ValueError(f'get_home_directory(): "{username}" is not a user name')
        link = await self._link()
        fact = f"home:{username or ''}"
        if fact not in link.facts:
            status, out, err = await self._capture(f"cd / && echo ~{username or ''}")
            if status:
                raise ExecCommandFailed(f"echo ~{username or ''}", self, False, status, err)
            link.facts[fact] = out.strip()
        return link.facts[fact]

    async def _expand_tilde(self, path: str) -> str:
        """``path`` with a leading ``~`` or ``~user`` replaced by that home directory."""
        if not path.startswith("~"):
            return path
        name, _, rest = path[1:].partition("/")
        if name and not _USER.fullmatch(name):
            return path
        home = await self.get_home_directory_async(name or None)
        return posixpath.join(home, rest) if rest else home

    async def _command_directory(self) -> str | None:
        """Where to ``cd`` before a command; None where a new session starts anyway."""
        return await self.getcwd_async()

    async def getcwd_async(self) -> str:
        """The absolute directory commands run in now: the start path and the ``cd()``\\ s."""
        parts = [await self._expand_tilde(path) if expand else path
                 for path, expand in self.host_context.state.paths]
        if any(part.startswith("/") for part in parts):  # the start path would be dropped
            return posixpath.normpath(posixpath.join(*parts))
        return posixpath.normpath(posixpath.join(await self.get_start_path_async(), *parts))

    async def expand_path_async(self, path: str) -> str:
        """``path`` made absolute: ``~`` expanded, relative to :meth:`getcwd`."""
        return posixpath.normpath(posixpath.join(await self.getcwd_async(),
                                                 await self._expand_tilde(path)))

    # -- questions -----------------------------------------------------------------------

    async def exists_async(self, filename: str, use_sudo: bool = True, **kw: Any) -> bool:
        """Whether a file or directory ``filename`` exists on the host.

        Asked over SFTP (or ``os.stat``) as the login user; only when that is refused
        and ``use_sudo`` does sudo answer (``test -f || test -d``), and never in a
        sandbox (``sandbox=True``), which sends no password. When sudo cannot answer
        either (no ``sudo_password``, a rule that forbids it), the answer is False.

        :raises SudoPasswordError: sudo refused the password.
        """
        path = await self.expand_path_async(filename)
        try:
            found = await self._using(lambda c: c.stat(path))
        except PermissionError:
            if not use_sudo or kw.get("sandbox"):
                return False
            quoted = shlex.quote(path)
            try:
                await self._run(f"test -f {quoted} || test -d {quoted}", use_sudo=True,
                                interactive=False, silent=True)
            except SudoPasswordError as exc:
                if exc.reason.startswith("sudo refused"):
                    raise  # a wrong password is worth knowing; no password: sudo can't say
                return False
            except ExecCommandFailed:
                return False
            return True
        except OSError:
            return False
        return stat_module.S_ISREG(found.st_mode) or stat_module.S_ISDIR(found.st_mode)

    async def has_command_async(self, command: str, use_sudo: bool = False) -> bool:
        """Whether ``command`` is found on the host (``command -v``, in this context)."""
        try:
            await self._run(f"command -v {shlex.quote(command)} >/dev/null", use_sudo=use_sudo,
                            interactive=False, silent=True)
        except SudoPasswordError:
            raise
        except ExecCommandFailed:
            return False
        return True

    async def get_ip_address_async(self, interface: str = "eth0") -> str:
        """The first IPv4 address of ``interface`` ("" if it has none).

        :raises ValueError: ``interface`` is not an interface name.
        :raises ExecCommandFailed: the host has no such interface.
        """
        name = shlex.quote(check_interface(interface))
        status, out, _ = await self._capture(
            f"PATH=$PATH:/sbin:/usr/sbin; cd / && {{ ip -4 -o addr show dev {name} || "
            f"ifconfig {name}; }} 2>&1")
        if status:
            raise ExecCommandFailed(f"ip addr show dev {interface}", self, False, status, out)
        found = _INET.search(out)
        return found[1] if found else ""

    # -- files ---------------------------------------------------------------------------

    async def stat_async(self, remote_path: str) -> Stat:
        """``lstat`` of ``remote_path`` (relative to :meth:`getcwd`).

        :raises OSError: it does not exist (:class:`FileNotFoundError`), or may not be read.
        """
        path = await self.expand_path_async(remote_path)
        found = await self._using(lambda c: c.stat(path, follow_symlinks=False))
        return Stat(found, posixpath.basename(remote_path.rstrip("/")) or remote_path)

    async def listdir_async(self, path: str = ".") -> list[str]:
        """The names in the directory ``path`` (relative to :meth:`getcwd`)."""
        return [stat.filename for stat in await self.listdir_stat_async(path)]

    async def listdir_stat_async(self, path: str = ".") -> list[Stat]:
        """A :class:`Stat` for each entry of the directory ``path``."""
        folder = await self.expand_path_async(path)
        entries = await self._using(lambda c: c.listdir(folder))
        return [Stat(found, name) for name, found in entries]

    async def _read_bytes(self, path: str, use_sudo: bool) -> bytes:
        """The content of the file ``path`` (absolute)."""
        if use_sudo:
            out = await self._run(f"cat -- {shlex.quote(path)}", use_sudo=True,
                                  interactive=False, silent=True)
            return out.encode("utf-8", "surrogateescape")
        found = await self._using(lambda c: c.stat(path))
        if stat_module.S_ISDIR(found.st_mode):
            raise IsADirectoryError(21, "Is a directory", path)
        with tempfile.TemporaryDirectory(prefix="shoal-open-") as folder:
            local = Path(folder, "content")
            await self._copying(lambda c: c.get(path, local))
            return local.read_bytes()

    async def _write_bytes(self, path: str, data: bytes, use_sudo: bool) -> None:
        """Make ``data`` the content of the file ``path`` (absolute), atomically."""
        if use_sudo:
            await self._run(f"sh -c {shlex.quote(_SUDO_WRITE)} sh {shlex.quote(path)}",
                            use_sudo=True, interactive=False, silent=True, stdin=data)
            return
        try:
            found: FileStat | None = await self._using(lambda c: c.stat(path))
        except FileNotFoundError:
            found = None
        if found is not None and stat_module.S_ISDIR(found.st_mode):
            raise IsADirectoryError(21, "Is a directory", path)
        with tempfile.TemporaryDirectory(prefix="shoal-open-") as folder:
            local = Path(folder, "content")
            local.write_bytes(data)
            # an existing file keeps its bits; a new one gets 0666 less the host's umask
            local.chmod(stat_module.S_IMODE(found.st_mode) if found is not None else 0o666)
            await self._copying(lambda c: c.put(local, path, preserve=found is not None))

    async def _copying(self, copy: Callable[[Connection], Awaitable[None]]) -> None:
        """Do a copy: a refusal is an ``OSError``, as python-deployer's SFTP raised."""
        try:
            await self._using(copy)
        except CopyFailed as exc:
            raise OSError(str(exc)) from exc

    async def _open_async(self, remote_path: str, mode: str, use_sudo: bool, sandbox: bool,
                          local_path: str | None = None) -> RemoteFile[Any]:
        check_mode(mode)
        path = await self.expand_path_async(remote_path)
        entry = self.logger.log_file(self, mode=mode, remote_path=path, local_path=local_path,
                                     use_sudo=use_sudo, sandboxing=sandbox)
        entry.__enter__()
        try:
            content = b""
            # the sandbox runs no sudo: what only sudo may read reads as empty there
            if not (sandbox and use_sudo) and (mode.startswith("r") or (
                    mode.startswith("a") and await self.exists_async(path, use_sudo=use_sudo))):
                content = await self._read_bytes(path, use_sudo)

            async def save(data: bytes) -> None:
                if sandbox:
                    self.pty.write_line(self.slug, f"[sandbox] {self.slug}: would write "
                                                   f"{len(data)} bytes to {path}")
                else:
                    await self._write_bytes(path, data, use_sudo)
        except BaseException:
            entry.complete(False)
            entry.__exit__(None, None, None)
            raise
        return RemoteFile(path, mode, content, entry,
                          save if not mode.startswith("r") else None)

    async def put_file_async(self, local_path: str, remote_path: str, use_sudo: bool = False,
                             sandbox: bool = False) -> None:
        """Copy the local file ``local_path`` to ``remote_path``, atomically (as :meth:`open`)."""
        data = Path(os.path.expanduser(local_path)).read_bytes()
        file = await self._open_async(remote_path, "wb", use_sudo, sandbox, local_path)
        file.write(data)
        await file.aclose()

    async def get_file_async(self, remote_path: str, local_path: str, use_sudo: bool = False,
                             sandbox: bool = False) -> None:
        """Copy the remote file ``remote_path`` to ``local_path`` (replaced atomically).

        In a sandbox, nothing is written (python-deployer wrote an empty file).
        """
        file = await self._open_async(remote_path, "rb", use_sudo, sandbox, local_path)
        try:
            if sandbox:
                self.pty.write_line(self.slug, f"[sandbox] {self.slug}: would copy "
                                               f"{file.name} to {local_path}")
                return
            target = Path(os.path.expanduser(local_path))
            with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.",
                                             delete=False) as out:
                out.write(file.read())
            os.replace(out.name, target)
        finally:
            await file.aclose()

    def open(self, remote_path: str, mode: str = "rb", use_sudo: bool = False,
             sandbox: bool = False) -> RemoteFile[Any]:
        """The remote file ``remote_path``, to read (``r``, ``rb``) or write (``w``, ``wb``,
        ``a``, ``ab``); a context manager::

            with host.open('/etc/motd', 'w') as f:
                f.write('welcome\\n')

        The whole content is read on open, and written (atomically) on close.
        """
        return wait(self._open_async(remote_path, mode, use_sudo, sandbox), "Host.open")

    # -- the blocking face ---------------------------------------------------------------

    def run(self, command: str, use_sudo: bool = False, sandbox: bool = False,
            interactive: bool = True, user: str | None = None,
            ignore_exit_status: bool = False, initial_input: str | None = None,
            silent: bool = False) -> str:
        """Run ``command`` on the host and return its stdout; see :meth:`run_async`."""
        return wait(self.run_async(command, use_sudo, sandbox, interactive, user,
                                   ignore_exit_status, initial_input, silent), "Host.run_async")

    def sudo(self, command: str, sandbox: bool = False, interactive: bool = True,
             user: str | None = None, ignore_exit_status: bool = False,
             initial_input: str | None = None, silent: bool = False) -> str:
        """:meth:`run` with ``use_sudo=True``."""
        return wait(self.sudo_async(command, sandbox, interactive, user, ignore_exit_status,
                                    initial_input, silent), "Host.sudo_async")

    def start_interactive_shell(self, command: str | None = None,
                                initial_input: str | None = None,
                                sandbox: bool = False) -> int | None:
        """Run the login shell at the pty; see :meth:`start_interactive_shell_async`."""
        return wait(self.start_interactive_shell_async(command, initial_input, sandbox),
                    "Host.start_interactive_shell_async")

    def get_start_path(self) -> str:
        """See :meth:`get_start_path_async`."""
        return wait(self.get_start_path_async(), "Host.get_start_path_async")

    def get_home_directory(self, username: str | None = None) -> str:
        """See :meth:`get_home_directory_async`."""
        return wait(self.get_home_directory_async(username), "Host.get_home_directory_async")

    def getcwd(self) -> str:
        """See :meth:`getcwd_async`."""
        return wait(self.getcwd_async(), "Host.getcwd_async")

    def expand_path(self, path: str) -> str:
        """See :meth:`expand_path_async`."""
        return wait(self.expand_path_async(path), "Host.expand_path_async")

    def exists(self, filename: str, use_sudo: bool = True, **kw: Any) -> bool:
        """See :meth:`exists_async`."""
        return wait(self.exists_async(filename, use_sudo, **kw), "Host.exists_async")

    def has_command(self, command: str, use_sudo: bool = False) -> bool:
        """See :meth:`has_command_async`."""
        return wait(self.has_command_async(command, use_sudo), "Host.has_command_async")

    def get_ip_address(self, interface: str = "eth0") -> str:
        """See :meth:`get_ip_address_async`."""
        return wait(self.get_ip_address_async(interface), "Host.get_ip_address_async")

    def stat(self, remote_path: str) -> Stat:
        """See :meth:`stat_async`."""
        return wait(self.stat_async(remote_path), "Host.stat_async")

    def listdir(self, path: str = ".") -> list[str]:
        """See :meth:`listdir_async`."""
        return wait(self.listdir_async(path), "Host.listdir_async")

    def listdir_stat(self, path: str = ".") -> list[Stat]:
        """See :meth:`listdir_stat_async`."""
        return wait(self.listdir_stat_async(path), "Host.listdir_stat_async")

    def put_file(self, local_path: str, remote_path: str, use_sudo: bool = False,
                 sandbox: bool = False) -> None:
        """See :meth:`put_file_async`."""
        wait(self.put_file_async(local_path, remote_path, use_sudo, sandbox),
             "Host.put_file_async")

    def get_file(self, remote_path: str, local_path: str, use_sudo: bool = False,
                 sandbox: bool = False) -> None:
        """See :meth:`get_file_async`."""
        wait(self.get_file_async(remote_path, local_path, use_sudo, sandbox),
             "Host.get_file_async")


#: Run under sudo as ``sh -c SCRIPT sh PATH`` with the content on stdin: written beside
#: PATH under a temporary name, given PATH's owner and mode if it exists, renamed over it.
#: It speaks first, so that the content goes out even when sudo asks no password.
_SUDO_WRITE = """set -e
echo ready
dst=$1
tmp=$(mktemp "$(dirname -- "$dst")/.shoal-XXXXXXXX")
trap 'rm -f -- "$tmp"' EXIT
cat > "$tmp"
if [ -e "$dst" ]; then
    chown --reference="$dst" -- "$tmp"
    chmod --reference="$dst" -- "$tmp"
else
    chmod 0644 -- "$tmp"
fi
mv -f -- "$tmp" "$dst"
trap - EXIT
"""
