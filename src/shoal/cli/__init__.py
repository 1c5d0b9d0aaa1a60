"""The ``shoal`` command line: one click group, subcommands loaded on demand.

Each subcommand lives in its own module (``nodeset_cmd``, ``run_cmd``; ``shoal testbed``
in :mod:`shoal.testbed.command`, since no product layer imports the testbed) and is
imported only when it runs, so ``shoal nodeset`` never pays for asyncssh.
"""

from __future__ import annotations

from shoal.cli.app import main

__all__ = ["main"]
