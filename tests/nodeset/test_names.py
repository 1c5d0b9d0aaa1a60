"""Node names that could pass for options or paths are refused wherever names enter.

The check is :mod:`shoal.nodeset.names`; these tests go through every way a name gets
into a node set: an expression, :meth:`NodeSet.fromlist` (its fast path included),
:class:`NodeSetBase`, a YAML group file, an upcall's output, and all nodes (``@*``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shoal.errors import NodeNameError, NodeSetParseError, ShoalError
from shoal.nodeset import NO_GROUPS, NodeSet, NodeSetBase, RangeSet, check_node_name
from shoal.nodeset.groups import GroupResolver, GroupSource, UpcallGroupSource, load_group_config

#: expression, name the error gives, what is wrong
BAD = [
    pytest.param("-oProxyCommand=x", "-oProxyCommand=x", 'must not start with "-"', id="dash"),
    pytest.param("n1,-x", "-x", 'must not start with "-"', id="dash-in-list"),
    pytest.param("-n[1-3]", "-n1", 'must not start with "-"', id="dash-pattern"),
    pytest.param("[-1-3]", "-1", 'must not start with "-"', id="negative-index-first"),
    pytest.param("a/b", "a/b", 'must not hold "/"', id="slash"),
    pytest.param("n[1-3]/x", "n1/x", 'must not hold "/"', id="slash-pattern"),
    pytest.param("../etc", "../etc", 'must not hold "/"', id="dot-dot"),
    pytest.param("a b", "a b", 'must not hold whitespace (" ")', id="space"),
    pytest.param("n1,a\tb", "a\tb", 'must not hold whitespace ("\\t")', id="tab"),
    pytest.param("a\nb", "a\nb", 'must not hold whitespace ("\\n")', id="newline"),
    pytest.param("a\u2028b", "a\u2028b", 'must not hold whitespace ("\\u2028")',
                 id="unicode-space"),
    pytest.param("a\0b", "a\0b", "must not hold a NUL character", id="nul"),
    pytest.param("a\x1bb", "a\x1bb", 'must not hold a control character ("\\x1b")',
                 id="escape"),
    pytest.param("a\x7fb", "a\x7fb", 'must not hold a control character ("\\x7f")', id="del"),
    pytest.param("a\x85b", "a\x85b", 'must not hold whitespace ("\\x85")', id="c1-space"),
    pytest.param("a\x9bb", "a\x9bb", 'must not hold a control character ("\\x9b")', id="c1"),
    pytest.param("node\u200b1", "node\u200b1", 'must not hold an invisible character '
                 '("\\u200b")', id="zero-width-space"),
    pytest.param("n[1-2]\u202e", "n1\u202e", 'must not hold an invisible character '
                 '("\\u202e")', id="right-to-left-override"),
    pytest.param("\ufeffn1", "\ufeffn1", 'must not hold an invisible character ("\\ufeff")',
                 id="byte-order-mark"),
]

#: names that are fine (a dash or digits inside, dots, unicode letters, brackets' output)
GOOD = ["node-1", "n-[1-3]", "a.b.example.com", "r1n1-ib0", "n[-3--1]x", "nœud1", "a_b:c@d",
        "5", "[0-2]"]


@pytest.mark.parametrize(("expr", "name", "reason"), BAD)
@pytest.mark.parametrize("resolver", [None, NO_GROUPS], ids=["groups", "no-groups"])
def test_expressions_refuse_bad_names(expr: str, name: str, reason: str,
                                      resolver: object) -> None:
    with pytest.raises(NodeNameError) as info:
        NodeSet(expr, resolver=resolver)  # type: ignore[arg-type]
    err = info.value
    assert isinstance(err, NodeSetParseError)  # the CLI: one line, exit 2
    assert (err.node, err.reason) == (name, reason)
    message = str(err)
    assert message.startswith("node name ") and message.endswith(f": {reason}")
    assert message.isprintable()  # one line, no control character sent to a terminal


def test_the_message_names_the_node() -> None:
    with pytest.raises(NodeNameError) as info:
        NodeSet("n1,-oProxyCommand=x")
    assert str(info.value) == 'node name "-oProxyCommand=x": must not start with "-"'
    assert (info.value.expr, info.value.pos) == ("n1,-oProxyCommand=x", 3)
    with pytest.raises(NodeNameError) as info:
        NodeSet("a\nb")
    assert str(info.value) == 'node name "a\\nb": must not hold whitespace ("\\n")'


@pytest.mark.parametrize("expr", GOOD)
def test_good_names_pass(expr: str) -> None:
    assert NodeSet(expr, resolver=NO_GROUPS)


@pytest.mark.parametrize(("expr", "name", "reason"), BAD)
def test_fromlist_refuses_bad_names(expr: str, name: str, reason: str) -> None:
    with pytest.raises(NodeNameError) as info:
        NodeSet.fromlist(["n1", "n2", *expr.split(","), "n3"])
    assert (info.value.node, info.value.reason) == (name, reason)


@pytest.mark.parametrize("bad", ["-n7", "n/7", "n 7"])
def test_long_plain_lists_refuse_bad_names(bad: str) -> None:
    # Long comma lists of plain names are folded in bulk: a bad name still goes through
    # the check.
    names = [f"n{i}" for i in range(5000)]
    names[2500] = bad
    with pytest.raises(NodeNameError):
        NodeSet(",".join(names))
    with pytest.raises(NodeNameError):
        NodeSet.fromlist(names)


def test_nodesetbase_refuses_bad_patterns() -> None:
    with pytest.raises(NodeNameError, match='"-n1": must not start with "-"'):
        NodeSetBase("-n%s", RangeSet("1-3"))
    with pytest.raises(NodeNameError, match='"n1/x": must not hold "/"'):
        NodeSetBase("n%s/x", RangeSet("1"))
    with pytest.raises(NodeNameError, match='"-2": must not start with "-"'):
        NodeSetBase("%s", RangeSet("-2,5"))
    assert str(NodeSetBase("n%s-ib", RangeSet("1-2"))) == "n[1-2]-ib"


def test_check_node_name() -> None:
    check_node_name("node7")
    with pytest.raises(NodeNameError, match='node name "-x": must not start with "-"'):
        check_node_name("-x")


def test_unknown_names_are_still_unknown_groups_not_bad_names() -> None:
    # Group names after "@" are not node names: "@a/b" is looked up, and unknown.
    resolver = GroupResolver([GroupSource("s", {"a/b": "n1"})])
    assert str(NodeSet("@a/b", resolver=resolver)) == "n1"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


@pytest.fixture
def yaml_resolver(tmp_path: Path) -> GroupResolver:
    """A groups.conf whose YAML groups hold bad names (one nested in another group)."""
    write(tmp_path / "groups.d" / "bad.yaml", """
        local:
            web: 'web[1-2]'
            evil: 'web1,-oProxyCommand=touch_/tmp/x'
            nested: '@evil,web2'
            slash: ['web3', '../../etc/passwd']
    """)
    conf = write(tmp_path / "groups.conf", f"""
        [Main]
        default: local
        autodir: {tmp_path}/groups.d
    """)
    return load_group_config(conf)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param("@evil", 'node name "-oProxyCommand=touch_/tmp/x" (group "@evil"): '
                     'must not start with "-"', id="group"),
        pytest.param("web1,@nested", 'node name "-oProxyCommand=touch_/tmp/x" (group '
                     '"@evil"): must not start with "-"', id="nested-group"),
        pytest.param("@slash", 'node name "../../etc/passwd" (group "@slash"): must not '
                     'hold "/"', id="list-value"),
        pytest.param("@*", 'node name "-oProxyCommand=touch_/tmp/x" (group "@*"): must '
                     'not start with "-"', id="all-nodes"),
        pytest.param("web*", 'node name "-oProxyCommand=touch_/tmp/x" (all nodes): must '
                     'not start with "-"', id="wildcard"),
    ],
)
def test_yaml_groups_with_bad_names_are_refused(yaml_resolver: GroupResolver, expr: str,
                                                message: str) -> None:
    with pytest.raises(NodeNameError) as info:
        NodeSet(expr, resolver=yaml_resolver)
    assert str(info.value) == message
    assert str(NodeSet("@web", resolver=yaml_resolver)) == "web[1-2]"


def test_all_nodes_with_bad_names_are_refused(yaml_resolver: GroupResolver) -> None:
    with pytest.raises(NodeNameError):
        NodeSet.fromall(resolver=yaml_resolver)


@pytest.mark.parametrize(
    ("output", "name", "reason"),
    [
        pytest.param("n1 -oProxyCommand=x", "-oProxyCommand=x", 'must not start with "-"',
                     id="dash"),
        pytest.param("n1\\nn/2", "n/2", 'must not hold "/"', id="slash"),
        pytest.param("n1\\033x", "n1\x1bx", 'must not hold a control character ("\\x1b")',
                     id="escape"),
    ],
)
def test_upcall_output_with_bad_names_is_refused(tmp_path: Path, output: str, name: str,
                                                 reason: str) -> None:
    source = UpcallGroupSource("s", {"map": f"printf '{output}\\n'", "list": "echo g",
                                     "all": f"printf '{output}\\n'"}, cfgdir=tmp_path)
    resolver = GroupResolver([source])
    for expr in ("@g", "@s:g", "@*"):
        with pytest.raises(NodeNameError) as info:
            NodeSet(expr, resolver=resolver)
        assert (info.value.node, info.value.reason) == (name, reason)
    with pytest.raises(NodeNameError):
        NodeSet.fromall(resolver=resolver)


def test_bad_names_are_shoal_errors() -> None:
    # What the CLI prints on one line and exits 2 for.
    with pytest.raises(ShoalError):
        NodeSet.fromlist(["-x"])
