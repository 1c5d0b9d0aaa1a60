"""Hosts of a deployment: python-deployer's ``deployer.host``.

:class:`SSHHost` and :class:`LocalHost` are declared as classes and made by the
framework; each runs commands (``run``, ``sudo``), opens remote files (``open``,
``put_file``, ``get_file``) and answers questions (``exists``, ``stat``, ``listdir``…)
over one connection per host class, in the :class:`HostContext` of its ``cd``,
``prefix`` and ``env`` blocks. Every method has an ``_async`` twin.
"""

from __future__ import annotations

from shoal.deploy.host.base import NOT_SURE_IN_SANDBOX, Host, Stat, SudoPasswordError
from shoal.deploy.host.context import HostContext
from shoal.deploy.host.local import LocalHost
from shoal.deploy.host.ssh import SSHHost

__all__ = [
    # hosts
    "Host",
    "LocalHost",
    "SSHHost",
    # what they give and take
    "HostContext",
    "NOT_SURE_IN_SANDBOX",
    "Stat",
    "SudoPasswordError",
]
