"""Reading ClusterShell's group configuration files: ``groups.conf`` and ``groups.d/*.yaml``.

This module turns configuration files into plain values; it builds no group source
and runs no command (:mod:`shoal.nodeset.groups` does both). Its only I/O is reading
the files and listing the ``confdir``/``autodir`` directories. It imports nothing from
shoal but :mod:`shoal.errors`.

The formats are ClusterShell's (``man 5 groups.conf``):

- ``groups.conf`` is an INI file read by :mod:`configparser` with ClusterShell's
  settings (``key: value`` or ``key = value``, ``#``/``;`` comments, indented
  continuation lines, a ``[DEFAULT]`` section whose keys every section inherits).
  ``[Main]`` takes ``default``, ``confdir`` (alias ``groupsdir``, which wins) and
  ``autodir``; every other section is a group source, and a section named ``a,b``
  defines the sources ``a`` and ``b`` alike. A source has a ``map`` or ``mapall``
  upcall, and optionally ``all``, ``list``, ``reverse`` and ``cache_time``.
- ``confdir`` and ``autodir`` list directories, separated by spaces (shell quoting
  allowed); ``$CFGDIR`` in them is the directory of ``groups.conf``. Each ``*.conf``
  in a confdir holds more source sections; each ``*.yaml`` in an autodir maps source
  names to mappings of group names to node sets (a string or a list of strings).
  Missing directories are skipped, as are files the user may not read.

Both shoal and ClusterShell refuse a source name defined twice and a
``confdir``/``autodir`` entry that exists but is not a directory. shoal also refuses,
with the file and line, what ClusterShell lets pass: an unknown key (ClusterShell
ignores ``mapp: ...``), a ``[Main]`` section in a confdir file, a negative
``cache_time``, a YAML group whose value is neither a string nor a list of strings.
It takes one key ClusterShell does not know (and would ignore): ``timeout``, the
seconds each upcall may run.

>>> conf = parse_groups_conf("[Main]\\ndefault: racks\\n[racks,r]\\nmap: echo n1\\n",
...                          "groups.conf", "/etc/shoal")
>>> conf.default, [s.name for s in conf.sources]
('racks', ['racks', 'r'])
>>> parse_groups_yaml("local:\\n  web: 'web[1-4]'\\n  db: [db1, db2]\\n", "local.yaml")
{'local': {'web': 'web[1-4]', 'db': 'db1,db2'}}
"""

from __future__ import annotations

import configparser
import glob
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import yaml

from shoal.errors import ConfigError

__all__ = [
    "MAIN_KEYS",
    "MAIN_SECTION",
    "SOURCE_KEYS",
    "UPCALLS",
    "GroupConfig",
    "GroupsConf",
    "UpcallSourceConfig",
    "YAMLFileConfig",
    "parse_groups_conf",
    "parse_groups_yaml",
    "read_group_config",
    "read_yaml_file",
]

#: The section of ``groups.conf`` that holds global options.
MAIN_SECTION = "Main"

#: Keys of ``[Main]``.
MAIN_KEYS = frozenset({"default", "confdir", "groupsdir", "autodir"})

#: The upcalls a source section may define.
UPCALLS = ("map", "mapall", "all", "list", "reverse")

#: Keys of a group source section: the upcalls, ``cache_time`` and shoal's ``timeout``.
SOURCE_KEYS = frozenset({*UPCALLS, "cache_time", "timeout"})

_SECTION_RE = re.compile(r"\[(?P<header>.+)\]")  # configparser's SECTCRE
_OPTION_RE = re.compile(r"(?P<option>.*?)\s*[=:]\s*.*$")


@dataclass(frozen=True)
class UpcallSourceConfig:
    """One group source section of a ``groups.conf`` file (or of a confdir file).

    ``upcalls`` maps each upcall present (``map``, ``mapall``, ``all``, ``list``,
    ``reverse``) to its raw command template; ``cfgdir`` is what ``$CFGDIR`` stands
    for and where the commands run; ``path`` and ``line`` say where it was defined.
    """

    name: str
    upcalls: Mapping[str, str]
    cfgdir: str
    cache_time: float | None = None
    timeout: float | None = None
    path: str = ""
    line: int | None = None


