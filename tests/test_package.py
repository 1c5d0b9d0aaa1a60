"""Package-wide rules: layers import only downwards, every ``__all__`` is sorted and complete."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "shoal"

#: Layers bottom to top (DESIGN.md). A layer may import itself and the ones before it.
LAYERS = ["nodeset", "testbed", "hosts", "engine", "tree", "deploy", "shell", "cli"]
PRESENT = [name for name in LAYERS if (SRC / name / "__init__.py").exists()]


def _modules_after_import(module: str) -> list[str]:
    """Import ``module`` in a fresh interpreter and list every module then loaded."""
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return list(json.loads(out.stdout))


@pytest.mark.parametrize("layer", PRESENT)
def test_layer_imports_only_lower_layers(layer: str) -> None:
    higher = LAYERS[LAYERS.index(layer) + 1 :]
    loaded = _modules_after_import(f"shoal.{layer}")
    offenders = [m for m in loaded if any(m == f"shoal.{h}" or m.startswith(f"shoal.{h}.")
                                          for h in higher)]
    assert offenders == []


def test_pure_nodeset_layer_does_not_load_asyncio() -> None:
    loaded = _modules_after_import("shoal.nodeset")
    assert "asyncio" not in loaded
    assert "asyncssh" not in loaded


def test_nodeset_command_does_not_load_ssh() -> None:
    code = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from shoal.cli.app import cli\n"
        "r = CliRunner().invoke(cli, ['nodeset', '-f', 'a1', 'a2'])\n"
        "print(json.dumps([r.output, 'asyncssh' in sys.modules, 'asyncio' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    output, has_asyncssh, has_asyncio = json.loads(out.stdout)
    assert output == "a[1-2]\n"
    assert not has_asyncssh
    assert not has_asyncio


def _all_groups(path: Path) -> list[list[str]]:
    """The names of ``__all__`` in ``path``, split at the comment lines that head each group."""
    text = path.read_text()
    tree = ast.parse(text)
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == "__all__"):
            assert isinstance(node.value, ast.List)
            lines = text.splitlines()
            groups: list[list[str]] = [[]]
            previous = node.value.lineno
            for elt in node.value.elts:
                assert isinstance(elt, ast.Constant) and isinstance(elt.value, str)
                between = lines[previous : elt.lineno - 1]
                if any(line.strip().startswith("#") for line in between):
                    groups.append([])
                groups[-1].append(elt.value)
                previous = elt.lineno
            return [g for g in groups if g]
    raise AssertionError(f"{path} has no __all__")


PACKAGES = sorted(
    ["shoal", "shoal.errors"]
    + [f"shoal.{p.parent.name}" for p in SRC.glob("*/__init__.py")]
)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    path = Path(module.__file__ or "")
    groups = _all_groups(path)
    exported = [n for g in groups for n in g]
    for group in groups:
        assert group == sorted(group), f"{name}: group not sorted: {group}"
    assert len(exported) == len(set(exported)), f"{name}: duplicate names in __all__"
    for n in exported:
        assert getattr(module, n) is not None
    public = {
        n for n, v in vars(module).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
        and getattr(v, "__module__", name).startswith("shoal")
        and n not in {"annotations", "TYPE_CHECKING"}
    }
    missing = public - set(exported)
    assert not missing, f"{name}: public names missing from __all__: {sorted(missing)}"
