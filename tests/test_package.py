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
LAYERS = ["nodeset", "hosts", "engine", "tree", "deploy", "shell", "cli"]
PRESENT = [name for name in LAYERS if (SRC / name / "__init__.py").exists()]
#: Beside the layers: may import any of them, and none of them imports it.
LEAVES = ["testbed"]


def _module_name(path: Path) -> str:
    parts = ["shoal", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


#: every module of the package, by dotted name
MODULES = {_module_name(p): p for p in SRC.rglob("*.py")}


def _imports(name: str) -> set[str]:
    """The shoal modules ``name`` imports anywhere in its text: at the top, in functions,
    under ``TYPE_CHECKING`` (``from a import b`` counts ``a``, and ``a.b`` if a module)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS + LEAVES else None


def test_no_module_imports_a_higher_layer_or_a_leaf_anywhere() -> None:
    offences = []
    for module, imported in sorted(GRAPH.items()):
        if module == "shoal":  # the package's face: it names the entry points of layers
            continue
        mine = _layer(module)
        for target in sorted(imported):
            theirs = _layer(target)
            if theirs is None or theirs == mine or mine in LEAVES:
                continue
            if theirs in LEAVES or mine is None or LAYERS.index(theirs) > LAYERS.index(mine):
                offences.append(f"{module} imports {target}")
    assert offences == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_counting_function_level_imports() -> None:
    # A package importing its own submodules is its public face, not a cycle; a
    # submodule importing its package back (to reach a sibling) is.
    graph = {m: {t for t in ts
                 if not (t.startswith(m + ".") and MODULES[m].name == "__init__.py")}
             for m, ts in GRAPH.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


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