@dataclass(frozen=True)
class GroupsConf:
    """What one INI file says: its ``[Main]`` options and its source sections.

    ``default`` is ``None`` when ``[Main]`` has no ``default`` key; ``confdirs`` and
    ``autodirs`` are the directories listed, with ``$CFGDIR`` replaced, normalised and
    without duplicates. ``lines`` gives the line of each ``[Main]`` key that is set.
    """

    path: str
    default: str | None = None
    confdirs: tuple[str, ...] = ()
    autodirs: tuple[str, ...] = ()
    sources: tuple[UpcallSourceConfig, ...] = ()
    lines: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class YAMLFileConfig:
    """One ``*.yaml`` file of an autodir: source name -> group name -> node set string."""

    path: str
    sources: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class GroupConfig:
    """A whole group configuration, ready to build a resolver from.

    ``sources`` lists every source in ClusterShell's order: those of the confdir
    files first, then those of the autodir YAML files, then the sections of the main
    file. ``default`` is the name of the default source (``None`` when there is no
    source at all): ``[Main] default`` when set and not empty, else the first source.
    """

    path: str
    sources: tuple[UpcallSourceConfig | YAMLFileConfig, ...]
    default: str | None


def _one_line(text: str) -> str:
    """Fold a message onto one line, since a ConfigError is printed as it stands."""
    return " ".join(text.split())


def _read_text(path: str, *, optional: bool = False) -> str | None:
    """Read a UTF-8 file; with ``optional``, ``None`` for a file we may not read."""
    try:
        data = Path(path).read_bytes()
    except (PermissionError, IsADirectoryError) as exc:
        if optional:
            return None
        raise ConfigError(path, None, f"cannot read: {exc.strerror}") from exc
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(path, line, "not UTF-8 text") from exc


class _IniLines:
    """Line numbers of the sections and keys of an INI text (configparser keeps none)."""

    def __init__(self, text: str) -> None:
        self.sections: dict[str, int] = {}
        self.keys: dict[tuple[str, str], int] = {}
        section: str | None = None
        in_option = False
        for lineno, raw in enumerate(text.splitlines(), start=1):
            stripped = raw.strip()
            if not stripped or stripped.startswith(("#", ";")):
                continue
            if raw[0].isspace() and in_option:
                continue  # continuation of the previous value
            match = _SECTION_RE.match(stripped)
            if match:
                section = match.group("header")
                self.sections.setdefault(section, lineno)
                in_option = False
                continue
            match = _OPTION_RE.match(stripped)
            if match and section is not None:
                key = (section, match.group("option").rstrip().lower())
                self.keys.setdefault(key, lineno)
                in_option = True

    def key(self, section: str, key: str) -> int | None:
        """The line of ``key`` in ``section``, or in ``[DEFAULT]`` when inherited from it."""
        return self.keys.get((section, key), self.keys.get(("DEFAULT", key)))


def _parse_ini(text: str, path: str) -> tuple[configparser.ConfigParser, _IniLines]:
    """Parse INI text as ClusterShell does, turning every syntax error into ConfigError."""
    parser = configparser.ConfigParser(interpolation=None)
    lines = text.splitlines()
    try:
        parser.read_string(text, source=path)
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(path, exc.lineno, "a [section] header must come before any key") \
            from exc
    except configparser.DuplicateSectionError as exc:
        raise ConfigError(path, exc.lineno, f"section [{exc.section}] is defined twice") \
            from exc
    except configparser.DuplicateOptionError as exc:
        raise ConfigError(path, exc.lineno,
                          f'key "{exc.option}" appears twice in section [{exc.section}]') from exc
    except configparser.ParsingError as exc:
        lineno = exc.errors[0][0] if exc.errors else None
        bad = lines[lineno - 1].strip() if lineno and lineno <= len(lines) else ""
        raise ConfigError(path, lineno, f'expected "key: value" or "[section]", got "{bad}"') \
            from exc
    except configparser.Error as exc:
        raise ConfigError(path, None, _one_line(str(exc))) from exc
    return parser, _IniLines(text)


def _number(path: str, line: int | None, key: str, value: str, *, positive: bool) -> float:
    """A float option such as ``cache_time: 60``."""
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(path, line, f'{key} "{value}" is not a number of seconds') from None
    if number != number or (positive and number <= 0) or number < 0:
        want = "greater than 0" if positive else "0 or more"
        raise ConfigError(path, line, f'{key} "{value}" must be {want}')
    return number


