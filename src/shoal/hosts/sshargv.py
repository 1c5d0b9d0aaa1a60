"""The argument vectors of the system ``ssh``: shoal's settings, then ``--``, then the node.

Shared by the ``openssh`` transport (:mod:`shoal.hosts.openssh`) and the tree's gateways
(:mod:`shoal.tree.workers`), so that both put shoal's settings first (``ssh`` keeps the
first value it reads), never let a prompt wait (``BatchMode=yes``: host keys are checked
as ``StrictHostKeyChecking`` says, and ``ask`` refuses) and always end the options with
``--``, so no node name reaches ``ssh``'s option parser (``-oProxyCommand=…`` would run
a local command).

>>> args = option_args([("Port", "2222")], config="/cfg", connect_timeout=4.4)
>>> ssh_argv("ssh", args + login_args("admin", None), "node1", ["uptime"])
['ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=4', '-o', 'Port=2222', '-F', '/cfg', \
'-l', 'admin', '--', 'node1', 'uptime']

Pure, and runs on Python 3.6 (gateways carry it): standard library only, no
annotation evaluated at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Final, Literal

__all__ = ["FROM_CONFIG", "login_args", "option_args", "ssh_argv"]

#: ``connect_timeout`` not given: the ssh config's ``ConnectTimeout`` applies.
FROM_CONFIG: Final = "config"


def option_args(options: Sequence[tuple[str, str]] = (), *, config: str | None = None,
                identities: Sequence[str] = (), known_hosts: str | None = None,
                accept_new_host_keys: bool = False,
                connect_timeout: float | Literal["config"] | None = FROM_CONFIG) -> list[str]:
    """``ssh``'s options for shoal's settings, in the order ``ssh`` must read them.

    :param options: ``-o Key=Value`` settings, after shoal's own and before the files.
    :param config: the ssh config file (``-F``); None: ssh's own defaults.
    :param identities: private key files to offer (``-i``).
    :param known_hosts: the ``UserKnownHostsFile`` to use instead of the config's.
    :param accept_new_host_keys: trust a host key never seen before
        (``StrictHostKeyChecking=accept-new``); a changed key still fails.
    :param connect_timeout: seconds to connect (rounded, at least 1), None for no limit,
        :data:`FROM_CONFIG` to leave it to the config files.
    """
    args = ["-o", "BatchMode=yes"]
    if accept_new_host_keys:
        args += ["-o", "StrictHostKeyChecking=accept-new"]
    if connect_timeout is None:
        args += ["-o", "ConnectTimeout=none"]
    elif connect_timeout != FROM_CONFIG:
        args += ["-o", f"ConnectTimeout={max(1, round(float(connect_timeout)))}"]
    if known_hosts is not None:
        args += ["-o", f"UserKnownHostsFile={known_hosts}"]
    for key, value in options:
        args += ["-o", f"{key}={value}"]
    if config is not None:
        args += ["-F", config]
    for identity in identities:
        args += ["-i", identity]
    return args


def login_args(user: str | None, port: int | None) -> list[str]:
    """``ssh``'s ``-l USER`` and ``-p PORT``, for those given (``scp`` spells them otherwise)."""
    return (["-l", user] if user is not None else []) + (["-p", str(port)] if port else [])


def ssh_argv(ssh: str, args: Sequence[str], node: str,
             command: Sequence[str] = ()) -> list[str]:
    """The whole ``ssh`` command line: the program, ``args``, ``--``, the node, the command."""
    return [ssh, *args, "--", node, *command]
