"""The loopback SSH testbed: a real OpenSSH sshd on 127.0.0.1 behind many host aliases.

One implementation serves three ways: this Python API, the ``testbed`` pytest fixture
(``tests/conftest.py``) and the ``shoal testbed`` command. Layer: imports only
:mod:`shoal.errors`.
"""

from __future__ import annotations

from shoal.testbed.sshd import (
    LOGIN_USER,
    Testbed,
    default_directory,
    load,
    running,
    start,
    stop,
)

__all__ = [
    "LOGIN_USER",
    "Testbed",
    "default_directory",
    "load",
    "running",
    "start",
    "stop",
]
