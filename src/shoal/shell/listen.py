"""Where a shell server listens: ``ssh://HOST:PORT``, ``telnet://HOST:PORT`` or ``unix:PATH``.

Servers bind loopback unless the user says otherwise (``--bind-any``): a deployment shell
runs commands on production hosts, so it is never offered to the network by accident.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal, NamedTuple

from shoal.errors import UsageError

__all__ = ["Listen", "parse_listen"]

Scheme = Literal["ssh", "telnet", "unix"]
DEFAULT_PORTS: dict[str, int] = {"ssh": 2022, "telnet": 2023}


class Listen(NamedTuple):
    """A parsed ``--listen`` address."""

    scheme: Scheme
    host: str = ""
    port: int = 0
    path: Path | None = None

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix:{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach the address."""
        if self.scheme == "unix" or self.host == "localhost":
            return True
        return ipaddress.ip_address(self.host).is_loopback


def parse_listen(text: str, *, bind_any: bool = False) -> Listen:
    """Parse ``text``; a non-loopback address needs ``bind_any``.

    >>> parse_listen("ssh://127.0.0.1:2022")
    Listen(scheme='ssh', host='127.0.0.1', port=2022, path=None)
    >>> str(parse_listen("telnet://[::1]:0"))
    'telnet://[::1]:0'
    """
    def bad(why: str) -> UsageError:
        return UsageError(f"--listen {text!r}: {why}")

    if text.startswith("unix:"):
        path = text[len("unix:"):]
        if not path:
            raise bad("a unix socket needs a path, as in unix:/run/user/1000/shoal/deploy.sock")
        return Listen("unix", path=Path(path).expanduser())
    scheme, sep, rest = text.partition("://")
    if not sep or scheme not in DEFAULT_PORTS:
        raise bad("expected ssh://HOST:PORT, telnet://HOST:PORT or unix:PATH")
    if rest.startswith("["):
        host, bracket, tail = rest[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise bad("an IPv6 address goes in brackets, as in [::1]:2022")
        port_text = tail[1:]
    else:
        host, _, port_text = rest.partition(":")
    if not host:
        raise bad("no host; use 127.0.0.1 for this machine only")
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise bad(f"host {host!r} is not an IP address (or localhost)") from None
    port = DEFAULT_PORTS[scheme]
    if port_text:
        if not port_text.isdigit() or int(port_text) > 65535:
            raise bad(f"port {port_text!r} is not a number from 0 to 65535")
        port = int(port_text)
    listen = Listen(scheme, host, port)  # type: ignore[arg-type]  # scheme checked above
    if not listen.loopback and not bind_any:
        raise bad(f"{host} is not a loopback address; add --bind-any to serve the network")
    return listen
