"""The gateway's code, packed for a zero-install start: :func:`build_bundle`.

The bundle holds the entry module (``shoal.tree.gateway``) and every module it imports,
found by walking the import statements of their syntax trees, never by importing them:

* a module of shoal (or of the entry's own top-level package) joins the bundle;
* a module of the standard library stays the gateway's own;
* anything else (asyncssh, yaml, click) is an error naming it and who imports it, when
  imported at module level; imported inside a function, the import is left out
  (:attr:`~shoal.tree.loader.Bundle.left_out`), and calling that function on a gateway
  raises ImportError.

Each source is rewritten for Python 3.6 with :mod:`ast`: annotations, ``from __future__
import annotations``, ``if TYPE_CHECKING:`` blocks, docstrings and the typing names that
no longer serve are dropped, then ``ast.unparse`` writes it back. A package's
``__init__`` gets a synthetic body holding only the names the bundle imports from it
(``from shoal.nodeset import NodeSet`` keeps one line of ``shoal/nodeset/__init__.py``),
so a bundle never pulls a package's heavy face (group sources, YAML).

Runs on the root only (Python 3.10 or later, for ``ast.unparse`` and
``sys.stdlib_module_names``); the gateway's side is :mod:`shoal.tree.loader`.
"""

from __future__ import annotations

import ast
import base64
import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import stat
import sys
import zlib
from pathlib import Path

from shoal.errors import UsageError
from shoal.tree.loader import Bundle, current, loader_command

__all__ = ["Bundle", "build_bundle", "current", "loader_command", "transform"]

#: the module the loader program runs first, always in the bundle
_LOADER = "shoal.tree.loader"
#: modules whose names serve type checkers only, once annotations are gone
_TYPING = {"typing", "typing_extensions", "collections.abc"}


@functools.cache
def build_bundle(entry: str = "shoal.tree.gateway") -> Bundle:
    """Pack ``entry`` and the modules it imports into a :class:`~shoal.tree.loader.Bundle`.

    ``entry`` must define ``main()``, which the loader calls. Built once per process and
    entry (a second call returns the same bundle); a bundle of shoal's own code is also
    kept in the user's cache folder, keyed by the SHA-256 of shoal's sources, so that each
    ``shoal run`` through the tree does not pay the build (0.6 s of CPU). Raises
    :class:`~shoal.errors.UsageError` naming the module and the importer when the code
    reaches beyond the standard library, or when a module cannot be found.
    """
    if not entry.startswith("shoal."):
        return _build(entry)
    path = _cache_path(entry)
    if path is not None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            kept = json.loads(path.read_text(encoding="ascii"))
            return Bundle(base64.b64decode(kept["data"]), tuple(kept["left_out"]))
    bundle = _build(entry)
    if path is not None:
        with contextlib.suppress(OSError):
            temporary = path.with_name(f".{path.name}.{os.getpid()}")
            temporary.write_text(json.dumps({"data": base64.b64encode(bundle.data).decode(),
                                             "left_out": list(bundle.left_out)}))
            temporary.replace(path)
    return bundle


def _cache_path(entry: str) -> Path | None:
    """Where the bundle of ``entry`` is kept, or None when there is no private folder.

    The folder must be the user's own and closed to others (0700), as for any code the
    user runs: a bundle found there goes to the gateways as it is.
    """
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(f"{entry}\0".encode())
    for source in sorted(root.rglob("*.py")):
        digest.update(str(source.relative_to(root)).encode() + b"\0" + source.read_bytes())
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    folder = Path(cache) / "shoal"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return folder / f"gateway-bundle-{digest.hexdigest()[:32]}.json"


def _build(entry: str) -> Bundle:
    walk = _Walk({"shoal", entry.partition(".")[0]})
    walk.include(entry)
    walk.include(_LOADER)
    modules = {name: [False, source] for name, source in walk.sources.items()}
    for package in sorted(walk.packages()):
        modules[package] = [True, walk.package_body(package)]
    contents = {"entry": entry, "modules": dict(sorted(modules.items()))}
    data = zlib.compress(json.dumps(contents, separators=(",", ":")).encode("utf-8"), 9)
    return Bundle(data, tuple(walk.left_out))


