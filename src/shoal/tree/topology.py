"""Topology files: ClusterShell's ``topology.conf`` and shoal's YAML form, read and checked.

ClusterShell's format, read as ClusterShell reads it (its ``configparser``: ``#`` and ``;``
comment lines, values continued on indented lines, ``:`` or ``=``), from the ``[routes]``
section (``[Main]`` when there is none, as ClusterShell still accepts; other sections are
ignored)::

    [routes]
    admin: gw[1-2]             # admin reaches gw1 and gw2
    gw[1-2]: node[1-100]       # gw1 and gw2 share node[1-100]

The YAML form (a ``.yaml`` or ``.yml`` file) says the same::

    routes:
      admin: gw[1-2]
      gw[1-2]: node[1-100]

Both sides of a route are node sets; ``@group`` is resolved here, at the root. The root
is the left side holding this host (its name, short name or FQDN) or ``root_name``.
Every fault is a :class:`~shoal.errors.ConfigError` naming the file and the line:

    topology.conf line 4: node set "gw[1-": missing "]" at column 3

:func:`gateways_topology` builds the one-level tree of ``--gateways``. The result is a
:class:`~shoal.tree.routing.Topology`, which :class:`~shoal.tree.routing.Router` plans
runs with. Runs at the root only: reads files; PyYAML is imported for YAML files only.
"""

from __future__ import annotations

import configparser
import socket
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from shoal.errors import ConfigError, NodeSetError, UsageError
from shoal.nodeset import NO_GROUPS, NodeSet
from shoal.tree.routing import Group, Topology

__all__ = [
    "YAML_SUFFIXES",
    "gateways_topology",
    "host_names",
    "load_topology",
    "parse_conf",
    "parse_yaml",
    "resolve_topology",
]

#: file name endings read as the YAML form; any other file is read as topology.conf
YAML_SUFFIXES = (".yaml", ".yml")


class _Route:
    """One ``left: right`` line as written, with its node sets once resolved."""

    __slots__ = ("dst", "line", "src", "text")

    def __init__(self, src: NodeSet, dst: NodeSet, line: int | None, text: str) -> None:
        self.src = src
        self.dst = dst
        self.line = line
        self.text = text


class _Source:
    """A left side: sibling gateways, with every route written from them."""

    __slots__ = ("dst", "parent", "routes", "src")

    def __init__(self, route: _Route) -> None:
        self.src = route.src
        self.dst = route.dst.copy()
        self.routes = [route]
        self.parent: _Source | None = None

    @property
    def line(self) -> int | None:
        return self.routes[0].line


def host_names() -> Iterator[str]:
    """This host's names, as a root is looked for: the host name, its short form, then
    the FQDN (asked last: it may cost a DNS lookup)."""
    name = socket.gethostname()
    yield name
    yield name.split(".", 1)[0]
    yield socket.getfqdn()


def _node_set(text: str, path: str, line: int | None, side: str) -> NodeSet:
    try:
        nodes = NodeSet(text)
    except NodeSetError as exc:
        raise ConfigError(path, line, str(exc)) from exc
    if not nodes:
        raise ConfigError(path, line, f'empty node set on the {side} of a route: "{text}"')
    return nodes


def _route(src: str, dst: str, path: str, line: int | None) -> _Route:
    """A route from its two sides as written; both must be node sets, apart."""
    left = _node_set(src.strip(), path, line, "left")
    right = _node_set(dst.strip(), path, line, "right")
    both = left & right
    if both:
        raise ConfigError(path, line, f'route "{src.strip()}: {dst.strip()}": {both} on '
                                      "both sides")
    return _Route(left, right, line, f"{src.strip()}: {dst.strip()}")


def _where(path: str, line: int | None) -> str:
    return f"line {line}" if line is not None else path