def _directories(spec: str, cfgdir: str, path: str, line: int | None) -> tuple[str, ...]:
    """Split a ``confdir``/``autodir`` value: shell words, ``$CFGDIR`` replaced, no repeats."""
    try:
        words = shlex.split(spec)
    except ValueError as exc:
        raise ConfigError(path, line, f'cannot split "{spec}": {exc}') from exc
    seen: list[str] = []
    for word in words:
        directory = os.path.normpath(Template(word).safe_substitute(CFGDIR=cfgdir))
        if directory not in seen:
            seen.append(directory)
    return tuple(seen)


def parse_groups_conf(text: str, path: str, cfgdir: str, *,
                      main_allowed: bool = True) -> GroupsConf:
    """Parse the text of a ``groups.conf`` (or, without ``main_allowed``, a confdir file).

    ``path`` names the file in errors; ``cfgdir`` replaces ``$CFGDIR`` in ``confdir``
    and ``autodir`` and becomes the ``cfgdir`` of every source defined here (the
    directory where its upcalls run and what ``$CFGDIR`` means in them).

    :raises ConfigError: a syntax error, an unknown key, a source with neither ``map``
        nor ``mapall``, a ``cache_time`` or ``timeout`` that is not a number, or a
        ``[Main]`` section where none is allowed; with the line when it is known.

    >>> parse_groups_conf("[a]\\nlist: echo x\\n", "g.conf", "/tmp")
    Traceback (most recent call last):
    ...
    shoal.errors.ConfigError: g.conf line 1: group source [a] needs a "map" or "mapall" upcall
    """
    parser, lines = _parse_ini(text, path)
    for key in parser.defaults():
        if key not in SOURCE_KEYS:
            raise ConfigError(path, lines.key("DEFAULT", key), f'unknown key "{key}" in [DEFAULT]')

    default: str | None = None
    confdirs: tuple[str, ...] = ()
    autodirs: tuple[str, ...] = ()
    main_lines: dict[str, int] = {}
    if parser.has_section(MAIN_SECTION):
        if not main_allowed:
            raise ConfigError(path, lines.sections.get(MAIN_SECTION),
                              f"a [{MAIN_SECTION}] section belongs in groups.conf, "
                              "not in a confdir file")
        own = [k for k in parser.options(MAIN_SECTION) if k not in parser.defaults()]
        for key in own:
            if key not in MAIN_KEYS:
                raise ConfigError(path, lines.key(MAIN_SECTION, key),
                                  f'unknown key "{key}" in [{MAIN_SECTION}] '
                                  f"(known: {', '.join(sorted(MAIN_KEYS))})")
            line = lines.key(MAIN_SECTION, key)
            if line is not None:
                main_lines[key] = line
        main = parser[MAIN_SECTION]
        if "default" in own:
            default = main["default"].strip()
        confkey = "groupsdir" if "groupsdir" in own else "confdir"
        if confkey in own:
            confdirs = _directories(main[confkey], cfgdir, path, lines.key(MAIN_SECTION, confkey))
            if confkey in main_lines:
                main_lines["confdir"] = main_lines[confkey]
        if "autodir" in own:
            autodirs = _directories(main["autodir"], cfgdir, path,
                                    lines.key(MAIN_SECTION, "autodir"))

    sources: list[UpcallSourceConfig] = []
    for section in parser.sections():
        if section == MAIN_SECTION:
            continue
        header = lines.sections.get(section)
        values = parser[section]
        for key in values:
            if key not in SOURCE_KEYS:
                raise ConfigError(path, lines.key(section, key),
                                  f'unknown key "{key}" in group source [{section}] '
                                  f"(known: {', '.join(sorted(SOURCE_KEYS))})")
        upcalls = {name: values[name].strip() for name in UPCALLS
                   if values.get(name, "").strip()}
        if "map" not in upcalls and "mapall" not in upcalls:
            raise ConfigError(path, header,
                              f'group source [{section}] needs a "map" or "mapall" upcall')
        cache_time = timeout = None
        if "cache_time" in values:
            cache_time = _number(path, lines.key(section, "cache_time"), "cache_time",
                                 values["cache_time"].strip(), positive=False)
        if "timeout" in values:
            timeout = _number(path, lines.key(section, "timeout"), "timeout",
                              values["timeout"].strip(), positive=True)
        for name in section.split(","):
            name = name.strip()
            if name == MAIN_SECTION:
                continue  # "[Main,x]" defines x only, as in ClusterShell
            if not name:
                raise ConfigError(path, header, f"section [{section}] has an empty source name")
            sources.append(UpcallSourceConfig(name, upcalls, cfgdir, cache_time, timeout,
                                              path, header))
    return GroupsConf(path, default, confdirs, autodirs, tuple(sources), main_lines)


