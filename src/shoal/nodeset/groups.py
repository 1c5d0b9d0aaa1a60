"""Node groups: group sources and the resolver that node sets ask about ``@group``.

A *group source* (a namespace, ``@source:group``) answers four questions: the nodes
of a group, all its nodes, the list of its groups, and the groups of a node. Three
kinds exist, as in ClusterShell:

- :class:`GroupSource`: groups held in memory, given to the constructor;
- :class:`YAMLGroupSource`: one top-level key of a ClusterShell YAML group file
  (``groups.d/*.yaml``), reloaded when its ``cache_time`` has passed;
- :class:`UpcallGroupSource`: a ``groups.conf`` section whose shell commands
  (*upcalls*: ``map``, ``mapall``, ``all``, ``list``, ``reverse``) give the answers.

A :class:`GroupResolver` holds named sources and a default one; node sets call it
with ClusterShell's method names. :func:`load_group_config` builds one from a
``groups.conf`` (see :mod:`shoal.nodeset.groupsconf` for the formats), and
:func:`std_group_resolver` is the process-wide one, found on first use.

Answers are lists of strings as the source gave them (node set expressions such
as ``"web[01-04]"`` or ``"@rack1"``); folding and expanding them is the job of
:class:`~shoal.nodeset.NodeSet`, which also checks the node names they hold (see
:mod:`shoal.nodeset.names`). A question a source has no way to answer (all nodes
without an ``all`` upcall or group, a node's groups without ``reverse``) raises
:class:`GroupSourceNoUpcallError`, as ClusterShell's resolver does; node sets then work
the answer out from the group list.

>>> resolver = GroupResolver([GroupSource("local", {"web": "web[1-4]", "db": ["db1", "db2"]})])
>>> resolver.group_nodes("db")
['db1,db2']
>>> resolver.grouplist(), resolver.sources()
(['web', 'db'], ['local'])
>>> resolver.group_nodes("dns")
Traceback (most recent call last):
...
shoal.errors.UnknownGroupError: no group "dns" in group source "local"

Unknown groups are errors. Where ClusterShell often answers an unknown group with
an empty node set, shoal raises :class:`UnknownGroupError`, so ``@nosuchgroup`` is
caught:

- a YAML or in-memory source: the group is not a key (a key with no value is an
  empty group);
- an upcall source: ``map`` exits non-zero (ClusterShell fails the query too; the
  upcall's error is chained as ``__cause__``), or prints nothing for a group that the
  ``list`` upcall does not name (a listed group that prints nothing is empty); a
  ``mapall``-only source: ``mapall`` does not name the group.

A ``map`` upcall that could not do its job (exit 126 or 127, exit 128 or more, killed
by a signal, out of time) means a broken source: :class:`GroupSourceError`.

Upcalls run as ``/bin/sh -c COMMAND`` in the source's ``cfgdir``, stdin from
``/dev/null``, after ClusterShell's substitution (:class:`string.Template`
``safe_substitute``: ``$GROUP``, ``$NODE``, ``$SOURCE``, ``$CFGDIR`` are replaced,
``$$`` becomes ``$``, any other ``$NAME`` is left to the shell). The values are not
quoted, as in ClusterShell, so shoal passes a group or node name to a command only
when :func:`shlex.quote` would leave it bare (ASCII letters, digits and
``_@%+=:,./-``): any other group is unknown, any other node an error. Unlike
ClusterShell, stderr is captured, not shown: the first line of it ends the message of
a failed upcall. Each upcall is killed, with all it started, after ``timeout`` seconds
(:data:`DEFAULT_UPCALL_TIMEOUT`; ClusterShell waits forever).

This module imports nothing from shoal but :mod:`shoal.errors`,
:mod:`shoal.nodeset.groupsconf` and :mod:`shoal.nodeset.parsing` (to expand group names
that hold ranges); :mod:`shoal.nodeset.nodeset` imports it, never the reverse.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from string import Template

from shoal.errors import (
    GroupSourceError,
    GroupSourceNoUpcallError,
    UnknownGroupError,
    UnknownGroupSourceError,
    UsageError,
)
from shoal.nodeset.groupsconf import UPCALLS, YAMLFileConfig, read_group_config, read_yaml_file
from shoal.nodeset.parsing import scan

__all__ = [
    "DEFAULT_CACHE_TIME",
    "DEFAULT_UPCALL_TIMEOUT",
    "ILLEGAL_GROUP_CHARS",
    "Clock",
    "GroupResolver",
    "GroupSource",
    "UpcallGroupSource",
    "YAMLGroupFile",
    "YAMLGroupSource",
    "find_group_config",
    "group_config_paths",
    "load_group_config",
    "set_std_group_resolver",
    "set_std_group_resolver_config",
    "std_group_resolver",
]

LOGGER = logging.getLogger(__name__)

#: Seconds an upcall answer or a YAML file is kept before it is asked or read again.
DEFAULT_CACHE_TIME = 3600.0

#: Seconds an upcall may run before it is killed (ClusterShell waits forever).
DEFAULT_UPCALL_TIMEOUT = 60.0

#: Characters a group name given by a source may not hold (ClusterShell's set).
ILLEGAL_GROUP_CHARS = frozenset("@,!&^*")

#: A clock for cache expiry: seconds, only differences matter.
Clock = Callable[[], float]

_SAFE_WORD = re.compile(r"[\w@%+=:,./-]+", re.ASCII)  # what shlex.quote leaves bare
_SIMPLE_LIST = re.compile(r"[^\[\]@!&^*?\\]*")  # names and commas only: nothing to expand


def _as_text(value: str | Sequence[str]) -> str:
    """A group value as one string: a list is joined with ``,`` (ClusterShell's rule)."""
    return value if isinstance(value, str) else ",".join(value)


def _split(text: str) -> list[str]:
    """Split an answer into words at spaces and line ends, as ClusterShell does."""
    return text.split()


def _expand_names(words: Iterable[str]) -> list[str]:
    """Expand group names that hold ranges (``rack[1-3]``), keeping the source's order.

    :raises NodeSetParseError: a word is malformed.
    """
    names: dict[str, None] = {}
    for word in words:
        if _SIMPLE_LIST.fullmatch(word):
            names.update(dict.fromkeys(name for name in word.split(",") if name))
        else:
            # Group names hold no operator (ILLEGAL_GROUP_CHARS): each term adds names.
            for term in scan(word):
                names.update(dict.fromkeys(term.names()))
    return list(names)


class GroupSource:
    """A group source whose groups are held in memory; the base of all sources.

    ``groups`` maps each group name to its nodes: a node set string, or a list of
    them (joined with ``,``). ``allgroups`` is the answer for all nodes; without it
    the source cannot tell them (node sets then take the union of the groups). A name
    absent from ``groups`` is an unknown group.

    >>> source = GroupSource("rack", {"r1": "n[1-4]", "r2": "n[5-8]"}, allgroups="n[1-9]")
    >>> source.group_nodes("r2"), source.all_nodes()
    (['n[5-8]'], ['n[1-9]'])
    """

    def __init__(self, name: str, groups: Mapping[str, str | Sequence[str]] | None = None,
                 allgroups: str | Sequence[str] | None = None) -> None:
        if not name or not isinstance(name, str):
            raise UsageError(f"a group source needs a name, got {name!r}")
        self.name = name
        self._groups = {group: _as_text(nodes) for group, nodes in (groups or {}).items()}
        self._allgroups = None if allgroups is None else _as_text(allgroups)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    @property
    def has_reverse(self) -> bool:
        """Whether :meth:`node_groups` can answer (a ``reverse`` upcall)."""
        return False

    @property
    def has_list(self) -> bool:
        """Whether :meth:`grouplist` can answer."""
        return True

    def group_nodes(self, group: str) -> list[str]:
        """The nodes of ``group``, as node set words.

        :raises UnknownGroupError: the source has no such group.
        """
        try:
            return _split(self._groups[group])
        except KeyError:
            raise UnknownGroupError(group, self.name) from None

    def grouplist(self) -> list[str]:
        """The names of all groups, as the source gives them (they may hold ranges)."""
        return list(self._groups)

    def all_nodes(self) -> list[str]:
        """All nodes of the source: ``allgroups``.

        :raises GroupSourceNoUpcallError: no ``allgroups`` was given (node sets then
            take the union of the groups).
        """
        if self._allgroups is None:
            raise GroupSourceNoUpcallError(self.name, "no list of all nodes")
        return _split(self._allgroups)

    def node_groups(self, node: str) -> list[str]:
        """The groups of ``node``, asked of the source itself (see :attr:`has_reverse`).

        :raises GroupSourceNoUpcallError: the source cannot answer this (node sets then
            work it out from the groups).
        """
        raise GroupSourceNoUpcallError(self.name, 'no "reverse" upcall to find the groups '
                                       "of a node")

    def clear_cache(self) -> None:
        """Forget cached answers, so the next questions ask the source again."""


class YAMLGroupFile:
    """One ClusterShell YAML group file and the sources it defines.

    The file maps source names to mappings of groups (see
    :func:`shoal.nodeset.groupsconf.parse_groups_yaml`). It is read again when a
    source is asked after ``cache_time`` seconds (default :data:`DEFAULT_CACHE_TIME`),
    as ClusterShell does: a source that vanished from the file then has no groups,
    and a source added to it is ignored until the configuration is loaded again.
    ``config`` is the file's content when the caller has already parsed it.

    :raises ConfigError: the file cannot be read or is malformed (also when it is
        read again).
    """

    def __init__(self, path: str | os.PathLike[str], *, cache_time: float | None = None,
                 clock: Clock = time.monotonic, config: YAMLFileConfig | None = None) -> None:
        self.path = os.fspath(path)
        self.cache_time = DEFAULT_CACHE_TIME if cache_time is None else float(cache_time)
        self._clock = clock
        self._lock = threading.Lock()
        loaded = config if config is not None else read_yaml_file(self.path)
        self._groups = {name: dict(groups) for name, groups in loaded.sources.items()}
        self._expiry = clock() + self.cache_time
        #: The sources of the file, in file order.
        self.sources = tuple(YAMLGroupSource(name, self) for name in self._groups)

    def __repr__(self) -> str:
        return f"YAMLGroupFile({self.path!r})"

    def __iter__(self) -> Iterator[YAMLGroupSource]:
        """Iterate over :attr:`sources` (as ClusterShell's ``YAMLGroupLoader``)."""
        return iter(self.sources)

    def groups(self, source: str) -> dict[str, str]:
        """The groups of ``source`` (group name -> node set string), read again if stale."""
        with self._lock:
            if self._clock() >= self._expiry:
                loaded = read_yaml_file(self.path)
                for name in self._groups:
                    self._groups[name] = dict(loaded.sources.get(name, {}))
                self._expiry = self._clock() + self.cache_time
            return self._groups[source]

    def clear_cache(self) -> None:
        """Read the file again on next use."""
        with self._lock:
            self._expiry = float("-inf")


class YAMLGroupSource(GroupSource):
    """One group source of a :class:`YAMLGroupFile`.

    Its key ``all``, when present, is both a group and the list of all nodes (as in
    ClusterShell); without it all nodes are the union of the groups.
    """

    def __init__(self, name: str, file: YAMLGroupFile) -> None:
        super().__init__(name)
        self.file = file

    def __repr__(self) -> str:
        return f"YAMLGroupSource({self.name!r}, {self.file.path!r})"

    def group_nodes(self, group: str) -> list[str]:
        """The nodes of ``group``; :class:`UnknownGroupError` when the file has no such key."""
        try:
            return _split(self.file.groups(self.name)[group])
        except KeyError:
            raise UnknownGroupError(group, self.name) from None

    def grouplist(self) -> list[str]:
        """The group names of the source, in file order (``all`` included)."""
        return list(self.file.groups(self.name))

    def all_nodes(self) -> list[str]:
        """The ``all`` group.

        :raises GroupSourceNoUpcallError: there is no ``all`` group (node sets then take
            the union of the groups).
        """
        groups = self.file.groups(self.name)
        if "all" not in groups:
            raise GroupSourceNoUpcallError(self.name, 'no "all" group')
        return _split(groups["all"])

    def clear_cache(self) -> None:
        """Read the file again on next use."""
        self.file.clear_cache()


class _UpcallExit(Exception):
    """An upcall exited non-zero; the caller decides what that means."""

    def __init__(self, error: GroupSourceError, rc: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.rc = rc

    @property
    def broken(self) -> bool:
        """Whether the command could not run at all rather than answered "no"."""
        return self.rc in (126, 127) or self.rc >= 128


def _parse_mapall(text: str) -> dict[str, str]:
    """Parse ``group: nodes`` lines; duplicate groups are merged. ValueError on a bad line."""
    mapping: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        group, sep, nodes = line.partition(":")
        group = group.strip()
        if not sep or not group or len(group.split()) > 1:
            raise ValueError(f'a malformed line "{line}" (expected "group: nodes")')
        nodes = nodes.strip()
        if group in mapping:
            nodes = ",".join(n for n in (mapping[group], nodes) if n)
        mapping[group] = nodes
    return mapping


def _kill_process_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill an upcall and everything it started (it leads its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


class UpcallGroupSource(GroupSource):
    """A group source that runs shell commands (upcalls), as a ``groups.conf`` section.

    ``upcalls`` maps upcall names to command templates: ``map`` (nodes of
    ``$GROUP``) or ``mapall`` (one ``group: nodes`` line per group) is required;
    ``all`` (all nodes), ``list`` (group names) and ``reverse`` (groups of
    ``$NODE``) are optional. Commands run through ``/bin/sh -c`` in ``cfgdir`` (also
    ``$CFGDIR``; left to the shell when ``None``), with ``$SOURCE`` the source name.

    Each successful answer is kept ``cache_time`` seconds (default
    :data:`DEFAULT_CACHE_TIME`; ``0`` asks every time); a failed one is not kept.
    ``mapall`` answers fill the ``map`` and ``list`` caches, as in ClusterShell: with a
    ``map`` upcall too, ``map`` serves only the groups ``mapall`` did not name. Each
    upcall may run ``timeout`` seconds (``None``: no limit); then it is killed with
    everything it started.

    >>> source = UpcallGroupSource("demo", {"map": "echo $SOURCE-$GROUP", "list": "echo a b"})
    >>> source.group_nodes("a"), source.grouplist()
    (['demo-a'], ['a', 'b'])

    :raises UsageError: an unknown upcall name, or neither ``map`` nor ``mapall``.
    """

    def __init__(self, name: str, upcalls: Mapping[str, str], *,
                 cfgdir: str | os.PathLike[str] | None = None,
                 cache_time: float | None = None,
                 timeout: float | None = DEFAULT_UPCALL_TIMEOUT,
                 clock: Clock = time.monotonic) -> None:
        super().__init__(name)
        unknown = sorted(set(upcalls) - set(UPCALLS))
        if unknown:
            raise UsageError(f'group source "{name}": unknown upcall "{unknown[0]}" '
                             f"(known: {', '.join(UPCALLS)})")
        self._upcalls = {kind: command for kind, command in upcalls.items() if command}
        if "map" not in self._upcalls and "mapall" not in self._upcalls:
            raise UsageError(f'group source "{name}" needs a "map" or "mapall" upcall')
        self.cfgdir = None if cfgdir is None else os.fspath(cfgdir)
        self.cache_time = DEFAULT_CACHE_TIME if cache_time is None else float(cache_time)
        self.timeout = timeout
        self._clock = clock
        self._lock = threading.RLock()
        self._cache: dict[tuple[str, str], tuple[str, float]] = {}
        self._mapall: dict[str, str] | None = None

    @property
    def upcalls(self) -> dict[str, str]:
        """The upcall templates of the source, by name."""
        return dict(self._upcalls)

    @property
    def has_reverse(self) -> bool:
        """Whether the source has a ``reverse`` upcall."""
        return "reverse" in self._upcalls

    @property
    def has_list(self) -> bool:
        """Whether the source has a ``list`` or ``mapall`` upcall."""
        return "list" in self._upcalls or "mapall" in self._upcalls

    def _run(self, kind: str, subject: str, variables: Mapping[str, str]) -> str:
        """Run one upcall and return its stripped output.

        :raises _UpcallExit: it exited non-zero.
        :raises GroupSourceError: it could not start, was killed, or timed out.
        """
        values = dict(variables, SOURCE=self.name)
        if self.cfgdir is not None:
            values["CFGDIR"] = self.cfgdir
        command = Template(self._upcalls[kind]).safe_substitute(values)
        what = f'upcall "{kind}"{subject}'
        started = time.monotonic()
        try:
            proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=self.cfgdir, start_new_session=True)
        except OSError as exc:
            where = f' in "{self.cfgdir}"' if self.cfgdir else ""
            raise GroupSourceError(self.name, f"{what} could not start{where}: "
                                   f"{exc.strerror or exc}") from exc
        with proc:
            try:
                out, err = proc.communicate(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                _kill_process_group(proc)
                raise GroupSourceError(self.name, f"{what} timed out after {self.timeout:g}s") \
                    from None
            except BaseException:
                _kill_process_group(proc)
                raise
        rc = proc.returncode
        LOGGER.debug("group source %s: %s exited with %d after %.3fs", self.name, what, rc,
                     time.monotonic() - started)
        lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines()]
        detail = next((line for line in lines if line), "")
        if rc < 0:
            raise GroupSourceError(self.name, f"{what} was killed by signal {-rc}")
        if rc != 0:
            tail = f": {detail}" if detail else ""
            raise _UpcallExit(GroupSourceError(self.name, f"{what} exited with {rc}{tail}"), rc)
        return out.decode("utf-8", "replace").strip()

    def _query(self, kind: str, key: str, subject: str, variables: Mapping[str, str]) -> str:
        """The answer of an upcall, from the cache while it is fresh."""
        now = self._clock()
        cached = self._cache.get((kind, key))
        if cached is not None and now < cached[1]:
            return cached[0]
        self._cache.pop((kind, key), None)
        text = self._run(kind, subject, variables)
        self._cache[(kind, key)] = (text, now + self.cache_time)
        return text

    def _refresh_mapall(self) -> dict[str, str] | None:
        """Run ``mapall`` if its answer is stale and spread it over the map and list caches."""
        if "mapall" not in self._upcalls:
            return None
        cached = self._cache.get(("mapall", ""))
        if cached is not None and self._clock() < cached[1] and self._mapall is not None:
            return self._mapall
        try:
            text = self._query("mapall", "", "", {})
        except _UpcallExit as exc:
            raise exc.error from None
        try:
            mapping = _parse_mapall(text)
        except ValueError as exc:
            del self._cache[("mapall", "")]  # an unusable answer is not kept
            raise GroupSourceError(self.name, f'upcall "mapall" printed {exc}') from None
        expiry = self._cache[("mapall", "")][1]
        for key in [key for key in self._cache if key[0] == "map"]:
            del self._cache[key]
        for group, nodes in mapping.items():
            self._cache[("map", group)] = (nodes, expiry)
        self._cache[("list", "")] = (" ".join(mapping), expiry)
        self._mapall = mapping
        return mapping

    def _lists(self, group: str) -> bool:
        """Whether the source's group list names ``group`` (False when it cannot tell)."""
        if not self.has_list:
            return False
        try:
            return group in _expand_names(self.grouplist())
        except GroupSourceError:
            return False

    def group_nodes(self, group: str) -> list[str]:
        """The nodes of ``group`` from ``mapall`` or ``map``.

        :raises UnknownGroupError: ``map`` exited non-zero, or printed nothing for a
            group the source does not list; or ``mapall`` alone does not name it.
        :raises GroupSourceError: the upcall could not run, was killed or timed out,
            or ``mapall`` failed.
        """
        with self._lock:
            mapping = self._refresh_mapall()
            if "map" not in self._upcalls:
                assert mapping is not None
                if group not in mapping:
                    raise UnknownGroupError(group, self.name)
                return _split(mapping[group])
            if not _SAFE_WORD.fullmatch(group):
                LOGGER.debug("group source %s: unsafe group name %r not passed to map",
                             self.name, group)
                raise UnknownGroupError(group, self.name)
            try:
                text = self._query("map", group, f' for group "{group}"', {"GROUP": group})
            except _UpcallExit as exc:
                if exc.broken:
                    raise exc.error from None
                LOGGER.debug("%s", exc.error)
                raise UnknownGroupError(group, self.name) from exc.error
            if text:
                return _split(text)
            if self._lists(group):
                return []
            raise UnknownGroupError(group, self.name)

    def grouplist(self) -> list[str]:
        """Group names from ``list`` (or from ``mapall`` while its answer is fresh).

        :raises GroupSourceNoUpcallError: no ``list`` nor ``mapall`` upcall.
        :raises GroupSourceError: the upcall failed.
        """
        with self._lock:
            mapping = self._refresh_mapall()
            if "list" in self._upcalls:
                try:
                    return _split(self._query("list", "", "", {}))
                except _UpcallExit as exc:
                    raise exc.error from None
            if mapping is not None:
                return list(mapping)
        raise GroupSourceNoUpcallError(self.name, 'no "list" upcall to list its groups')

    def all_nodes(self) -> list[str]:
        """All nodes from the ``all`` upcall.

        :raises GroupSourceNoUpcallError: there is no ``all`` upcall (node sets then take
            the union of the groups).
        :raises GroupSourceError: the upcall failed.
        """
        if "all" not in self._upcalls:
            raise GroupSourceNoUpcallError(self.name, 'no "all" upcall')
        with self._lock:
            try:
                return _split(self._query("all", "", "", {}))
            except _UpcallExit as exc:
                raise exc.error from None

    def node_groups(self, node: str) -> list[str]:
        """The groups of ``node`` from the ``reverse`` upcall.

        :raises GroupSourceError: no ``reverse`` upcall, a node name unsafe to pass to
            the shell, or the upcall failed.
        """
        if "reverse" not in self._upcalls:
            return super().node_groups(node)
        if not _SAFE_WORD.fullmatch(node):
            raise GroupSourceError(self.name, f'node name "{node}" holds characters that are '
                                   'unsafe in upcall "reverse"')
        with self._lock:
            try:
                return _split(self._query("reverse", node, f' for node "{node}"',
                                          {"NODE": node}))
            except _UpcallExit as exc:
                raise exc.error from None

    def clear_cache(self) -> None:
        """Forget every cached answer, fresh or not."""
        with self._lock:
            self._cache.clear()
            self._mapall = None


def _check_group_names(source: str, names: list[str]) -> list[str]:
    """Refuse group names that could not be written after ``@``."""
    for name in names:
        bad = sorted(ILLEGAL_GROUP_CHARS.intersection(name))
        if bad:
            raise GroupSourceError(source, f'group name "{name}" holds "{"".join(bad)}", '
                                   "which no group name may hold")
    return names


class GroupResolver:
    """Named group sources and a default one: what a node set asks about ``@group``.

    The method names and meanings are ClusterShell's ``NodeUtils.GroupResolver``'s;
    ``namespace`` is a source name, and ``None`` (or ``""``) means the default source.
    The default is ``default_source`` (a name or a source, added if new), else the
    first source added.

    With no source at all, asking for a group's nodes raises
    :class:`UnknownGroupError` with source ``None`` (for all nodes, the group ``*``),
    while the group list and a node's groups are empty.

    :raises UnknownGroupSourceError: ``default_source`` names no source given.
    :raises UsageError: two sources share a name.
    """

    def __init__(self, sources: Iterable[GroupSource] = (),
                 default_source: GroupSource | str | None = None) -> None:
        self._sources: dict[str, GroupSource] = {}
        self._default: str | None = None
        for source in sources:
            self.add_source(source)
        if isinstance(default_source, GroupSource):
            if self._sources.get(default_source.name) is not default_source:
                self.add_source(default_source)
            self._default = default_source.name
        elif default_source is not None:
            self.default_source_name = default_source

    @classmethod
    def from_config(cls, path: str | os.PathLike[str], *,
                    clock: Clock = time.monotonic) -> GroupResolver:
        """Load a ``groups.conf`` (see :func:`load_group_config`)."""
        return load_group_config(path, clock=clock)

    @classmethod
    def from_search_path(cls, paths: Iterable[str | os.PathLike[str]] | None = None, *,
                         clock: Clock = time.monotonic) -> GroupResolver:
        """Load the first ``groups.conf`` of ``paths`` that exists (default:
        :func:`group_config_paths`), or return a resolver with no source."""
        found = find_group_config(paths)
        return cls() if found is None else load_group_config(found, clock=clock)

    def __repr__(self) -> str:
        return f"GroupResolver(sources={self.sources()!r}, default={self._default!r})"

    @property
    def default_source_name(self) -> str | None:
        """The name of the default source; ``None`` when there is no source.

        Setting it to a name no source has raises :class:`UnknownGroupSourceError`.
        """
        return self._default

    @default_source_name.setter
    def default_source_name(self, name: str | None) -> None:
        if name is None:
            raise UsageError("default_source_name must be the name of a group source")
        if name not in self._sources:
            raise UnknownGroupSourceError(name)
        self._default = name

    def add_source(self, source: GroupSource) -> None:
        """Add a source; the first one added becomes the default.

        :raises UsageError: a source of that name is already there.
        """
        if source.name in self._sources:
            raise UsageError(f'group source "{source.name}" is already defined')
        self._sources[source.name] = source
        if self._default is None:
            self._default = source.name

    def sources(self) -> list[str]:
        """The names of all sources, the default first, then in the order added."""
        names = list(self._sources)
        if self._default is not None:
            names.remove(self._default)
            names.insert(0, self._default)
        return names

    def clear_cache(self) -> None:
        """Forget every source's cached answers."""
        for source in self._sources.values():
            source.clear_cache()

    def _source(self, namespace: str | None) -> GroupSource | None:
        """The source named ``namespace`` (default when empty); None when there is none."""
        if namespace:
            try:
                return self._sources[namespace]
            except KeyError:
                raise UnknownGroupSourceError(namespace) from None
        return None if self._default is None else self._sources[self._default]

    def group_nodes(self, group: str, namespace: str | None = None) -> list[str]:
        """The nodes of ``group`` in source ``namespace``, as node set words.

        :raises UnknownGroupError: the source has no such group (or there is no source).
        :raises UnknownGroupSourceError: no source is named ``namespace``.
        :raises GroupSourceError: the source failed to answer.
        """
        source = self._source(namespace)
        if source is None:
            raise UnknownGroupError(group, None)
        return source.group_nodes(group)

    def all_nodes(self, namespace: str | None = None) -> list[str]:
        """All nodes of source ``namespace`` (``@*``): its ``all`` upcall or group.

        :raises UnknownGroupError: there is no source at all (group ``*``).
        :raises UnknownGroupSourceError: no source is named ``namespace``.
        :raises GroupSourceNoUpcallError: the source has no ``all`` (node sets then take
            the union of its groups, as ClusterShell's do).
        :raises GroupSourceError: the source failed to answer.
        """
        source = self._source(namespace)
        if source is None:
            raise UnknownGroupError("*", None)
        return source.all_nodes()

    def grouplist(self, namespace: str | None = None) -> list[str]:
        """The group names of source ``namespace`` (they may hold ranges: ``rack[1-4]``).

        :raises UnknownGroupSourceError: no source is named ``namespace``.
        :raises GroupSourceError: the source cannot list its groups, failed, or gave a
            name holding one of :data:`ILLEGAL_GROUP_CHARS`.
        """
        source = self._source(namespace)
        if source is None:
            return []
        return _check_group_names(source.name, source.grouplist())

    def has_node_groups(self, namespace: str | None = None) -> bool:
        """Whether source ``namespace`` finds a node's groups itself (a ``reverse``
        upcall), so that :meth:`node_groups` answers; False for an unknown source."""
        try:
            source = self._source(namespace)
        except UnknownGroupSourceError:
            return False
        return source is not None and source.has_reverse

    def node_groups(self, node: str, namespace: str | None = None) -> list[str]:
        """The groups of ``node`` in source ``namespace``, from its ``reverse`` upcall.

        Without one, :meth:`NodeSet.groups() <shoal.nodeset.NodeSet.groups>` works the
        groups out from the group list, as ClusterShell's.

        :raises UnknownGroupSourceError: no source is named ``namespace``.
        :raises GroupSourceNoUpcallError: the source has no ``reverse`` upcall.
        :raises GroupSourceError: the upcall failed or gave an illegal group name.
        """
        source = self._source(namespace)
        if source is None:
            return []
        return _check_group_names(source.name, source.node_groups(node))


def load_group_config(path: str | os.PathLike[str], *,
                      clock: Clock = time.monotonic) -> GroupResolver:
    """Build a resolver from a ``groups.conf`` and its ``confdir``/``autodir`` files.

    Sources are added in ClusterShell's order (confdir files, autodir YAML files, then
    the sections of ``path``); the default is ``[Main] default``, else the first.
    ``clock`` drives cache expiry (tests pass their own).

    :raises ConfigError: a file is missing, unreadable or malformed; with its line
        when it is known.
    """
    config = read_group_config(path)
    sources: list[GroupSource] = []
    for item in config.sources:
        if isinstance(item, YAMLFileConfig):
            sources.extend(YAMLGroupFile(item.path, clock=clock, config=item).sources)
        else:
            timeout = DEFAULT_UPCALL_TIMEOUT if item.timeout is None else item.timeout
            sources.append(UpcallGroupSource(item.name, item.upcalls, cfgdir=item.cfgdir,
                                             cache_time=item.cache_time, timeout=timeout,
                                             clock=clock))
    return GroupResolver(sources, default_source=config.default)


def group_config_paths() -> list[Path]:
    """Where the standard resolver looks for ``groups.conf``, first match wins.

    shoal's own files first, then ClusterShell's in its order of precedence:

    1. ``$XDG_CONFIG_HOME/shoal/groups.conf`` (default ``~/.config/shoal/groups.conf``)
    2. ``/etc/shoal/groups.conf``
    3. ``$CLUSTERSHELL_CFGDIR/groups.conf``, when that variable is set
    4. ``$XDG_CONFIG_HOME/clustershell/groups.conf`` (default ``~/.config/clustershell``)
    5. ``~/.local/etc/clustershell/groups.conf``
    6. ``/etc/clustershell/groups.conf``

    ClusterShell also reads ``{sys.prefix}/etc/clustershell/groups.conf``; shoal does
    not, since in shoal's environment that file is the example ClusterShell's wheel
    installs, not a configuration. Environment variables are read at each call.
    """
    home = os.path.expanduser("~")
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    paths = [Path(config_home, "shoal", "groups.conf"), Path("/etc/shoal/groups.conf")]
    clustershell_dir = os.environ.get("CLUSTERSHELL_CFGDIR")
    if clustershell_dir:
        paths.append(Path(clustershell_dir, "groups.conf"))
    paths += [
        Path(config_home, "clustershell", "groups.conf"),
        Path(home, ".local", "etc", "clustershell", "groups.conf"),
        Path("/etc/clustershell/groups.conf"),
    ]
    return paths


def find_group_config(paths: Iterable[str | os.PathLike[str]] | None = None) -> Path | None:
    """The first existing file of ``paths`` (default :func:`group_config_paths`), or None.

    Only that file is read: where ClusterShell merges every ``groups.conf`` it finds
    key by key, shoal takes the first whole, so one file says everything.
    """
    for path in group_config_paths() if paths is None else paths:
        if os.path.isfile(path):
            return Path(path)
    return None


_std_lock = threading.Lock()
_std_resolver: GroupResolver | None = None
_std_config: str | None = None


def std_group_resolver() -> GroupResolver:
    """The process-wide resolver node sets use by default, built on first call.

    It comes from the file given to :func:`set_std_group_resolver_config`, else from
    the first file of :func:`group_config_paths` that exists, else it has no source.

    :raises ConfigError: the configuration is malformed (asked again on next call).
    """
    global _std_resolver
    with _std_lock:
        if _std_resolver is None:
            if _std_config is not None:
                _std_resolver = load_group_config(_std_config)
            else:
                _std_resolver = GroupResolver.from_search_path()
        return _std_resolver


def set_std_group_resolver(resolver: GroupResolver | None) -> None:
    """Replace the standard resolver; ``None`` goes back to searching on next use."""
    global _std_resolver, _std_config
    with _std_lock:
        _std_resolver = resolver
        _std_config = None


def set_std_group_resolver_config(path: str | os.PathLike[str] | None) -> None:
    """Build the standard resolver from ``path`` on next use (``--groupsconf``).

    ``None`` goes back to the search of :func:`group_config_paths`. Unlike
    ClusterShell, a ``path`` that does not exist is an error (on first use), not an
    empty configuration.
    """
    global _std_resolver, _std_config
    with _std_lock:
        _std_config = None if path is None else os.fspath(path)
        _std_resolver = None

