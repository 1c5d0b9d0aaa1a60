"""The one error hierarchy of shoal.

Every error shoal raises on purpose derives from :class:`ShoalError`, and its
``str()`` is a single line ready for the user: the input, what is wrong, and the
fix where there is one. The command line prints it as it stands, with no
traceback, and exits 2 for bad usage or input, 1 for a failure.

::

    ShoalError
    ├── NodeSetError                          a node set could not be built
    │   ├── NodeSetParseError (also ValueError)   .expr .pos
    │   │   ├── NodeSetParseRangeError        a bad range inside a node set
    │   │   ├── NodeNameError                 .node: a name that could pass for an option or a path
    │   │   ├── RangeSetParseError            a bad range set
    │   │   └── UnknownGroupSourceInNodeSetError (also UnknownGroupSourceError)
    │   └── NodeSetExternalError              groups could not be resolved
    │       ├── NoGroupSourceError (also LookupError) none is configured
    │       └── GroupSourceError              .source: a group source failed to answer
    │           └── GroupSourceNoUpcallError  it has no way to answer that question
    ├── ConfigError (also ValueError)         .path .line
    ├── UnknownGroupError (also LookupError)  .group .source
    ├── UnknownGroupSourceError (also LookupError) .source
    ├── UsageError (also RuntimeError)        misuse of the API
    ├── MessageProcessingError                .msgid .fault: a tree message refused
    ├── TestbedError                          the loopback sshd could not be run
    └── HostError                             .node: one node failed
        ├── ConnectError                      could not reach it (refused, timeout, lost)
        │   ├── AuthError                     it refused our credentials
        │   ├── HostKeyError                  .fingerprint: unknown or changed host key
        │   └── NodeLost                      .gateway: its gateway died after sending it work
        ├── CommandTimeout (also TimeoutError) .timeout: the command outlived -u
        ├── CommandFailed                     .rc .stdout .stderr: check=True and rc != 0
        ├── CopyFailed                        .rc: a copy the node refused (it answers)
        ├── Interrupted                       the task was interrupted (Ctrl-C) first
        └── InternalError                     a fault in shoal itself; traceback in the log

The node set classes answer ClusterShell's: code that catches ClusterShell's
``NodeSetError``, ``NodeSetParseError``, ``NodeSetParseRangeError``,
``NodeSetExternalError``, ``RangeSetParseError``, ``GroupSourceError`` or
``GroupSourceNoUpcall`` catches the shoal class of that name (``...Error``), and
``GroupResolverSourceError`` is :class:`UnknownGroupSourceError` (docs/nodeset-compat.md
has the whole table).

This module is a bottom module: it imports nothing from shoal.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "CommandFailed",
    "CommandTimeout",
    "ConfigError",
    "ConnectError",
    "CopyFailed",
    "GroupSourceError",
    "GroupSourceNoUpcallError",
    "HostError",
    "HostKeyError",
    "InternalError",
    "Interrupted",
    "MessageProcessingError",
    "NoGroupSourceError",
    "NodeLost",
    "NodeNameError",
    "NodeSetError",
    "NodeSetExternalError",
    "NodeSetParseError",
    "NodeSetParseRangeError",
    "RangeSetParseError",
    "ShoalError",
    "TestbedError",
    "UnknownGroupError",
    "UnknownGroupSourceError",
    "UnknownGroupSourceInNodeSetError",
    "UsageError",
]


class ShoalError(Exception):
    """Base class of every error shoal raises on purpose."""


def _printable(text: str) -> str:
    """``text`` with its control characters and line ends escaped (``\\n``, ``\\x1b``): a
    message quoting user input stays on one line and sends nothing to a terminal."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


class NodeSetError(ShoalError):
    """A node set could not be built: a malformed expression or groups that failed."""


class NodeSetParseError(NodeSetError, ValueError):
    """A node set or range set expression is malformed.

    ``expr`` is the whole expression, ``pos`` the 0-based index where the fault
    was found (shown to users as a 1-based column), ``reason`` what is wrong. The
    message shows control characters escaped.

    >>> str(NodeSetParseError("web[01-0x]", 4, 'bad range "01-0x"'))
    'node set "web[01-0x]": bad range "01-0x" at column 5'
    >>> print(NodeSetParseError("a\\n[", 2, 'missing "]"'))
    node set "a\\n[": missing "]" at column 3
    """

    kind = "node set"

    def __init__(self, expr: str, pos: int, reason: str) -> None:
        self.expr = expr
        self.pos = pos
        self.reason = reason
        # Not super(): a subclass may also derive from an error with another signature.
        ValueError.__init__(self, _printable(f'{self.kind} "{expr}": {reason} at column {pos + 1}'))


class NodeSetParseRangeError(NodeSetParseError):
    """A range inside a node set's brackets is malformed (``node[1-x]``)."""


class RangeSetParseError(NodeSetParseError):
    """A range set expression (``1-5,7``) is malformed.

    >>> str(RangeSetParseError("1-x", 2, 'bad range "x"'))
    'range set "1-x": bad range "x" at column 3'
    """

    kind = "range set"


