"""Topology files: ClusterShell's topology.conf read as ClusterShell reads it (same tree as
its own TopologyParser on the same file), the YAML form, and every fault in one line
naming the file and the line."""

from __future__ import annotations

import socket
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ClusterShell import NodeSet as cs_nodeset
from ClusterShell.Topology import TopologyError, TopologyParser
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.errors import ConfigError, UsageError
from shoal.nodeset import NodeSet, groups
from shoal.tree.routing import Group, Topology
from shoal.tree.topology import (
    gateways_topology,
    host_names,
    load_topology,
    parse_conf,
    parse_yaml,
    resolve_topology,
)

#: a tree, normalised: (group's nodes, its leaves folded, its gateway groups sorted)
Shape = tuple[str, str, tuple[Any, ...]]


def shape(nodes: str, children: list[tuple[str, bool, Any]]) -> Shape:
    leaves = NodeSet.fromlist([name for name, gateway, _ in children if not gateway])
    return (nodes, str(leaves), tuple(sorted(sub for _, gateway, sub in children if gateway)))


def shoal_shape(topology: Topology) -> Shape:
    def group(g: Group) -> Shape:
        return shape(str(g.nodes), [(str(c.nodes), bool(c.children), group(c))
                                    for c in g.children])

    return shape(str(topology.peers), [(str(g.nodes), bool(g.children), group(g))
                                       for g in topology.groups])


def clustershell_shape(path: Path, root: str) -> Shape:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # its [Main] section
        tree = TopologyParser(str(path)).tree(root)

    def group(g: Any) -> Shape:
        return shape(str(g.nodeset), [(str(c.nodeset), c.children_len() > 0, group(c))
                                      for c in g.children()])

    return group(tree.root)


def write(tmp_path: Path, text: str, name: str = "topology.conf") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


@pytest.fixture(autouse=True)
def _fresh_resolvers() -> Iterator[None]:
    """Each test starts and ends with no group configuration, shoal's and ClusterShell's."""
    groups.set_std_group_resolver(None)
    yield
    groups.set_std_group_resolver(None)
    cs_nodeset.set_std_group_resolver(None)


# ------------------------------------------------------------- ClusterShell's own examples

#: (id, topology.conf, root): from ClusterShell's conf/, doc/ and tests/TreeTopologyTest.py
EXAMPLES = [
    ("topology.conf.example", """
        # ClusterShell cluster topology example file
        [routes]
        rio0: rio[10-13]
        rio[10-11]: rio[100-240]
        rio[12-13]: rio[300-440]
        """, "rio0"),
    ("testConfigurationParser", """
        # this is a comment
        [routes]
        admin: nodes[0-1]
        nodes[0-1]: nodes[2-5]
        nodes[4-5]: nodes[6-9]
        """, "admin"),
    ("testConfigurationShortSyntax", """
        [routes]
        admin: nodes[0-9]
        nodes[0-3,5]: nodes[10-19]
        nodes[4,6-9]: nodes[30-39]
        """, "admin"),
    ("testConfigurationLongSyntax", """
        [routes]
        admin: proxy
        proxy: STA[0-1]
        STA0: STB[0-1]
        STB0: nodes[0-2]
        STB1: nodes[3-5]
        STA1: STB[2-3]
        STB2: nodes[6-7]
        STB3: nodes[8-10]
        """, "admin"),
    ("testConfigurationParserDeepTree", "[routes]\nadmin: nodes[0-9]\n" + "".join(
        f"nodes[{i}-{i + 9}]: nodes[{i + 10}-{i + 19}]\n" for i in range(0, 150, 10)),
     "admin"),
    ("testConfigurationParserBigTree", """
        [routes]
        admin: ST[0-4]
        ST[0-4]: STA[0-49]
        STA[0-49]: nodes[0-10000]
        """, "admin"),
    ("testMultipleAdminGroups", """
        [routes]
        admin0: nodes[0-1]
        admin2: nodes[2-3]
        nodes[0-1]: nodes[10-19]
        nodes[2-3]: nodes[20-29]
        """, "admin2"),
    ("testPrintingTree", """
        [routes]
        n0: n[1-2]
        n1: n[10-49]
        n2: n[50-89]
        """, "n0"),
    ("testNodeString", "[routes]\nadmin: node0\n" + "".join(
        f"node{i}: node{i + 1}\n" for i in range(10)), "admin"),
    ("several roots, several gateways per group", """
        [routes]
        admin[1-2]: gw[1-4]
        gw[1-2]: rack1n[1-40]
        gw[3-4]: rack2n[1-40],rack3n[1-40]
        """, "admin2"),
    ("a gateway among leaves", """
        [routes]
        admin: gw[1-3],login1
        gw[1-2]: n[1-10]
        """, "admin"),
    ("one left side written twice", """
        [routes]
        admin: gw[1-2]
        gw[1-2]: n[1-10]
        gw[1,2]: m[1-10]
        """, "admin"),
    ("comments, continuation lines, = and ;", """
        # a comment
        ; another
        [routes]
        admin = gw[1-2],
            gw3
        gw[1-3]: n[1-30],

          m[1-3]
        [other]
        ignored: section
        """, "admin"),
    ("[Main], as before ClusterShell 1.7", """
        [Main]
        admin: gw1
        gw1: n[1-5]
        """, "admin"),
]


