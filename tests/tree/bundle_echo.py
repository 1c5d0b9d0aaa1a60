"""A gateway stand-in for test_bundle.py: says what it runs from, then copies stdin to stdout.

Run from a code bundle only (its ``main()`` is the bundle's entry).
"""

from __future__ import annotations

import importlib
import os
import sys

from shoal.tree.loader import current


def main() -> int:
    bundle = current()
    assert bundle is not None
    importer = type(sys.modules["shoal"].__loader__).__name__
    try:
        importlib.import_module("shoal.cli")
        outside = "imported"
    except ModuleNotFoundError as exc:
        outside = str(exc)
    out = sys.stdout.buffer
    out.write(f"{bundle.sha256} {bundle.size} {importer}\n{outside}\n".encode())
    out.flush()
    while True:
        data = os.read(0, 65536)
        if not data:
            return 0
        out.write(data)
        out.flush()
