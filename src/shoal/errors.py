"""The one error hierarchy of shoal.

Every error shoal raises on purpose derives from :class:`ShoalError`, and its
``str()`` is a single line ready for the user: the input, what is wrong, and the
fix where there is one. The command line prints it as it stands, with no
traceback, and exits 2 for bad usage or input, 1 for a failure.

::

    ShoalError
    ├── NodeSetParseError (also ValueError)   .expr .pos
    ├── ConfigError (also ValueError)         .path .line
    ├── GroupSourceError                      .source
    ├── UnknownGroupError (also LookupError)  .group .source
    ├── UnknownGroupSourceError (also LookupError) .source
    ├── UsageError (also RuntimeError)        misuse of the API
    ├── TestbedError                          the loopback sshd could not be run
    └── HostError                             .node: one node failed
        ├── ConnectError                      could not reach it (refused, timeout, lost)
        │   ├── AuthError                     it refused our credentials
        │   └── HostKeyError                  .fingerprint: unknown or changed host key
        ├── CommandTimeout (also TimeoutError) .timeout: the command outlived -u
        ├── CommandFailed                     .rc .stdout .stderr: check=True and rc != 0
        ├── Interrupted                       the task was interrupted (Ctrl-C) first
        └── InternalError                     a fault in shoal itself; traceback in the log

This module is a bottom module: it imports nothing from shoal.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "CommandFailed",
    "CommandTimeout",
    "ConfigError",
    "ConnectError",
    "GroupSourceError",
    "HostError",
    "HostKeyError",
    "InternalError",
    "Interrupted",
    "NodeSetParseError",
    "RangeSetParseError",
    "ShoalError",
    "TestbedError",
    "UnknownGroupError",
    "UnknownGroupSourceError",
    "UsageError",
]


class ShoalError(Exception):
    """Base class of every error shoal raises on purpose."""


class NodeSetParseError(ShoalError, ValueError):
    """A node set or range set expression is malformed.

    ``expr`` is the whole expression, ``pos`` the 0-based index where the fault
    was found (shown to users as a 1-based column), ``reason`` what is wrong.

    >>> str(NodeSetParseError("web[01-0x]", 4, 'bad range "01-0x"'))
    'node set "web[01-0x]": bad range "01-0x" at column 5'
    """

    kind = "node set"

    def __init__(self, expr: str, pos: int, reason: str) -> None:
        self.expr = expr
        self.pos = pos
        self.reason = reason
        super().__init__(f'{self.kind} "{expr}": {reason} at column {pos + 1}')


class RangeSetParseError(NodeSetParseError):
    """A range set expression (``1-5,7``) is malformed.

    >>> str(RangeSetParseError("1-x", 2, 'bad number "x"'))
    'range set "1-x": bad number "x" at column 3'
    """

    kind = "range set"


class HostError(ShoalError):
    """One node failed; ``node`` names it and ``reason`` says why.

    >>> str(HostError("node7", "connection refused"))
    'node7: connection refused'
    """

    def __init__(self, node: str, reason: str) -> None:
        self.node = node
        self.reason = reason
        super().__init__(f"{node}: {reason}")


class ConnectError(HostError):
    """The node could not be reached: refused, unreachable, timed out or lost."""


class AuthError(ConnectError):
    """The node refused our credentials."""


class HostKeyError(ConnectError):
    """The node's host key is unknown or changed; ``fingerprint`` is the key it showed.

    >>> err = HostKeyError("node7", "SHA256:abc", "host key not trusted (SHA256:abc)")
    >>> (str(err), err.fingerprint)
    ('node7: host key not trusted (SHA256:abc)', 'SHA256:abc')
    """

    def __init__(self, node: str, fingerprint: str | None, reason: str) -> None:
        self.fingerprint = fingerprint
        super().__init__(node, reason)


class CommandTimeout(HostError, TimeoutError):
    """The command ran longer than its timeout and was stopped.

    >>> str(CommandTimeout("node7", 5.0))
    'node7: command timed out after 5s'
    """

    def __init__(self, node: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(node, f"command timed out after {timeout:g}s")


class CommandFailed(HostError):
    """A command exited non-zero where success was required (``check=True``).

    >>> str(CommandFailed("node7", "false", 1, b"", b"oops"))
    'node7: command "false" exited with 1: oops'
    """

    def __init__(self, node: str, command: str, rc: int | None, stdout: bytes,
                 stderr: bytes) -> None:
        self.command = command
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        detail = stderr.decode("utf-8", "replace").strip().splitlines()
        tail = f": {detail[-1]}" if detail else ""
        super().__init__(node, f'command "{command}" exited with {rc}{tail}')


class Interrupted(HostError):
    """The task was interrupted (Ctrl-C, :meth:`~shoal.engine.AsyncTask.interrupt`) before
    this node finished.

    >>> str(Interrupted("node7"))
    'node7: interrupted'
    """

    def __init__(self, node: str) -> None:
        super().__init__(node, "interrupted")


class InternalError(HostError):
    """Something went wrong inside shoal while it worked on this node: a bug to report.

    The node's result says so (never "unreachable"); the traceback goes to the log.

    >>> str(InternalError("node7", ValueError("bad")))
    'node7: internal error: ValueError: bad (a bug in shoal: the traceback is in the log)'
    """

    def __init__(self, node: str, error: BaseException) -> None:
        self.error = error
        super().__init__(node, f"internal error: {type(error).__name__}: {error} "
                               "(a bug in shoal: the traceback is in the log)")


class ConfigError(ShoalError, ValueError):
    """A configuration file is malformed; names the file and the line.

    >>> str(ConfigError("groups.conf", 7, 'unknown key "mapp"'))
    'groups.conf line 7: unknown key "mapp"'
    >>> str(ConfigError("groups.conf", None, "not readable"))
    'groups.conf: not readable'
    """

    def __init__(self, path: str, line: int | None, reason: str) -> None:
        self.path = path
        self.line = line
        self.reason = reason
        where = f"{path} line {line}" if line is not None else path
        super().__init__(f"{where}: {reason}")


class GroupSourceError(ShoalError):
    """A group source failed to answer (unknown source, failing upcall).

    >>> str(GroupSourceError("slurm", 'upcall "map" exited with 1: no such partition'))
    'group source "slurm": upcall "map" exited with 1: no such partition'
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f'group source "{source}": {reason}')


class UnknownGroupError(ShoalError, LookupError):
    """A group source has no group of that name.

    Raised by group resolvers; :class:`~shoal.nodeset.NodeSet` turns it into a
    :class:`NodeSetParseError` that points at the ``@`` in the expression.

    >>> str(UnknownGroupError("rack9", "local"))
    'no group "rack9" in group source "local"'
    """

    def __init__(self, group: str, source: str | None) -> None:
        self.group = group
        self.source = source
        where = f'group source "{source}"' if source else "any group source (none is configured)"
        super().__init__(f'no group "{group}" in {where}')


class UnknownGroupSourceError(ShoalError, LookupError):
    """No group source of that name is configured.

    >>> str(UnknownGroupSourceError("slurm"))
    'unknown group source "slurm"'
    """

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(f'unknown group source "{source}"')


class UsageError(ShoalError, RuntimeError):
    """The API was used in a way it does not support."""


class TestbedError(ShoalError):
    """The loopback SSH testbed could not be started, reached or stopped."""

    __test__ = False  # a name starting with "Test" is not a pytest class