@pytest.mark.parametrize(("text", "root"), [pytest.param(t, r, id=i) for i, t, r in EXAMPLES])
def test_clustershell_examples_give_clustershells_tree(tmp_path: Path, text: str,
                                                       root: str) -> None:
    path = write(tmp_path, text)
    topology = load_topology(path, root_name=root)
    assert topology.root == root
    assert shoal_shape(topology) == clustershell_shape(path, root)


def test_the_example_file_reads_as_its_comment_draws_it(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLES[0][1])
    topology = load_topology(path, root_name="rio0")
    drawn = [(depth, str(group.nodes), group.line) for depth, group in topology.walk()]
    assert drawn == [(0, "rio[10-11]", 4), (1, "rio[100-240]", 4),
                     (0, "rio[12-13]", 5), (1, "rio[300-440]", 5)]
    assert str(topology.peers) == "rio0"
    assert topology.source == str(path)


def test_groups_are_resolved_at_the_root_as_clustershell_does(tmp_path: Path) -> None:
    # ClusterShell's TopologyWithGroupsTest: @groups and wildcards on either side.
    conf = write(tmp_path, """
        [Main]
        default: test

        [test]
        map: echo Controller-vm[1,30]
        list: echo gw
        """, "groups.conf")
    groups.set_std_group_resolver_config(conf)
    cs_nodeset.set_std_group_resolver_config(str(conf))
    for text, root in [
        ("[routes]\nController-?m1:Controller-vm2,?ontroller-vm30\n"
         "Controller-vm3?:Computer101\n", "Controller-vm1"),
        ("[routes]\n@gw:Controller-vm2,Computer101\n", "Controller-vm1"),
    ]:
        path = write(tmp_path, text)
        topology = load_topology(path, root_name=root)
        assert shoal_shape(topology) == clustershell_shape(path, root)
    assert str(topology.peers) == "Controller-vm[1,30]"


@st.composite
def trees(draw: st.DrawFn) -> tuple[list[tuple[str, str]], Shape]:
    """A random tree of gateway groups and leaves, as routes (in a random order) and as
    the shape it must read as; the root is ``admin``."""
    routes: list[tuple[str, str]] = []
    counter = iter(range(10_000))

    def group(level: int) -> tuple[str, list[tuple[str, bool, Any]]]:
        children: list[tuple[str, bool, Any]] = []
        for _ in range(draw(st.integers(1, 3))):
            size = draw(st.integers(1, 4))
            start = next(counter) * 10
            nodes = f"l{level}n[{start}-{start + size - 1}]" if size > 1 else f"l{level}n{start}"
            if level < 3 and draw(st.booleans()):
                sub_nodes, sub_children = group(level + 1)
                children.append((nodes, True, shape(nodes, sub_children)))
                routes.append((nodes, sub_nodes))
            else:
                children.append((nodes, False, None))
        right = str(NodeSet.fromlist([name for name, _, _ in children]))
        return right, children

    right, children = group(1)
    routes.append(("admin", right))
    return draw(st.permutations(routes)), shape("admin", children)


@settings(max_examples=40, deadline=None)
@given(trees())
def test_random_trees_read_as_written_and_as_clustershell_reads_them(
        tmp_path_factory: pytest.TempPathFactory, tree: tuple[list[tuple[str, str]], Shape]
) -> None:
    routes, expected = tree
    path = tmp_path_factory.mktemp("random") / "topology.conf"
    path.write_text("[routes]\n" + "".join(f"{src}: {dst}\n" for src, dst in routes))
    assert shoal_shape(load_topology(path, root_name="admin")) == expected
    assert clustershell_shape(path, "admin") == expected


