"""Run shoal's real command-line entry point inside the test process."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from click.testing import CliRunner

from shoal.cli import main


@dataclass(frozen=True)
class Outcome:
    """How one run ended: exit status, stdout and stderr as bytes."""

    status: int
    out: bytes
    err: bytes


def shoal(*args: str, stdin: bytes = b"") -> Outcome:
    """``shoal ARGS`` through its real entry point, in this process."""
    argv, status = sys.argv, 0
    with CliRunner().isolation(input=stdin) as (out, err, _):
        sys.argv = ["shoal", *args]
        try:
            main()
        except SystemExit as exc:
            status = int(exc.code or 0)
        finally:
            sys.argv = argv
            sys.stdout.flush()  # some commands write to sys.stdout, not through click.echo
    return Outcome(status, out.getvalue(), err.getvalue())