def transform(source: str, name: str = "<source>") -> str:
    """``source`` rewritten to run on Python 3.6: no annotations, docstrings, ``from
    __future__ import annotations``, ``TYPE_CHECKING`` blocks or unused typing imports.

    >>> print(transform('''
    ... \"\"\"Doc.\"\"\"
    ... from __future__ import annotations
    ... from typing import TYPE_CHECKING, Any, TypeVar
    ... if TYPE_CHECKING:
    ...     from x import Y
    ... T = TypeVar("T")
    ... def f(a: int, *b: Any, c: Y | None = None) -> int:
    ...     \"\"\"Doc.\"\"\"
    ...     n: int = a
    ...     m: str
    ...     return n
    ... '''), end="")
    from typing import TypeVar
    T = TypeVar('T')
    <BLANKLINE>
    def f(a, *b, c=None):
        n = a
        return n
    """
    return ast.unparse(_stripped(source, name)) + "\n"


def _stripped(source: str, name: str) -> ast.Module:
    """The syntax tree of :func:`transform`'s result, with the original line numbers."""
    tree = ast.parse(source, name)
    _Strip().visit(tree)
    _prune_typing(tree)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and not body and not isinstance(node, ast.Module):
            body.append(ast.Pass())
    ast.fix_missing_locations(tree)
    return tree


class _Strip(ast.NodeTransformer):
    """Drops what Python 3.6 cannot run or the gateway does not need."""

    def visit_Module(self, node: ast.Module) -> ast.Module:
        node.body = _undocumented(node.body)
        self.generic_visit(node)
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        node.body = _undocumented(node.body)
        self.generic_visit(node)
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        self._function(node)
        return node

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> ast.AsyncFunctionDef:
        self._function(node)
        return node

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        node.body = _undocumented(node.body)
        node.returns = None
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None:
                arg.annotation = None
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.stmt | None:
        if node.value is None:
            return None
        assign = ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)
        self.generic_visit(assign)
        return assign

    def visit_If(self, node: ast.If) -> ast.AST | list[ast.stmt] | None:
        test = node.test
        if (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
                isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"):
            kept: list[ast.stmt] = []
            for stmt in node.orelse:
                result = self.visit(stmt)
                kept.extend(result if isinstance(result, list) else [result] if result else [])
            return kept or None
        self.generic_visit(node)
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.ImportFrom | None:
        if node.module == "__future__":
            node.names = [a for a in node.names if a.name != "annotations"]
            if not node.names:
                return None
        return node


def _undocumented(body: list[ast.stmt]) -> list[ast.stmt]:
    """``body`` without its docstring."""
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


def _prune_typing(tree: ast.Module) -> None:
    """Drop the names imported from typing modules that the code no longer uses."""
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if not isinstance(body, list):
                continue
            kept = []
            for stmt in body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module in _TYPING and not stmt.level:
                    stmt.names = [a for a in stmt.names if (a.asname or a.name) in used]
                    if not stmt.names:
                        continue
                elif isinstance(stmt, ast.Import):
                    stmt.names = [a for a in stmt.names
                                  if a.name not in _TYPING or (a.asname or a.name) in used]
                    if not stmt.names:
                        continue
                kept.append(stmt)
            setattr(node, field, kept)


class _Walk:
    """The closure of a set of modules over their imports, and the rewritten sources."""

    def __init__(self, roots: set[str]) -> None:
        self.roots = roots
        #: the rewritten source of each module (not package) in the bundle
        self.sources: dict[str, str] = {}
        #: the lazy imports left out, each as the error it would have been
        self.left_out: list[str] = []
        #: the lines each package's synthetic body holds
        self._exports: dict[str, set[str]] = {}
        #: what each module of the bundle imports in its functions
        self._lazy: dict[str, list[_Import]] = {}

    def include(self, name: str) -> None:
        """Add module ``name`` and what it imports at module level (UsageError for
        anything out of reach), then what its functions import, where within reach."""
        pending = self._closure([_Import(name, None, "the bundle")])
        while pending:
            for lazy in self._lazy[pending.pop()]:
                try:
                    pending.extend(self._closure([lazy]))
                except UsageError as exc:
                    self.left_out.append(f"{lazy.where} (in a function): {exc}")

    def packages(self) -> set[str]:
        """Every package of a module in the bundle."""
        found = set(self._exports)
        for name in self.sources:
            parts = name.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts)))
        return found

    def package_body(self, package: str) -> str:
        """The synthetic ``__init__`` of ``package``: the re-exports the bundle needs."""
        return "".join(line + "\n" for line in sorted(self._exports.get(package, ())))

    def _closure(self, imports: list[_Import]) -> list[str]:
        """Add the modules ``imports`` need and their module-level imports, all or none
        (UsageError); the modules added."""
        added: dict[str, tuple[str, list[_Import]]] = {}
        exports: list[tuple[str, str]] = []
        stack = list(imports)
        while stack:
            imp = stack.pop()
            module = self._target(imp, exports)
            if module is None or module in self.sources or module in added:
                continue
            if _is_package(module):
                exports.append((module, ""))
                continue
            spec = _spec(module)
            if spec is None or not spec.origin or not spec.origin.endswith(".py"):
                raise UsageError(f"{imp.where} imports {module}, which has no Python source "
                                 "to bundle")
            tree = _stripped(Path(spec.origin).read_text(encoding="utf-8"), spec.origin)
            eager: list[_Import] = []
            lazy: list[_Import] = []
            _Imports(module, eager, lazy).visit(tree)
            added[module] = (ast.unparse(tree) + "\n", lazy)
            stack.extend(eager)
        for module, (source, lazy) in added.items():
            self.sources[module] = source
            self._lazy[module] = lazy
        for package, line in exports:
            lines = self._exports.setdefault(package, set())
            if line:
                lines.add(line)
        return list(added)

    def _target(self, imp: _Import, exports: list[tuple[str, str]]) -> str | None:
        """The module of ours that ``imp`` needs (None: one of the standard library, or
        none), noting the lines of the packages it takes names from."""
        top = imp.module.partition(".")[0]
        if top not in self.roots:
            if top in sys.stdlib_module_names:
                return None
            raise UsageError(f"{imp.where} imports {imp.module}, which is not in the standard "
                             "library: the gateway's code may use the standard library only")
        if imp.name is None or not _is_package(imp.module):
            return imp.module
        submodule = f"{imp.module}.{imp.name}"
        if _spec(submodule) is not None:
            return submodule
        line, source = _export(imp.module, imp.name, imp.where)
        exports.append((imp.module, line))
        return source


