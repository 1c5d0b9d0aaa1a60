"""``shoal.conf``: settings for ``shoal run`` and ``shoal copy``, like clush's ``clush.conf``.

An INI file with one ``[Main]`` section, searched in order, the first that exists wins:

1. ``$XDG_CONFIG_HOME/shoal/shoal.conf`` (default ``~/.config/shoal/shoal.conf``)
2. ``/etc/shoal/shoal.conf``
3. clush's own ``clush.conf``: ``$XDG_CONFIG_HOME/clustershell/clush.conf``,
   ``~/.local/etc/clustershell/clush.conf``, ``/etc/clustershell/clush.conf``

``--conf FILE`` names another file; options on the command line win over the file.
``#`` after a space starts a comment, at the end of a line too. In a ``clush.conf`` (a
file of that name), clush's settings that shoal does not use (``history_size``,
``ssh_path``, ``confdir``, ``[mode:…]`` sections…) are skipped, with one warning that
lists them.

Keys (clush.conf's names, so a clush.conf can be copied over)::

    [Main]
    fanout: 64              # nodes in flight at once
    connect_timeout: 10     # seconds to connect and authenticate; 0 = no limit
                            # (default: the ssh config's ConnectTimeout, else 10)
    command_timeout: 0      # seconds a command may run; 0 = no limit
    color: auto             # auto, never or always
    ssh_user: admin         # login user, as -l
    ssh_options: -oPort=2222 -F /etc/shoal/ssh_config   # as -o
    node_groups: /etc/shoal/groups.conf   # groups.conf to read, as --groupsconf
    transport: ssh          # ssh (asyncssh, the default), openssh (the system ssh) or local
    verbosity: 1            # 0 quiet, 1 standard, 2 verbose
    node_count: yes         # show "(N)" after node sets in -b headers
    maxrc: no               # as -S: exit with the largest return code
    fd_max: 8192            # raise the open-files limit up to this
    max_output: 64M         # bytes of a node's output kept (-b, -L, --json); 0 = no limit
    topology: /etc/shoal/topology.conf   # tree mode: routes through gateways, as --topology
    heartbeat: 5            # tree mode: seconds between heartbeats on each gateway's link
    stall: 30               # tree mode: seconds of silence after which a gateway is dead
    gather_delay: 0.1       # tree mode: seconds a gateway groups output before sending it

An unknown key or a bad value is a :class:`~shoal.errors.ConfigError` naming the file and
the line. This module reads files and nothing else.
"""

from __future__ import annotations

import configparser
import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shoal.engine.gather import DEFAULT_MAX_OUTPUT
from shoal.errors import ConfigError
from shoal.hosts.base import UNSET, Unset
from shoal.hosts.choose import TRANSPORTS

__all__ = ["CLUSH_ONLY_KEYS", "COLORS", "RunConfig", "config_paths", "load_config"]

COLORS = ("auto", "never", "always")


