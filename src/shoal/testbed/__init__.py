"""The loopback SSH testbed: a real OpenSSH sshd on 127.0.0.1 behind many host aliases.

One implementation serves three ways: this Python API, the ``testbed`` pytest fixture
(``tests/conftest.py``) and the ``shoal testbed`` command::

    from shoal import testbed

    with testbed.running(nodes=200) as bed:
        subprocess.run(bed.ssh_command("node7", "hostname"), check=True)

Modules: :mod:`~shoal.testbed.config` writes the configuration text (pure),
:mod:`~shoal.testbed.tools` finds the OpenSSH programs, :mod:`~shoal.testbed.user` makes
the login account ready, :mod:`~shoal.testbed.sshd` runs the server and
:mod:`~shoal.testbed.command` is ``shoal testbed``. A leaf beside the layers: it may
import them (today :mod:`shoal.errors` and :mod:`shoal.nodeset`); no product layer imports
it (the command line names its command module in a table, loaded on use).
"""

from __future__ import annotations

from shoal.testbed.config import STATE_FILE
from shoal.testbed.sshd import Testbed, default_directory, load, running, start, stop
from shoal.testbed.user import LOGIN_USER

__all__ = [
    # the testbed
    "Testbed",
    "load",
    "running",
    "start",
    "stop",
    # where it keeps its files, who it logs in as
    "LOGIN_USER",
    "STATE_FILE",
    "default_directory",
]