def _sources(routes: list[_Route], path: str) -> list[_Source]:
    """Routes merged by left side, checked as ClusterShell checks them, and stricter: a
    left side is equal to or apart from every other, a node has one parent, and every
    left side lies within one right side or none (tree order: a parent, no loop)."""
    sources: list[_Source] = []
    for route in routes:
        for other in sources:
            if route.src == other.src:
                continue
            common = route.src & other.src
            if common:
                raise ConfigError(path, route.line, f'left side "{route.src}" shares {common} '
                                  f'with "{other.src}" ({_where(path, other.line)}): '
                                  "gateways that share targets are written as one left side")
        for other in sources:
            common = route.dst & other.dst
            if common and route.src != other.src:
                raise ConfigError(path, route.line, f"{common} reached from "
                                  f'"{route.src}" and from "{other.src}" '
                                  f"({_where(path, other.line)}): a node has one parent")
        same = next((s for s in sources if s.src == route.src), None)
        if same is None:
            sources.append(_Source(route))
        else:
            same.dst.update(route.dst)
            same.routes.append(route)
    for source in sources:
        for other in sources:
            inside = source.src & other.dst
            if not inside:
                continue
            if inside != source.src:
                raise ConfigError(path, source.line, f'left side "{source.src}" is only '
                                  f'partly on the right of "{other.src}" '
                                  f"({_where(path, other.line)}): "
                                  f"{source.src - other.dst} is not")
            source.parent = other
            break
    for source in sources:
        _check_loop(source, path)
    return sources


def _check_loop(source: _Source, path: str) -> None:
    chain = [source]
    parent = source.parent
    while parent is not None and parent not in chain:
        chain.append(parent)
        parent = parent.parent
    if parent is source:
        last = max(chain, key=lambda s: s.line or 0)
        start = chain.index(last)
        cycle = chain[start:] + chain[:start] + [last]
        hops = " -> ".join(f'"{s.src}"' for s in reversed(cycle))
        raise ConfigError(path, last.line, f"loop: {hops}")


def _find_root(sources: list[_Source], names: Iterable[str], path: str,
               given: bool) -> tuple[str, _Source]:
    tried: list[str] = []
    for name in names:
        if name in tried:
            continue
        tried.append(name)
        found = next((s for s in sources if name in s.src), None)
        if found is not None:
            return name, found
    if given:
        raise ConfigError(path, None, f'root "{tried[0]}" is on the left of no route')
    listed = ", ".join(f'"{name}"' for name in tried)
    raise ConfigError(path, None, f"this host ({listed}) is on the left of no route; "
                                  "name the root with --root-name")


def _group(source: _Source, sources: list[_Source]) -> Group:
    """The tree below ``source``: gateway groups and leaves, in the order of the file."""
    every_src = NodeSet.fromlist([s.src for s in sources])
    children: list[tuple[int, Group]] = []
    for child in sources:
        if child.parent is source:
            children.append((child.line or 0, _group(child, sources)))
    taken = NodeSet()
    for route in source.routes:
        leaf = route.dst - every_src - taken
        if leaf:
            taken.update(leaf)
            children.append((route.line or 0, Group(leaf, line=route.line)))
    children.sort(key=lambda item: item[0])
    return Group(source.src, [group for _, group in children], line=source.line)


def _root_name(name: str) -> str:
    """``name`` if it names one node (``--root-name``)."""
    nodes = NodeSet(name, resolver=NO_GROUPS)
    if len(nodes) != 1 or str(nodes) != name:
        raise UsageError(f'root name "{name}": not one node name')
    return name


def _topology(routes: list[_Route], path: str, root_name: str | None) -> Topology:
    sources = _sources(routes, path)
    names = [_root_name(root_name)] if root_name is not None else host_names()
    root, source = _find_root(sources, names, path, root_name is not None)
    tree = _group(source, sources)
    return Topology(root, tree.children, peers=source.src, source=path)


class _LineRecorder:
    """Notes the line each section and option of a ConfigParser was read from.

    configparser keeps no line numbers; but it stores what it reads in dictionaries of
    its ``dict_type``, one line at a time, so a dictionary that notes the line being
    read at each new key gives them exactly, continuation lines and all.
    """

    def __init__(self) -> None:
        self.line = 0
        self.lines: dict[int, dict[str, int]] = {}  # id(dictionary) -> key -> line
        self.sections: dict[str, dict[str, Any]] = {}  # name -> the section's dictionary
        self.section_lines: dict[str, int] = {}

    def dict_type(self) -> type[dict[str, Any]]:
        recorder = self

        class LineDict(dict[str, Any]):
            def __setitem__(self, key: str, value: Any) -> None:
                recorder.lines.setdefault(id(self), {}).setdefault(key, recorder.line)
                if isinstance(value, LineDict):  # a section, into the sections' dictionary
                    recorder.sections[key] = value
                    recorder.section_lines.setdefault(key, recorder.line)
                super().__setitem__(key, value)

        return LineDict

    def numbered(self, text: str) -> Iterator[str]:
        for self.line, line in enumerate(text.splitlines(keepends=True), 1):
            yield line

    def line_of(self, mapping: Mapping[str, Any], key: str) -> int | None:
        return self.lines.get(id(mapping), {}).get(key)