# ---------------------------------------------------------------------------------- YAML

@pytest.mark.parametrize("text", [
    pytest.param("""
        routes:
          admin: gw[1-2]
          gw[1-2]: n[1-10]
        """, id="mapping"),
    pytest.param("""
        routes:
          - admin: gw[1-2]
          - ["gw[1-2]", "n[1-5]"]
          - gw[1-2]: [n6, "n[7-10]"]
        """, id="list of routes"),
    pytest.param("""
        # a comment
        routes: {admin: "gw[1-2]", "gw[1-2]": "n[1-10]"}
        """, id="flow style"),
])
def test_yaml_forms_say_what_topology_conf_says(tmp_path: Path, text: str) -> None:
    yaml_topology = load_topology(write(tmp_path, text, "topology.yaml"), root_name="admin")
    conf = load_topology(write(tmp_path, "[routes]\nadmin: gw[1-2]\ngw[1-2]: n[1-10]\n"),
                         root_name="admin")
    assert shoal_shape(yaml_topology) == shoal_shape(conf)


def test_yaml_lines_are_kept_for_explanations(tmp_path: Path) -> None:
    path = write(tmp_path, "routes:\n  admin: gw1,x1\n\n  gw1: n[1-4]\n", "t.yml")
    walked = [(str(g.nodes), g.line) for _, g in load_topology(path, root_name="admin").walk()]
    # a gateway group: the line of its own route; a leaf: the line of the route to it
    assert walked == [("x1", 2), ("gw1", 4), ("n[1-4]", 4)]


# ------------------------------------------------------------------------------- faults