class _Import:
    """One imported module (and name, for ``from m import name``), and where."""

    __slots__ = ("module", "name", "where")

    def __init__(self, module: str, name: str | None, where: str) -> None:
        self.module = module
        self.name = name
        self.where = where


class _Imports(ast.NodeVisitor):
    """Collects a module's imports, those in functions apart."""

    def __init__(self, module: str, eager: list[_Import], lazy: list[_Import]) -> None:
        self.module = module
        self.package = module.rpartition(".")[0]
        self.eager = eager
        self.lazy = lazy
        self.depth = 0

    def _add(self, imp: _Import) -> None:
        (self.lazy if self.depth else self.eager).append(imp)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(_Import(alias.name, None, f"{self.module} line {node.lineno}"))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            anchor = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            base = ".".join([*anchor, *([base] if base else [])])
        for alias in node.names:
            self._add(_Import(base, alias.name, f"{self.module} line {node.lineno}"))


def _spec(name: str) -> importlib.machinery.ModuleSpec | None:
    """Where module ``name`` is, without importing it (its parents are imported)."""
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def _is_package(name: str) -> bool:
    spec = _spec(name)
    return spec is not None and spec.submodule_search_locations is not None


def _export(package: str, name: str, where: str) -> tuple[str, str | None]:
    """How ``package``'s ``__init__`` binds ``name``: the line a synthetic body keeps, and
    the module that line imports (None for a constant)."""
    spec = _spec(package)
    origin = spec.origin if spec else None
    if origin and origin.endswith(".py"):
        tree = ast.parse(Path(origin).read_text(encoding="utf-8"))
        for stmt in tree.body:
            if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
                for alias in stmt.names:
                    if (alias.asname or alias.name) == name:
                        line = ast.unparse(ast.ImportFrom(stmt.module, [alias], 0))
                        return line, _module_of(stmt.module, alias.name)
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant) and any(
                    isinstance(t, ast.Name) and t.id == name for t in stmt.targets):
                return f"{name} = {stmt.value.value!r}", None
    raise UsageError(f"{where} imports {name} from {package}, whose __init__ binds it in a way "
                     "a bundle cannot follow (import it from the module that defines it)")


def _module_of(module: str, name: str) -> str:
    """The module ``from module import name`` loads: a submodule, or ``module`` itself."""
    submodule = f"{module}.{name}"
    return submodule if _is_package(module) and _spec(submodule) is not None else module
