"""python-deployer's ``deployer.utils``: shell escaping, indenting, ``ifconfig`` parsing.

Pure helpers; this module imports nothing from shoal.

>>> print("echo '%s'" % esc1("it's"))
echo 'it'\\''s'
"""

from __future__ import annotations

import re

__all__ = [
    # strings
    "esc1",
    "esc2",
    "indent",
    # classes
    "isclass",
    # network
    "IfConfig",
    "NetworkInterface",
    "parse_ifconfig_output",
]


def esc1(string: str) -> str:
    """Escape single quotes, for text put between single quotes in a shell command.

    Single quotes are the safer choice: the shell expands nothing between them.

    >>> esc1("Here's some text")
    "Here'\\\\''s some text"
    """
    return string.replace("'", "'\\''")


def esc2(string: str) -> str:
    """Escape double quotes (``"`` becomes ``\\"``); ``$`` and backquotes still expand.

    >>> esc2('say "hi"')
    'say \\\\"hi\\\\"'
    """
    return string.replace('"', '\\"')


def indent(string: str, prefix: str = "    ") -> str:
    """Every line of ``string`` with ``prefix`` in front, each ending with a newline.

    >>> indent("a\\nb", "> ")
    '> a\\n> b\\n'
    """
    return "".join(f"{prefix}{line}\n" for line in string.split("\n"))


def isclass(obj: object) -> bool:
    """Whether ``obj`` is a class (python-deployer's Python 2 helper, kept for scripts)."""
    return isinstance(obj, type)


class NetworkInterface:
    """One network interface from ``ifconfig``: its ``name`` and IPv4 address ``ip``."""

    def __init__(self, name: str = "eth0") -> None:
        self._name = name
        self._ip: str | None = None

    @property
    def name(self) -> str:
        """The interface name, such as ``eth0``."""
        return self._name

    @property
    def ip(self) -> str | None:
        """The interface's IPv4 address, such as ``127.0.0.1`` (None: it has none)."""
        return self._ip

    def __repr__(self) -> str:
        return f"NetworkInterface(name={self.name!r}, ip={self.ip!r})"


class IfConfig:
    """The interfaces ``ifconfig`` printed, as :class:`NetworkInterface` objects."""

    def __init__(self, interfaces: list[NetworkInterface] | None = None) -> None:
        self._interfaces = list(interfaces or [])

    @property
    def interfaces(self) -> list[NetworkInterface]:
        """Every interface, in the order ``ifconfig`` printed them."""
        return self._interfaces

    def __repr__(self) -> str:
        return f"IfConfig(interfaces={self.interfaces!r})"

    def get_interface(self, name: str) -> NetworkInterface:
        """The interface called ``name``; :class:`AttributeError` if there is none."""
        for interface in self.interfaces:
            if interface.name == name:
                return interface
        raise AttributeError(f"no network interface {name!r}")

    def get_address(self, ip: str) -> NetworkInterface:
        """The interface with address ``ip``; :class:`AttributeError` if there is none."""
        for interface in self.interfaces:
            if interface.ip == ip:
                return interface
        raise AttributeError(f"no network interface with address {ip!r}")


_INET = re.compile(r"inet (?:addr:)?((?:[0-9]+\.){3}[0-9]+)")


def parse_ifconfig_output(output: str, only_active_interfaces: bool = True) -> IfConfig:
    """Parse what ``ifconfig`` printed (the net-tools and the BSD formats).

    :param only_active_interfaces: keep only the interfaces that have an IPv4 address.

    >>> text = "lo: flags=73<UP>  mtu 65536\\n        inet 127.0.0.1  netmask 255.0.0.0\\n"
    >>> parse_ifconfig_output(text).get_interface("lo").ip
    '127.0.0.1'
    """
    interfaces: list[NetworkInterface] = []
    current: NetworkInterface | None = None
    for line in output.split("\n"):
        if not line.strip():
            continue
        if not line[0].isspace():
            name, _, line = line.partition(" ")
            current = NetworkInterface(name.rstrip(":"))
            interfaces.append(current)
        if current is not None:
            for address in _INET.findall(line):
                current._ip = address
    if only_active_interfaces:
        interfaces = [i for i in interfaces if i.ip]
    return IfConfig(interfaces)