#: (id, file name, text, message after "FILE line N: ", or the whole message for None)
FAULTS = [
    ("bad node set", "topology.conf", "[routes]\nadmin: gw[1-2]\n\ngw[1-: n[1-4]\n",
     'topology.conf line 4: node set "gw[1-": missing "]" at column 3'),
    ("unknown group", "topology.conf", "[routes]\nadmin: @gw\n",
     'topology.conf line 2: node set "@gw": no group "gw" in any group source '
     "(none is configured) at column 1"),
    ("empty right side", "topology.conf", "[routes]\nadmin:\n",
     'topology.conf line 2: empty node set on the right of a route: ""'),
    ("empty left side", "topology.conf", "[routes]\n: gw1\n",
     'topology.conf line 2: not a route: write "nodes: nodes"'),
    ("no section", "topology.conf", "admin: gw1\n",
     "topology.conf line 1: a route before any section: the routes go under [routes]"),
    ("not a route", "topology.conf", "[routes]\nadmin: gw1\ngw1 n[1-4]\n",
     'topology.conf line 3: not a route: write "nodes: nodes"'),
    ("no [routes]", "topology.conf", "[other]\nadmin: gw1\n",
     "topology.conf: no [routes] section"),
    ("no route", "topology.conf", "# nothing yet\n[routes]\n",
     "topology.conf line 2: no route in [routes]"),
    ("same left side twice", "topology.conf", "[routes]\nadmin: gw1\nadmin: gw2\n",
     'topology.conf line 3: left side "admin" given twice in [routes]; join its right sides '
     'with ","'),
    ("section twice", "topology.conf", "[routes]\nadmin: gw1\n[routes]\ngw1: n1\n",
     "topology.conf line 3: section [routes] given twice"),
    ("a %", "topology.conf", "[routes]\nadmin: gw%1\n",
     "topology.conf line 2: '%' must be followed by '%' or '(', found: '%1'"),
    ("both sides", "topology.conf", "[routes]\nadmin: gw[1-2]\ngw[1-2]: gw2,n1\n",
     'topology.conf line 3: route "gw[1-2]: gw2,n1": gw2 on both sides'),
    ("loop", "topology.conf", "[routes]\nadmin: gw0\ngw1: gw2\ngw2: gw3\ngw3: gw1\n",
     'topology.conf line 5: loop: "gw3" -> "gw1" -> "gw2" -> "gw3"'),
    ("two parents", "topology.conf", "[routes]\nadmin: gw[1-2]\ngw1: n[1-10]\ngw2: n[10-20]\n",
     'topology.conf line 4: n10 reached from "gw2" and from "gw1" (line 3): a node has one '
     "parent"),
    ("a parent of its parent", "topology.conf", "[routes]\nadmin: gw1\ngw1: admin2\n"
     "admin2: gw1\n", 'topology.conf line 4: gw1 reached from "admin2" and from "admin" '
     "(line 2): a node has one parent"),
    ("overlapping left sides", "topology.conf", "[routes]\nadmin: gw[1-2]\ngw[1-2]: n[1-10]\n"
     "gw1: x[1-3]\n", 'topology.conf line 4: left side "gw1" shares gw1 with "gw[1-2]" '
     "(line 3): gateways that share targets are written as one left side"),
    ("left side partly below", "topology.conf", "[routes]\nadmin: gw[1-2]\ngw[2-3]: n[1-4]\n",
     'topology.conf line 3: left side "gw[2-3]" is only partly on the right of "admin" '
     "(line 2): gw3 is not"),
    ("root not found", "topology.conf", "[routes]\nadm: gw1\n",
     'topology.conf: root "admin" is on the left of no route'),
    ("root only on a right side", "topology.conf", "[routes]\nadm: admin\n",
     'topology.conf: root "admin" is on the left of no route'),
    ("YAML syntax", "t.yaml", "routes:\n  admin: gw1\n gw1: n1\n",
     "t.yaml line 3: not YAML: expected <block end>, but found '<block mapping start>'"),
    ("YAML unknown key", "t.yaml", "routes:\n  admin: gw1\nweights: {}\n",
     't.yaml line 3: unknown key "weights" (known: routes)'),
    ("YAML no routes", "t.yaml", "# empty\n", 't.yaml: a topology is a mapping with "routes"'),
    ("YAML routes is text", "t.yaml", "routes: admin\n",
     "t.yaml line 1: routes must be a mapping or a list of routes"),
    ("YAML left side twice", "t.yaml", "routes:\n  admin: gw1\n  admin: gw2\n",
     't.yaml line 3: left side "admin" given twice (first on line 2); join its right sides'),
    ("YAML null right side", "t.yaml", "routes:\n  admin: ~\n",
     't.yaml line 2: empty node set on the right of a route: ""'),
    ("YAML bad route", "t.yaml", "routes:\n  - admin\n",
     't.yaml line 2: a route is "left: right" or [left, right]'),
    ("YAML left side a list", "t.yaml", "routes:\n  - [[a, b], c]\n",
     "t.yaml line 2: the left of a route must be a node set"),
    ("YAML loop", "t.yml", "routes:\n  admin: gw1\n  gw1: gw2\n  gw2: gw1\n",
     't.yml line 4: gw1 reached from "gw2" and from "admin" (line 2): a node has one parent'),
    ("YAML bad node set", "t.yaml", "routes:\n  admin: gw1\n  gw1: 'n[1-x]'\n",
     't.yaml line 3: node set "n[1-x]": bad number "x" at column 5'),
]


@pytest.mark.parametrize(("name", "text", "message"),
                         [pytest.param(n, t, m, id=i) for i, n, t, m in FAULTS])
def test_every_fault_is_one_line_naming_file_and_line(tmp_path: Path, name: str, text: str,
                                                      message: str) -> None:
    path = write(tmp_path, text, name)
    with pytest.raises(ConfigError) as caught:
        load_topology(path, root_name="admin")
    assert str(caught.value) == f"{tmp_path}/{message}"
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("text", [
    pytest.param("[routes]\nadmin: gw0\ngw1: gw2\ngw2: gw3\ngw3: gw1\n", id="loop"),
    pytest.param("[routes]\nadmin: gw[1-2]\ngw1: n[1-10]\ngw2: n[10-20]\n", id="two parents"),
    pytest.param("[routes]\nadmin: gw1\nadmin2: gw1\n", id="two parents of a gateway"),
    pytest.param("[routes]\nadmin: gw[1-2]\ngw[1-2]: gw2,n1\n", id="both sides"),
    pytest.param("[routes]\nadmin: gw1\nadmin: gw2\n", id="same left side twice"),
    pytest.param("[routes]\nadmin: gw1\ngw1 n[1-4]\n", id="not a route"),
])
def test_faults_clustershell_refuses_too(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TopologyError):
        TopologyParser(str(path)).tree("admin")
    with pytest.raises(ConfigError):
        load_topology(path, root_name="admin")


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^.*/nosuch\.conf: cannot read: No such file"):
        load_topology(tmp_path / "nosuch.conf")
    (tmp_path / "bin.conf").write_bytes(b"[routes]\nadmin: \xff\n")
    with pytest.raises(ConfigError, match=r"bin\.conf: not UTF-8 text$"):
        load_topology(tmp_path / "bin.conf")


