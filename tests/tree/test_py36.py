"""The gateway's code runs on Python 3.6 (EL8's platform Python) once rewritten.

vermin checks every module the bundle carries; a syntax-tree check adds what vermin cannot
see in code without annotations: a type union (``int | None``) or a subscripted builtin
(``list[str]``) evaluated at run time fails before Python 3.10 and 3.9.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from shoal.tree.bundle import build_bundle

VERMIN = Path(sys.executable).with_name("vermin")

#: what the gateway runs: its entry once it exists, else the modules it is made of
ENTRIES = (["shoal.tree.gateway"] if find_spec("shoal.tree.gateway") else
           ["shoal.tree.channel", "shoal.engine.gather", "shoal.nodeset.nodeset"])


def gateway_sources() -> dict[str, str]:
    sources: dict[str, str] = {}
    for entry in ENTRIES:
        sources.update(build_bundle(entry).sources())
    return sources


SOURCES = gateway_sources()


def test_the_gateway_code_includes_the_protocol_and_node_sets() -> None:
    assert {"shoal.tree.messages", "shoal.tree.codec", "shoal.tree.channel",
            "shoal.tree.loader", "shoal.errors", "shoal.nodeset.rangeset"} <= set(SOURCES)


def test_vermin_finds_nothing_above_python_3_6(tmp_path: Path) -> None:
    files = []
    for name, source in SOURCES.items():
        path = tmp_path / f"{name}.py"
        path.write_text(source)
        files.append(str(path))
    run = subprocess.run([str(VERMIN), "-t=3.6-", "--no-tips", "--violations", "-q", "-p1",
                          *files], capture_output=True, text=True, timeout=300)
    assert (run.returncode, run.stdout.strip()) == (0, "")


#: builtins and collections.abc names that take ``[...]`` at run time from 3.9 on only
GENERICS = {"dict", "frozenset", "list", "set", "tuple", "type", "Callable", "Collection",
            "Iterable", "Iterator", "Mapping", "Sequence", "Literal"}


def generic(node: ast.AST) -> bool:
    return isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and \
        node.value.id in GENERICS


def runtime_typing(source: str) -> list[str]:
    """Type unions and subscripted builtins left in code that has no annotations."""
    found = []
    for node in ast.walk(ast.parse(source)):
        union = isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr) and any(
            (isinstance(side, ast.Constant) and side.value is None) or generic(side)
            for side in (node.left, node.right))
        if union or generic(node):
            assert isinstance(node, ast.expr)
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_no_type_expression_is_evaluated_at_run_time(name: str) -> None:
    assert runtime_typing(SOURCES[name]) == []


def test_the_runtime_check_finds_what_it_looks_for() -> None:
    assert runtime_typing("A = int | None\nB = list[str]\nC = a | b[0]\n") == [
        "line 1: int | None", "line 2: list[str]"]