def _yaml_key_line(loader: yaml.SafeLoader, node: yaml.Node | None, key: object) -> int | None:
    """The line of ``key`` in a YAML mapping node (the last one, as a dict keeps it)."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for knode, _ in reversed(node.value):
        try:
            if loader.construct_object(knode, deep=True) == key:
                return int(knode.start_mark.line) + 1
        except yaml.YAMLError:
            continue
    return None


def _yaml_value_node(loader: yaml.SafeLoader, node: yaml.Node | None,
                     key: object) -> yaml.Node | None:
    """The value node of ``key`` in a YAML mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return None
    for knode, vnode in reversed(node.value):
        try:
            if loader.construct_object(knode, deep=True) == key:
                return vnode if isinstance(vnode, yaml.Node) else None
        except yaml.YAMLError:
            continue
    return None


def _mark_line(node: yaml.Node | None) -> int | None:
    return int(node.start_mark.line) + 1 if node is not None else None


def parse_groups_yaml(text: str, path: str) -> dict[str, dict[str, str]]:
    """Parse a ClusterShell YAML group file into source -> group -> node set string.

    A group's value may be a string, a list of strings (joined with ``,``, as
    ClusterShell does) or empty (an empty group). The key ``all``, when present, is
    both a group and the source's list of all nodes, as in ClusterShell.

    :raises ConfigError: invalid YAML (with its line and column), or content that is
        not a mapping of source names to mappings of group names to node sets.

    >>> try:
    ...     parse_groups_yaml("roles:\\n  adm: n1\\n  - x\\n", "r.yaml")
    ... except ConfigError as exc:
    ...     print(exc.line, exc.reason)
    3 invalid YAML at column 3: expected <block end>, but found '-' (while parsing a block mapping)
    >>> try:
    ...     parse_groups_yaml("roles:\\n  7: n1\\n", "r.yaml")
    ... except ConfigError as exc:
    ...     print(exc)
    r.yaml line 2: group name 7 in source "roles" is not a string (add quotes?)
    """
    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
            data = loader.construct_document(root) if root is not None else None
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = int(mark.line) + 1 if mark is not None else None
            column = f" at column {int(mark.column) + 1}" if mark is not None else ""
            context = f" ({exc.context})" if exc.context else ""
            raise ConfigError(path, line, _one_line(
                f"invalid YAML{column}: {exc.problem}{context}")) from exc
        except yaml.YAMLError as exc:
            raise ConfigError(path, None, _one_line(f"invalid YAML: {exc}")) from exc
        return _check_yaml(loader, root, data, path)
    finally:
        loader.dispose()


def _check_yaml(loader: yaml.SafeLoader, root: yaml.Node | None, data: object,
                path: str) -> dict[str, dict[str, str]]:
    """Check the shape of a parsed YAML group file, naming the line of any fault."""
    if not isinstance(data, dict):
        raise ConfigError(path, _mark_line(root) or 1,
                          "expected a mapping of group source names to groups")
    result: dict[str, dict[str, str]] = {}
    for source, groups in data.items():
        if not isinstance(source, str):
            raise ConfigError(path, _yaml_key_line(loader, root, source),
                              f"group source name {source!r} is not a string (add quotes?)")
        source_node = _yaml_value_node(loader, root, source)
        if not isinstance(groups, dict):
            raise ConfigError(path, _mark_line(source_node) or _yaml_key_line(loader, root, source),
                              f'group source "{source}" is not a mapping of group names '
                              "to node sets")
        checked: dict[str, str] = {}
        for group, nodes in groups.items():
            if not isinstance(group, str):
                raise ConfigError(path, _yaml_key_line(loader, source_node, group),
                                  f'group name {group!r} in source "{source}" is not a string '
                                  "(add quotes?)")
            if nodes is None:
                checked[group] = ""  # an empty group (ClusterShell GH#533)
            elif isinstance(nodes, str):
                checked[group] = nodes
            elif isinstance(nodes, list) and all(isinstance(n, str) for n in nodes):
                checked[group] = ",".join(nodes)
            else:
                value_node = _yaml_value_node(loader, source_node, group)
                raise ConfigError(path, _mark_line(value_node),
                                  f'group "{group}" in source "{source}": expected a node set '
                                  "string or a list of them")
        result[source] = checked
    return result