# ---------------------------------------------------------------------------------- root

def test_the_root_is_this_host_by_default(tmp_path: Path) -> None:
    name = socket.gethostname()
    path = write(tmp_path, f"[routes]\nother: gw9\n{name}: gw[1-2]\ngw[1-2]: n[1-4]\n")
    topology = load_topology(path)
    assert (topology.root, str(topology.peers)) == (name, name)
    assert [str(g.nodes) for g in topology.groups] == ["gw[1-2]"]


def test_the_root_may_be_this_hosts_fqdn(tmp_path: Path) -> None:
    names = list(host_names())
    assert names[:2] == [socket.gethostname(), socket.gethostname().split(".")[0]]
    assert names[2] == socket.getfqdn()
    path = write(tmp_path, f"[routes]\n{names[2]}: gw1\n")
    assert load_topology(path).root == names[2]


def test_a_file_without_this_host_names_the_names_it_tried(tmp_path: Path) -> None:
    path = write(tmp_path, "[routes]\nnot-this-host: gw1\n")
    tried = ", ".join(f'"{n}"' for n in dict.fromkeys(host_names()))
    with pytest.raises(ConfigError) as caught:
        load_topology(path)
    assert str(caught.value) == (f"{path}: this host ({tried}) is on the left of no route; "
                                 "name the root with --root-name")


def test_several_roots_share_one_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[routes]\nadmin1: gw1\nadmin2: gw2\ngw1: n[1-2]\ngw2: n[3-4]\n")
    one, two = (load_topology(path, root_name=r) for r in ("admin1", "admin2"))
    assert [str(g.below) for g in one.groups] == ["n[1-2]"]
    assert [str(g.below) for g in two.groups] == ["n[3-4]"]


@pytest.mark.parametrize("name", ["n[1-2]", "a,b", "n01,n1"])
def test_a_root_name_is_one_node(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, "[routes]\nadmin: gw1\n")
    with pytest.raises(UsageError, match=r"^root name .*: not one node name$"):
        load_topology(path, root_name=name)


# ------------------------------------------------------------------------------ --gateways

def test_gateways_make_a_one_level_tree_that_takes_every_other_node() -> None:
    topology = gateways_topology("gw[1-4]", root_name="admin")
    assert topology.to_dict() == {"version": 1, "root": "admin", "peers": "admin",
                                  "groups": [{"nodes": "gw[1-4]", "rest": True}]}
    assert topology.source == "--gateways"
    assert gateways_topology("gw1").root == socket.gethostname().split(".")[0]


@pytest.mark.parametrize(("gateways", "message"), [
    ("", '--gateways "": no gateway'),
    ("admin,gw1", '--gateways "admin,gw1": the root, admin, is one of them'),
])
def test_bad_gateways(gateways: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        gateways_topology(gateways, root_name="admin")
    assert str(caught.value) == message


def test_resolve_topology_takes_one_source(tmp_path: Path) -> None:
    path = write(tmp_path, "[routes]\nadmin: gw1\n")
    assert resolve_topology() is None
    file_topology = resolve_topology(path, root_name="admin")
    assert file_topology is not None and file_topology.source == str(path)
    gateways = resolve_topology(gateways="gw[1-2]", root_name="admin")
    assert gateways is not None and gateways.source == "--gateways"
    with pytest.raises(UsageError, match=r"^--topology and --gateways exclude each other"):
        resolve_topology(path, "gw1")
    with pytest.raises(UsageError, match=r"^--root-name needs a topology"):
        resolve_topology(root_name="admin")


def test_yaml_is_chosen_by_the_name_ending(tmp_path: Path) -> None:
    text = "routes:\n  admin: gw1\n"
    assert parse_yaml(text, root_name="admin").to_dict() == load_topology(
        write(tmp_path, text, "t.yml"), root_name="admin").to_dict()
    with pytest.raises(ConfigError, match="a route before any section"):
        parse_conf(text, root_name="admin")
