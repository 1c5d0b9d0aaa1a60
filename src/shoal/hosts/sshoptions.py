"""Which ssh options the SSH transport (asyncssh) honours, and how: none is ignored.

An ssh ``-o Key=Value`` setting (:attr:`~shoal.hosts.base.ConnectOptions.options`) is
one of:

* **honoured by asyncssh's ssh config parser**, as OpenSSH would (``Port``, ``User``,
  ``IdentityFile``, ``ProxyJump``, ``ServerAliveInterval``, ``Ciphers``…): the settings
  are written as config lines read before the files, so they win, as on ssh's command
  line;
* **mapped by shoal**: ``StrictHostKeyChecking`` (:mod:`shoal.hosts.hostkeys`) and
  ``ConnectTimeout``, which asyncssh skips or shoal decides;
* **accepted when the value says what the transport does anyway** (``BatchMode=yes``,
  ``LogLevel=ERROR``…);
* **refused** with one line that names it and the alternative, usually
  ``--transport openssh``, whose ``ssh`` honours every option.

The same keywords in ssh config *files* follow the files' rules: asyncssh skips those it
does not know, as they are often written for OpenSSH alone, except
``StrictHostKeyChecking``, which :func:`keep_strict_host_key_checking` makes its parser
keep, so a ``Host`` block's value applies (``ConnectTimeout`` and ``ServerAlive*`` it
reads anyway).

This module imports asyncssh: only :mod:`shoal.hosts.ssh` uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from asyncssh.config import SSHClientConfig, SSHConfig

from shoal.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["HONOURED", "IMPLIED", "check_options", "host_key_mode",
           "keep_strict_host_key_checking"]

#: Options asyncssh's config parser reads and the SSH transport acts on (lower case).
HONOURED = frozenset(name.lower() for name in (
    "AddressFamily", "BindAddress", "CanonicalDomains", "CanonicalizeFallbackLocal",
    "CanonicalizeHostname", "CanonicalizeMaxDots", "CanonicalizePermittedCNAMEs",
    "CASignatureAlgorithms", "ChallengeResponseAuthentication", "Ciphers", "Compression",
    "ConnectTimeout", "EnableSSHKeySign", "ForwardAgent", "ForwardX11Trusted",
    "GlobalKnownHostsFile", "GSSAPIAuthentication", "GSSAPIDelegateCredentials",
    "GSSAPIKeyExchange", "HostbasedAuthentication", "HostKeyAlgorithms", "HostKeyAlias",
    "Hostname", "IdentitiesOnly", "IdentityAgent", "IdentityFile",
    "KbdInteractiveAuthentication", "KexAlgorithms", "MACs", "PasswordAuthentication",
    "PKCS11Provider", "PreferredAuthentications", "Port", "ProxyCommand", "ProxyJump",
    "PubkeyAuthentication", "RekeyLimit", "RequestTTY", "SendEnv", "ServerAliveCountMax",
    "ServerAliveInterval", "SetEnv", "StrictHostKeyChecking", "Tag", "TCPKeepAlive", "User",
    "UserKnownHostsFile",
))

#: Options accepted only with values that describe what the SSH transport always does:
#: lower-case name -> (those values, what it does instead of the others).
IMPLIED: dict[str, tuple[frozenset[str], str]] = {
    "batchmode": (frozenset({"yes"}), "never prompts for passwords or host keys"),
    "checkhostip": (frozenset({"no"}),
                    "checks host keys by name and address together, as CheckHostIP=no"),
    "controlmaster": (frozenset({"no"}),
                      "shares one connection per node itself, without control sockets"),
    "forwardx11": (frozenset({"no"}), "never forwards X11 connections"),
    "loglevel": (frozenset({"quiet", "fatal", "error"}), "prints no ssh diagnostics"),
    "updatehostkeys": (frozenset({"no"}),
                       "never rewrites known_hosts from the keys a server offers"),
}

#: Options refused with a reason of their own rather than "use --transport openssh".
_REFUSED = {
    "host": "Host blocks belong in a config file: pass it with -F FILE",
    "match": "Match blocks belong in a config file: pass it with -F FILE",
    "include": "pass the file itself with -F FILE",
    "remotecommand": "shoal runs the command it is given",
}

#: StrictHostKeyChecking values, as OpenSSH reads them, to the policy's modes. ``ask``
#: is ``yes``: a run never prompts (OpenSSH's BatchMode does the same).
_HOST_KEY_MODES = {
    "yes": "yes", "true": "yes", "ask": "yes",
    "accept-new": "accept-new",
    "no": "no", "off": "no", "false": "no",
}


def host_key_mode(value: str) -> str | None:
    """The host-key mode (``yes``, ``accept-new`` or ``no``) for a StrictHostKeyChecking value.

    >>> host_key_mode("Accept-New"), host_key_mode("off"), host_key_mode("ask")
    ('accept-new', 'no', 'yes')
    >>> host_key_mode("maybe") is None
    True
    """
    return _HOST_KEY_MODES.get(value.lower())


def check_options(pairs: Sequence[tuple[str, str]]) -> None:
    """Refuse the ``-o`` settings the SSH transport would not honour; the rest pass.

    >>> check_options([("Port", "2222"), ("StrictHostKeyChecking", "no"), ("LogLevel", "ERROR")])
    >>> check_options([("ForwardX11", "yes")])
    Traceback (most recent call last):
    ...
    shoal.errors.UsageError: ssh option "ForwardX11=yes": the ssh transport never forwards X11 \
connections; use --transport openssh

    :raises UsageError: the first setting refused, named, with what to do instead.
    """
    for key, value in pairs:
        name = key.lower()
        if name == "stricthostkeychecking" and host_key_mode(value) is None:
            raise UsageError(f'ssh option "{key}": "{value}" is not yes, accept-new, no or ask')
        if name in HONOURED:
            continue
        if name in IMPLIED:
            accepted, instead = IMPLIED[name]
            if value.lower() in accepted:
                continue
            raise UsageError(f'ssh option "{key}={value}": the ssh transport {instead}; '
                             "use --transport openssh")
        why = _REFUSED.get(name, "not supported by the ssh transport; use --transport openssh")
        raise UsageError(f'ssh option "{key}": {why}')


def keep_strict_host_key_checking() -> None:
    """Make asyncssh's ssh config parser keep ``StrictHostKeyChecking`` (it skips it).

    Then one parse of the config, with asyncssh's own ``Host``, ``Match`` and ``Include``
    rules and first-value-wins, gives a node's value as it gives every other keyword's:
    ``options.config.get("StrictHostKeyChecking")``. asyncssh offers no public hook for
    this; a test of a ``Host`` block's value guards it. Safe to call twice.
    """
    handlers = SSHClientConfig._handlers
    handlers.setdefault("stricthostkeychecking",
                        ("StrictHostKeyChecking", SSHConfig._set_string))