def _yaml_top_key_line(text: str, key: str) -> int | None:
    """The line where a top-level YAML key is written (best effort, for messages)."""
    pattern = re.compile(r"""(['"]?)""" + re.escape(key) + r"""\1\s*:""")
    for lineno, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return lineno
    return None


def read_yaml_file(path: str) -> YAMLFileConfig:
    """Read and parse one YAML group file.

    :raises ConfigError: the file cannot be read or is malformed.
    """
    text = _read_text(path)
    assert text is not None
    return YAMLFileConfig(path, parse_groups_yaml(text, path))


def _existing_directory(directory: str, path: str, line: int | None, key: str) -> bool:
    """Whether to scan ``directory``: missing is skipped, a file in its place is an error."""
    if os.path.isdir(directory):
        return True
    if os.path.exists(directory):
        raise ConfigError(path, line, f'{key} "{directory}" is not a directory')
    return False


def read_group_config(path: str | os.PathLike[str]) -> GroupConfig:
    """Read a ``groups.conf`` and every file its ``confdir`` and ``autodir`` point to.

    ``$CFGDIR`` is the directory of ``path``. Sources come in ClusterShell's order
    (confdir files sorted by name, then autodir YAML files sorted by name, then the
    sections of ``path``); unreadable files in those directories are skipped, as
    ClusterShell skips them.

    :raises ConfigError: a file is malformed, a source name is defined twice, a
        ``confdir``/``autodir`` entry is not a directory, or ``[Main] default`` names a
        source that is not defined.
    """
    main_path = os.fspath(path)
    cfgdir = os.path.dirname(os.path.abspath(main_path))
    text = _read_text(main_path)
    assert text is not None
    conf = parse_groups_conf(text, main_path, cfgdir)

    sources: list[UpcallSourceConfig | YAMLFileConfig] = []
    origin: dict[str, str] = {}

    def claim(name: str, where: str, line: int | None) -> None:
        if name in origin:
            raise ConfigError(where, line,
                              f'group source "{name}" is already defined in {origin[name]}')
        origin[name] = where

    for confdir in conf.confdirs:
        if not _existing_directory(confdir, main_path, conf.lines.get("confdir"), "confdir"):
            continue
        for filename in sorted(glob.glob(os.path.join(glob.escape(confdir), "*.conf"))):
            if not os.path.isfile(filename):
                continue
            part_text = _read_text(filename, optional=True)
            if part_text is None:
                continue
            part = parse_groups_conf(part_text, filename, confdir, main_allowed=False)
            for source in part.sources:
                claim(source.name, filename, source.line)
                sources.append(source)

    for autodir in conf.autodirs:
        if not _existing_directory(autodir, main_path, conf.lines.get("autodir"), "autodir"):
            continue
        for filename in sorted(glob.glob(os.path.join(glob.escape(autodir), "*.yaml"))):
            if not os.path.isfile(filename):
                continue
            yaml_text = _read_text(filename, optional=True)
            if yaml_text is None:
                continue
            parsed = parse_groups_yaml(yaml_text, filename)
            for name in parsed:
                claim(name, filename, _yaml_top_key_line(yaml_text, name))
            sources.append(YAMLFileConfig(filename, parsed))

    for source in conf.sources:
        claim(source.name, main_path, source.line)
        sources.append(source)

    if conf.default:
        if conf.default not in origin:
            raise ConfigError(main_path, conf.lines.get("default"),
                              f'default group source "{conf.default}" is not defined')
        default: str | None = conf.default
    else:
        default = next(iter(origin), None)
    return GroupConfig(main_path, tuple(sources), default)