@dataclass(frozen=True)
class RunConfig:
    """Settings of one ``shoal run``, from defaults, then the config file, then options."""

    fanout: int = 64
    connect_timeout: float | Unset | None = UNSET
    command_timeout: float | None = None
    color: str = "auto"
    ssh_user: str | None = None
    ssh_options: str = ""
    node_groups: str | None = None
    transport: str = "ssh"
    verbosity: int = 1
    node_count: bool = True
    maxrc: bool = False
    fd_max: int = 8192
    max_output: int | None = DEFAULT_MAX_OUTPUT
    topology: str | None = None  #: a topology file (docs/topology.md), as --topology
    heartbeat: float = 5.0  #: tree mode: seconds between heartbeats (docs/tree.md)
    stall: float = 30.0  #: tree mode: seconds of silence after which a gateway is dead
    gather_delay: float = 0.1  #: tree mode: seconds a gateway groups output
    source: str | None = None  #: the file these settings were read from, if any
    #: warnings about the file, one line each (the clush settings shoal skipped)
    warnings: tuple[str, ...] = ()

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` applied, skipping those that are None (not given)."""
        given = {key: value for key, value in changes.items() if value is not None}
        return dataclasses.replace(self, **given)


#: clush.conf's keys that shoal has no use for: skipped, with a warning, in a clush.conf.
CLUSH_ONLY_KEYS = frozenset({
    "command_prefix", "confdir", "history_size", "password_prompt", "rcp_path",
    "rsh_options", "rsh_path", "scp_options", "scp_path", "ssh_path",
})


def config_paths() -> list[Path]:
    """Where ``shoal.conf`` is looked for, first match wins; then clush's ``clush.conf``."""
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return [Path(xdg) / "shoal" / "shoal.conf", Path("/etc/shoal/shoal.conf"),
            Path(xdg) / "clustershell" / "clush.conf",
            Path.home() / ".local" / "etc" / "clustershell" / "clush.conf",
            Path("/etc/clustershell/clush.conf")]


def _line_of(text: str, key: str) -> int | None:
    """1-based line where ``key`` is set in ``text`` (configparser does not keep it)."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*[:=]", re.IGNORECASE)
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.match(line):
            return number
    return None


def _timeout(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError("not a number of seconds") from None
    if seconds < 0:
        raise ValueError("must be 0 (no limit) or more")
    return seconds or None


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError("not a number of seconds") from None
    if not seconds > 0:
        raise ValueError("must be more than 0")
    return seconds


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError("not a whole number") from None


def _positive_int(value: str) -> int:
    number = _integer(value)
    if number < 1:
        raise ValueError("must be 1 or more")
    return number


def _size(value: str) -> int | None:
    """Bytes, with an optional K, M or G (powers of 1024); 0: no limit (None)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    unit = units.get(value[-1:].upper(), 1)
    try:
        count = int(value[:-1] if unit > 1 else value)
    except ValueError:
        raise ValueError("not a size in bytes (such as 65536, 64K, 64M or 1G)") from None
    if count < 0:
        raise ValueError("must be 0 (no limit) or more")
    return count * unit or None


def _choice(choices: tuple[str, ...]) -> Any:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return check


def _boolean(value: str) -> bool:
    states = configparser.ConfigParser.BOOLEAN_STATES
    if value.lower() not in states:
        raise ValueError("must be yes or no")
    return states[value.lower()]


def _text(value: str) -> str:
    return value


#: key -> (RunConfig field, converter from text)
_KEYS: dict[str, tuple[str, Any]] = {
    "fanout": ("fanout", _positive_int),
    "connect_timeout": ("connect_timeout", _timeout),
    "command_timeout": ("command_timeout", _timeout),
    "color": ("color", _choice(COLORS)),
    "ssh_user": ("ssh_user", _text),
    "ssh_options": ("ssh_options", _text),
    "node_groups": ("node_groups", _text),
    "transport": ("transport", _choice(TRANSPORTS)),
    "verbosity": ("verbosity", _integer),
    "node_count": ("node_count", _boolean),
    "maxrc": ("maxrc", _boolean),
    "fd_max": ("fd_max", _positive_int),
    "max_output": ("max_output", _size),
    "topology": ("topology", _text),
    "heartbeat": ("heartbeat", _seconds),
    "stall": ("stall", _seconds),
    "gather_delay": ("gather_delay", _seconds),
}


def load_config(path: str | Path | None = None) -> RunConfig:
    """Read ``path``, or the first ``shoal.conf`` of :func:`config_paths`; defaults if none.

    :raises ConfigError: the file is unreadable, malformed, or sets an unknown key or a bad
        value (the message names the file and the line).
    """
    if path is None:
        found = next((p for p in config_paths() if p.is_file()), None)
        if found is None:
            return RunConfig()
        path = found
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(str(path), None, f"cannot read: {exc.strerror}") from exc
    clush = path.name == "clush.conf"
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#",))
    try:
        parser.read_string(text, source=str(path))
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(str(path), exc.lineno, "a [Main] section must come first") from exc
    except configparser.ParsingError as exc:
        line = exc.errors[0][0] if exc.errors else None
        raise ConfigError(str(path), line, "not a key: value line") from exc
    except configparser.Error as exc:
        line = getattr(exc, "lineno", None)
        reason = exc.message.splitlines()[0] if hasattr(exc, "message") else str(exc)
        raise ConfigError(str(path), line, reason) from exc
    skipped: list[tuple[int, str]] = []  # (line, what)
    for section in parser.sections():
        if clush and section.startswith("mode:"):
            skipped.append((_section_line(text, section) or 0, f"[{section}]"))
        elif section != "Main":
            raise ConfigError(str(path), _section_line(text, section),
                              f'unknown section "[{section}]"; shoal.conf has only [Main]')
    values: dict[str, Any] = {}
    if parser.has_section("Main"):
        for key, raw in parser.items("Main"):
            if clush and key in CLUSH_ONLY_KEYS:
                skipped.append((_line_of(text, key) or 0, key))
                continue
            if key not in _KEYS:
                known = ", ".join(sorted(_KEYS))
                raise ConfigError(str(path), _line_of(text, key),
                                  f'unknown key "{key}" (known keys: {known})')
            field, convert = _KEYS[key]
            try:
                values[field] = convert(raw.strip())
            except ValueError as exc:
                raise ConfigError(str(path), _line_of(text, key),
                                  f'{key} "{raw.strip()}": {exc}') from exc
    listed = ", ".join(f"{what} (line {line})" for line, what in sorted(skipped))
    warnings = (f"{path}: skipped clush settings that shoal does not use: {listed}",
                ) if skipped else ()
    return RunConfig(source=str(path), warnings=warnings, **values)


def _section_line(text: str, section: str) -> int | None:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip() == f"[{section}]":
            return number
    return None