def _conf_items(text: str, path: str) -> list[tuple[str, str, int | None]]:
    """The ``[routes]`` (else ``[Main]``) items of a topology.conf with their lines, read
    by configparser with ClusterShell's settings."""
    recorder = _LineRecorder()
    parser = configparser.ConfigParser(dict_type=recorder.dict_type())
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # as ClusterShell
    try:
        parser.read_file(recorder.numbered(text), source=path)
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(path, exc.lineno, "a route before any section: the routes go "
                                            "under [routes]") from exc
    except configparser.DuplicateSectionError as exc:
        raise ConfigError(path, exc.lineno, f"section [{exc.section}] given twice") from exc
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(path, exc.lineno, f'left side "{exc.option}" given twice in '
                                            f"[{exc.section}]; join its right sides "
                                            "with \",\"") from exc
    except configparser.ParsingError as exc:
        line = exc.errors[0][0] if exc.errors else None
        raise ConfigError(path, line, 'not a route: write "nodes: nodes"') from exc
    name = "routes" if parser.has_section("routes") else "Main"
    if not parser.has_section(name):
        raise ConfigError(path, None, "no [routes] section")
    section = recorder.sections[name]
    items = []
    for key in parser.options(name):
        line = recorder.line_of(section, key) or recorder.line_of(parser.defaults(), key)
        try:
            value = parser.get(name, key)
        except configparser.InterpolationError as exc:
            raise ConfigError(path, line, exc.message.splitlines()[0]) from exc
        items.append((key, value, line))
    if not items:
        raise ConfigError(path, recorder.section_lines.get(name), f"no route in [{name}]")
    return items


def parse_conf(text: str, path: str = "topology.conf",
               root_name: str | None = None) -> Topology:
    """The tree of a ClusterShell ``topology.conf``, seen from this host or ``root_name``.

    >>> topology = parse_conf("[routes]\\nadmin: gw[1-2]\\ngw[1-2]: n[1-10]\\n",
    ...                       root_name="admin")
    >>> topology.groups
    (Group('gw[1-2]', children=1),)
    >>> parse_conf("[routes]\\nadmin: gw[1-\\n", root_name="admin")
    Traceback (most recent call last):
    ...
    shoal.errors.ConfigError: topology.conf line 2: node set "gw[1-": missing "]" at column 3

    :raises ConfigError: the file is malformed, a node set is, a route loops, a node
        has two parents, or the root is on the left of no route (file and line named).
    """
    routes = [_route(key, value, path, line) for key, value, line in _conf_items(text, path)]
    return _topology(routes, path, root_name)


def _yaml_text(node: Any, path: str, side: str, many: bool = False) -> str:
    """A side of a route: a scalar as text (null: empty), or with ``many`` a list of them."""
    import yaml

    if isinstance(node, yaml.ScalarNode):
        return "" if node.tag == "tag:yaml.org,2002:null" else str(node.value)
    if isinstance(node, yaml.SequenceNode) and many:
        return ",".join(_yaml_text(item, path, side) for item in node.value)
    kind = "a node set or a list of node sets" if many else "a node set"
    raise ConfigError(path, node.start_mark.line + 1, f"the {side} of a route must be {kind}")


