"""The gateway's side of the zero-install start: the loader program and the in-memory importer.

The root runs ``python3 -I -B -c '<program>'`` (:func:`loader_command`) on a gateway and
writes the code bundle (:class:`Bundle`, built by :mod:`shoal.tree.bundle`) to its
standard input, followed by the channel's stream. The program reads exactly the bundle's
length from fd 0 (unbuffered, so not a byte of the stream is taken), checks its SHA-256
(a mismatch: one line on stderr, exit code 2), and runs :func:`boot` from the bundle's
copy of this module: it installs an importer that serves the bundle's modules from
memory, keeps the bundle for :func:`current` (a gateway forwards itself to the next
level with it) and calls the entry module's ``main()``. Nothing is written to disk.

The bundle is zlib-compressed JSON: ``{"entry": name, "modules": {name: [is_package,
source]}}``; sources are Python 3.6 (annotations stripped). Runs on the gateways:
standard library only, imports nothing from shoal.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.util
import json
import sys
import zlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = ["EXIT_REFUSED", "Bundle", "boot", "current", "loader_command"]

#: the loader's exit code when the bundle it read is not the one it expects
EXIT_REFUSED = 2

#: the program ``python3 -c`` runs; {size} and {sha} are the bundle's
_PROGRAM = "\n".join([
    "import os,sys,json,zlib,hashlib",
    'n={size};b=b""',
    "while len(b)<n:",
    " c=os.read(0,n-len(b))",
    " if not c:break",
    " b+=c",
    'if hashlib.sha256(b).hexdigest()!="{sha}":',
    ' sys.stderr.write("shoal gateway: code bundle refused: SHA-256 mismatch (%d of {size} '
    'bytes read)\\n"%len(b))',
    " sys.exit({code})",
    "d=json.loads(zlib.decompress(b).decode())",
    'g={{"__name__":"shoal_boot"}}',
    'exec(d["modules"]["shoal.tree.loader"][1],g)',
    'g["boot"](b,d)',
    "",
])


class Bundle:
    """A packed code bundle: its bytes, their SHA-256 and size.

    ``left_out`` names the lazy imports (in functions) that the builder left out because
    they reach beyond the standard library: calling such a function on a gateway fails
    with ImportError.
    """

    def __init__(self, data: bytes, left_out: tuple[str, ...] = ()) -> None:
        self.data = data
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.left_out = left_out

    @property
    def size(self) -> int:
        """The bundle's size in bytes, as sent."""
        return len(self.data)

    def contents(self) -> dict[str, Any]:
        """The unpacked bundle: ``{"entry": name, "modules": {name: [is_package, source]}}``."""
        contents: dict[str, Any] = json.loads(zlib.decompress(self.data).decode("utf-8"))
        return contents

    def sources(self) -> dict[str, str]:
        """Each module's source, by dotted name."""
        return {name: source for name, (_, source) in self.contents()["modules"].items()}

    def __repr__(self) -> str:
        return f"<Bundle {self.size} bytes sha256={self.sha256[:12]}>"


def loader_command(bundle: Bundle, python: str = "python3") -> list[str]:
    """The argv that starts a gateway from ``bundle`` sent on its standard input.

    ``-I`` keeps the gateway's environment (PYTHONPATH and the like) and user
    site-packages out, ``-B`` writes no bytecode. Quote it with :func:`shlex.join` for a
    remote shell. The program holds only double quotes, so it quotes short.
    """
    program = _PROGRAM.format(size=bundle.size, sha=bundle.sha256, code=EXIT_REFUSED)
    return [python, "-I", "-B", "-c", program]


_current: Bundle | None = None


def current() -> Bundle | None:
    """The bundle this process was started from (a gateway), None elsewhere."""
    return _current


class _Importer(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the bundle's modules from memory; refuses any other module of its packages,
    so that a copy of shoal on the gateway's disk is never mixed in."""

    def __init__(self, modules: dict[str, list[Any]]) -> None:
        self.modules = modules
        self.roots = {name.partition(".")[0] for name in modules}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if fullname not in self.modules:
            if fullname.partition(".")[0] in self.roots:
                raise ModuleNotFoundError(f"No module named {fullname!r} in the gateway's code "
                                          "bundle", name=fullname)
            return None
        return importlib.util.spec_from_loader(fullname, self,
                                               is_package=bool(self.modules[fullname][0]))

    def create_module(self, spec: ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        name = module.__name__
        code = compile(self.modules[name][1], _filename(name), "exec")
        exec(code, module.__dict__)

    def get_source(self, fullname: str) -> str:
        """The module's source, for tracebacks (``linecache``)."""
        return str(self.modules[fullname][1])


def _filename(name: str) -> str:
    """The name a bundled module's code goes by in tracebacks."""
    return "<shoal bundle>/" + name.replace(".", "/") + ".py"


def boot(data: bytes, contents: dict[str, Any]) -> None:
    """Run a bundle: install its importer, keep it for :func:`current`, call the entry's
    ``main()`` and exit with what it returns. Called by the loader program only (from a
    copy of this module outside the bundle's modules)."""
    sys.meta_path.insert(0, _Importer(contents["modules"]))
    bundled = importlib.import_module("shoal.tree.loader")
    bundled._current = Bundle(data)  # type: ignore[attr-defined]
    entry = importlib.import_module(contents["entry"])
    sys.exit(entry.main())