class NodeNameError(NodeSetParseError):
    """A node name that could pass for an option or a path (see :mod:`shoal.nodeset.names`).

    ``node`` is the name (the first one of its pattern), ``reason`` what is wrong with
    it; ``expr`` and ``pos`` locate it in the expression it came from, ``where`` says
    which group it came from, if any. The name is shown with its control characters
    escaped, so the message stays on one line.

    >>> str(NodeNameError("-oProxyCommand=x", 'must not start with "-"'))
    'node name "-oProxyCommand=x": must not start with "-"'
    >>> str(NodeNameError("a\\nb", "must not hold whitespace", where='group "@web"'))
    'node name "a\\\\nb" (group "@web"): must not hold whitespace'
    """

    def __init__(self, node: str, reason: str, expr: str | None = None, pos: int = 0,
                 where: str | None = None) -> None:
        self.node = node
        self.where = where
        context = f" ({where})" if where else ""
        ValueError.__init__(self, _printable(f'node name "{node}"{context}: {reason}'))
        self.expr = node if expr is None else expr
        self.pos = pos
        self.reason = reason

    def within(self, where: str) -> NodeNameError:
        """The same error, said to come from ``where`` (a group)."""
        return NodeNameError(self.node, self.reason, self.expr, self.pos, where)


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


class NodeLost(ConnectError):
    """The gateway that the node's work went through died after it took the work on.

    The command may have run, or be running still: shoal never runs it twice, so the
    node ends ``lost``. ``gateway`` names the gateway that died.

    >>> err = NodeLost("node7", "gw1", "connection closed")
    >>> (str(err), err.gateway)
    ('node7: lost with gateway gw1: connection closed', 'gw1')
    """

    def __init__(self, node: str, gateway: str, reason: str) -> None:
        self.gateway = gateway
        super().__init__(node, f"lost with gateway {gateway}: {reason}")


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


class CopyFailed(HostError):
    """A copy failed on a node that answers: a missing folder, a denied permission, a full disk.

    Unlike :class:`ConnectError`, the node is reachable. A task ends such a node as scp
    ends: with return code :attr:`rc` and the reason as a line of its standard error, so
    ``-S`` gives 1, not 255.

    >>> err = CopyFailed("node3", "copy to /etc/x failed: permission denied")
    >>> (str(err), err.rc)
    ('node3: copy to /etc/x failed: permission denied', 1)
    """

    #: the return code of a node whose copy failed, as scp's
    rc = 1


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


class NodeSetExternalError(NodeSetError):
    """Groups could not be resolved: no resolver, no group source, or a source failed."""


class NoGroupSourceError(NodeSetExternalError, LookupError):
    """No group source is configured, and the question needs one (``-a``, ``@*``).

    A matter of set-up, not a failure: the command line exits 2 for it.
    """


class GroupSourceError(NodeSetExternalError):
    """A group source failed to answer (unknown source, failing upcall).

    >>> str(GroupSourceError("slurm", 'upcall "map" exited with 1: no such partition'))
    'group source "slurm": upcall "map" exited with 1: no such partition'
    """

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = reason
        super().__init__(f'group source "{source}": {reason}')


class GroupSourceNoUpcallError(GroupSourceError):
    """A group source has no way to answer: no ``all`` upcall, no ``list``, no ``reverse``.

    Node sets then work the answer out from what the source can tell (all nodes are
    the union of the groups), as ClusterShell does on its ``GroupSourceNoUpcall``.
    """


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


class UnknownGroupSourceInNodeSetError(NodeSetParseError, UnknownGroupSourceError):
    """A node set names a group source that is not configured (``@nosuch:group``).

    Both a parse error pointing at the ``@`` and an :class:`UnknownGroupSourceError`, so
    code that catches ClusterShell's ``GroupResolverSourceError`` catches it too.

    >>> err = UnknownGroupSourceInNodeSetError("@slurm:gpu", 0, "slurm")
    >>> str(err), err.source
    ('node set "@slurm:gpu": unknown group source "slurm" at column 1', 'slurm')
    """

    def __init__(self, expr: str, pos: int, source: str) -> None:
        self.source = source
        NodeSetParseError.__init__(self, expr, pos, f'unknown group source "{source}"')


class MessageProcessingError(ShoalError):
    """A tree channel message could not be read or written (:mod:`shoal.tree.codec`).

    ``msgid`` is the id of the message at fault (``None`` when it is not known),
    ``fault`` says what is wrong, on one line.

    >>> str(MessageProcessingError(7, 'attribute "job" is not an integer: "x"'))
    'message 7: attribute "job" is not an integer: "x"'
    >>> str(MessageProcessingError(None, "not well-formed XML at line 1, column 0"))
    'message ?: not well-formed XML at line 1, column 0'
    """

    def __init__(self, msgid: int | None, fault: str) -> None:
        self.msgid = msgid
        self.fault = _printable(fault)
        super().__init__(f"message {'?' if msgid is None else msgid}: {self.fault}")


class UsageError(ShoalError, RuntimeError):
    """The API was used in a way it does not support."""


class TestbedError(ShoalError):
    """The loopback SSH testbed could not be started, reached or stopped."""

    __test__ = False  # a name starting with "Test" is not a pytest class