def _yaml_routes(node: Any, path: str) -> list[_Route]:
    """Routes from ``routes:``: a mapping, or a list of one-route mappings and pairs."""
    import yaml

    pairs: list[tuple[Any, Any, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            text = _yaml_text(key, path, "left")
            if text in seen:
                raise ConfigError(path, line, f'left side "{text}" given twice (first on '
                                              f"line {seen[text]}); join its right sides")
            seen[text] = line
            pairs.append((key, value, line))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            line = item.start_mark.line + 1
            if isinstance(item, yaml.MappingNode) and len(item.value) == 1:
                pairs.append((*item.value[0], line))
            elif isinstance(item, yaml.SequenceNode) and len(item.value) == 2:
                pairs.append((*item.value, line))
            else:
                raise ConfigError(path, line, 'a route is "left: right" or [left, right]')
    else:
        raise ConfigError(path, node.start_mark.line + 1,
                          "routes must be a mapping or a list of routes")
    return [_route(_yaml_text(src, path, "left"), _yaml_text(dst, path, "right", many=True),
                   path, line) for src, dst, line in pairs]


def parse_yaml(text: str, path: str = "topology.yaml",
               root_name: str | None = None) -> Topology:
    """The tree of a YAML topology (``routes:``), seen from this host or ``root_name``.

    ``routes`` maps left sides to right sides, or lists routes as one-entry mappings or
    ``[left, right]`` pairs; a right side may be a list of node sets. Values are read as
    text (no tags, no objects).

    >>> parse_yaml("routes:\\n  admin: gw1\\n  gw1: [n1, n2]\\n", root_name="admin").groups
    (Group('gw1', children=1),)

    :raises ConfigError: as :func:`parse_conf`, and for YAML faults (line named).
    """
    import yaml

    try:
        document = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(path, line, f"not YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(path, None, f"not YAML: {exc}") from exc
    if not isinstance(document, yaml.MappingNode):
        line = document.start_mark.line + 1 if document is not None else None
        raise ConfigError(path, line, 'a topology is a mapping with "routes"')
    found = None
    for key, value in document.value:
        if not isinstance(key, yaml.ScalarNode) or key.value != "routes":
            raise ConfigError(path, key.start_mark.line + 1,
                              f'unknown key "{getattr(key, "value", "?")}" (known: routes)')
        if found is not None:
            raise ConfigError(path, key.start_mark.line + 1, '"routes" given twice')
        found = value
    if found is None:
        raise ConfigError(path, None, 'no "routes"')
    routes = _yaml_routes(found, path)
    if not routes:
        raise ConfigError(path, found.start_mark.line + 1, "no route in routes")
    return _topology(routes, path, root_name)


def load_topology(path: str | Path, root_name: str | None = None) -> Topology:
    """The tree of the topology file ``path`` (YAML for :data:`YAML_SUFFIXES`, else
    ClusterShell's topology.conf), seen from this host or ``root_name``.

    :raises ConfigError: the file cannot be read or is malformed (file and line named).
    """
    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(name, None, f"cannot read: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(name, None, "not UTF-8 text") from exc
    parse = parse_yaml if name.endswith(YAML_SUFFIXES) else parse_conf
    return parse(text, name, root_name)


def gateways_topology(gateways: str | NodeSet, root_name: str | None = None) -> Topology:
    """The one-level tree of ``--gateways``: the gateways share every target that is not
    one of them; the root is ``root_name`` or this host's short name.

    >>> topology = gateways_topology("gw[1-4]", root_name="admin")
    >>> topology.groups
    (Group('gw[1-4]', children=0, rest=True),)

    :raises NodeSetParseError: ``gateways`` is malformed.
    :raises UsageError: it is empty or holds the root.
    """
    nodes = NodeSet(gateways)
    if not nodes:
        raise UsageError(f'--gateways "{gateways}": no gateway')
    root = _root_name(root_name) if root_name is not None \
        else socket.gethostname().split(".", 1)[0]
    if root in nodes:
        raise UsageError(f'--gateways "{gateways}": the root, {root}, is one of them')
    return Topology(root, [Group(nodes, rest=True)], source="--gateways")


def resolve_topology(file: str | Path | None = None, gateways: str | None = None,
                     root_name: str | None = None) -> Topology | None:
    """The tree the options ask for: ``--topology FILE`` or ``--gateways NODES`` (not
    both), seen from ``--root-name`` or this host; None when neither is given.

    :raises UsageError: both are given, or ``root_name`` without either.
    :raises ConfigError: the file is malformed.
    """
    if file is not None and gateways is not None:
        raise UsageError("--topology and --gateways exclude each other: give one")
    if gateways is not None:
        return gateways_topology(gateways, root_name)
    if file is not None:
        return load_topology(file, root_name)
    if root_name is not None:
        raise UsageError("--root-name needs a topology: --topology FILE or --gateways NODES")
    return None
