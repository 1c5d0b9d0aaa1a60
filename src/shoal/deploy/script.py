"""Loading a deployment script and finding its root node.

The script is imported under a module name of its own (never ``__main__``), so its
``if __name__ == "__main__":`` block does not run, and its folder goes first on
``sys.path`` as it would for ``python script.py``. The root node is the class named by
``--root``, else the module attribute ``root``, else the only node class of the script
that no other node of the script contains or derives from.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import TypeGuard

from shoal.deploy.node.base import ChildNodeDescriptor, Node
from shoal.errors import UsageError

__all__ = ["find_root", "load_script"]


def load_script(path: str | Path) -> ModuleType:
    """Import the deployment script at ``path`` without running its ``__main__`` block.

    :raises UsageError: the file is missing, is not Python, or fails while it loads (the
        message names the file, the line and the error).
    """
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"deployment script {str(path)!r}: no such file")
    digest = hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:12]
    name = f"shoal_deploy_script_{digest}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise UsageError(f"deployment script {str(path)!r}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = str(file.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    sys.modules[name] = module  # inspect.getsource() and dataclasses look it up there
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[name]
        raise UsageError(f"deployment script {str(path)!r} line {exc.lineno}: "
                         f"syntax error: {exc.msg}") from exc
    except Exception as exc:
        del sys.modules[name]
        line = _line_in(file, exc)
        raise UsageError(f"deployment script {str(path)!r}{line}: "
                         f"{type(exc).__name__}: {exc}") from exc
    return module


def _line_in(file: Path, error: BaseException) -> str:
    """`` line N`` of the deepest frame of ``error`` that is in ``file``."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if Path(frame.filename).resolve() == file.resolve()]
    return f" line {lines[-1]}" if lines else ""


def find_root(module: ModuleType, name: str | None = None) -> type[Node]:
    """The root node class of a loaded script.

    :param name: the attribute holding the root (``--root``).
    :raises UsageError: ``name`` is not a node class of the module, or no root or more
        than one candidate is found (the candidates are listed).
    """
    where = f"deployment script {module.__file__!r}"
    if name is not None:
        value = getattr(module, name, None)
        if not _is_node_class(value):
            raise UsageError(f"{where}: --root {name!r} is not a Node class of the script "
                             f"(its node classes: {', '.join(_own_nodes(module)) or 'none'})")
        return value
    root = getattr(module, "root", None)
    if _is_node_class(root):
        return root
    if isinstance(root, Node):
        return type(root)
    nodes = _own_nodes(module)
    inside: set[type] = set()
    for cls in nodes.values():
        inside.update(_contained(cls))
        inside.update(base for base in cls.__mro__[1:] if base in nodes.values())
    candidates = sorted(attr for attr, cls in nodes.items() if cls not in inside)
    if len(candidates) == 1:
        return nodes[candidates[0]]
    if not candidates:
        raise UsageError(f"{where}: no root node found (define a Node subclass, or a "
                         "module attribute 'root')")
    raise UsageError(f"{where}: several root nodes ({', '.join(candidates)}): "
                     "choose one with --root NAME, or set 'root = NAME' in the script")


def _is_node_class(value: object) -> TypeGuard[type[Node]]:
    return isinstance(value, type) and issubclass(value, Node)


def _own_nodes(module: ModuleType) -> dict[str, type[Node]]:
    """The node classes defined in the module (not imported), by attribute name."""
    return {attr: value for attr, value in vars(module).items()
            if _is_node_class(value) and value.__module__ == module.__name__}


def _contained(cls: type, seen: set[type] | None = None) -> set[type]:
    """Every node class nested in ``cls``, at any depth, with their bases."""
    seen = set() if seen is None else seen
    for klass in cls.__mro__:
        for attribute in vars(klass).values():
            if isinstance(attribute, ChildNodeDescriptor):
                child = attribute.node_class
                if child not in seen:
                    seen.update(child.__mro__)
                    _contained(child, seen)
    return seen
