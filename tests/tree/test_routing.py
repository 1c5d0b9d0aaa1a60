"""Routing over the tree: plans, fan-out shares, re-routing, explanations, the CFG form of a
gateway's part; properties checked with hypothesis; the module stays gateway-safe."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shoal.nodeset import NodeSet
from shoal.tree import routing
from shoal.tree.routing import Group, Router, Topology, split_fanout
from shoal.tree.topology import gateways_topology, parse_conf


def conf(text: str, root: str = "admin") -> Topology:
    return parse_conf("[routes]\n" + text, root_name=root)


def folded(parts: dict[str, NodeSet]) -> dict[str, str]:
    return {gateway: str(nodes) for gateway, nodes in parts.items()}


# The example of ClusterShell's router in shared/reference/clustershell-tree.md §3.3.
CLUSTERSHELL = "admin: gw[1-3]\ngw[1-3]: n[1-10]\nn1: leaf[1-4]\n"


def test_plan_of_clustershells_example() -> None:
    plan = Router(conf(CLUSTERSHELL)).plan(NodeSet("n[1-10],leaf[1-4],gw2,other1"))
    assert str(plan.direct) == "gw2,other1"
    # 14 targets over 3 gateways: 5, 5, 4, each subtree in one piece where it can be
    assert folded(plan.parts) == {"gw1": "n[2-6]", "gw2": "leaf1,n[7-10]",
                                  "gw3": "leaf[2-4],n1"}
    assert not plan.unreachable


def test_a_gateway_routes_its_part_with_the_same_code() -> None:
    topology = conf(CLUSTERSHELL)
    data = json.loads(json.dumps(topology.part("gw2").to_dict()))
    assert data == {"version": 1, "root": "gw2", "peers": "gw2", "groups": [
        {"nodes": "n[2-10]"}, {"nodes": "n1", "groups": [{"nodes": "leaf[1-4]"}]}]}
    plan = Router(Topology.from_dict(data)).plan(NodeSet("leaf1,n[7-10]"))
    assert (str(plan.direct), folded(plan.parts)) == ("n[7-10]", {"n1": "leaf1"})


def test_distribute_follows_every_level() -> None:
    carried = Router(conf(CLUSTERSHELL)).distribute(NodeSet("n[1-10],leaf[1-4]"))
    # n1 is below gw2 and gw3 both: it carries what each of them sends it
    assert folded(carried) == {"gw1": "n[2-6]", "gw2": "leaf1,n[7-10]",
                               "gw3": "leaf[2-4],n1", "n1": "leaf[1-4]"}


def test_dead_gateways_get_nothing_and_a_dead_group_is_unreachable() -> None:
    router = Router(conf(CLUSTERSHELL), dead=["gw1"])
    plan = router.plan(NodeSet("n[1-10]"))
    assert folded(plan.parts) == {"gw2": "n[2-6]", "gw3": "n[1,7-10]"}
    router.mark_dead("gw2")
    router.mark_dead("gw3")
    plan = router.plan(NodeSet("n[1-10],web1"))
    assert (str(plan.direct), plan.parts, str(plan.unreachable)) == ("web1", {}, "n[1-10]")
    assert str(router.dead) == "gw[1-3]"


def test_gateways_option_takes_every_other_node() -> None:
    router = Router(gateways_topology("gw[1-4]", root_name="admin"))
    plan = router.plan(NodeSet("gw2,n[1-10],admin"))
    assert str(plan.direct) == "admin,gw2"
    assert folded(plan.parts) == {"gw1": "n[1-3]", "gw2": "n[4-6]", "gw3": "n[7-8]",
                                  "gw4": "n[9-10]"}
    assert folded(router.reroute("gw3", NodeSet("n[7-8]")).parts) == {"gw1": "n7", "gw2": "n8"}


def test_nodes_outside_the_tree_and_the_roots_own_group_are_direct() -> None:
    topology = conf("admin[1-2]: gw1,login1\ngw1: n[1-4]\n", root="admin1")
    plan = Router(topology).plan(NodeSet("admin[1-2],login1,gw1,n2,web1"))
    assert (str(plan.direct), folded(plan.parts)) == ("admin[1-2],gw1,login1,web1",
                                                      {"gw1": "n2"})


# ------------------------------------------------------------------------------ fan-out

@pytest.mark.parametrize(("total", "counts", "shares"), [
    (64, {"admin": 10, "gw1": 500, "gw2": 490}, {"admin": 1, "gw1": 32, "gw2": 31}),
    (10, {"gw1": 5, "gw2": 5}, {"gw1": 5, "gw2": 5}),
    (3, {"gw1": 5, "gw2": 5}, {"gw1": 2, "gw2": 1}),
    (1, {"gw1": 5, "gw2": 5}, {"gw1": 1, "gw2": 1}),  # at least 1 each
    (8, {"admin": 1, "gw1": 1, "gw2": 1000}, {"admin": 1, "gw1": 1, "gw2": 6}),
    (100, {"gw1": 2, "gw2": 0}, {"gw1": 100}),  # no targets, no share
    (5, {}, {}),
])
def test_split_fanout(total: int, counts: dict[str, int], shares: dict[str, int]) -> None:
    assert split_fanout(total, counts) == shares


def test_fanout_is_global_not_copied_to_each_gateway() -> None:
    # ClusterShell's #324: -f 64 with 4 gateways must not run 256 commands at once.
    plan = Router(gateways_topology("gw[1-4]", root_name="admin")).plan(NodeSet("n[1-1000]"))
    shares = plan.fanout(64)
    assert shares == {"gw1": 16, "gw2": 16, "gw3": 16, "gw4": 16}
    with pytest.raises(ValueError, match="must be 1 or more"):
        plan.fanout(0)


# ----------------------------------------------------------------------------- re-routing

def test_reroute_hands_a_dead_gateways_targets_to_its_live_siblings() -> None:
    router = Router(conf(CLUSTERSHELL))
    plan = router.plan(NodeSet("n[1-10]"))
    moved = router.reroute("gw1", plan.parts["gw1"])
    assert folded(plan.parts)["gw1"] == "n[2-5]"
    assert (folded(moved.parts), str(moved.stranded)) == ({"gw2": "n[2-3]", "gw3": "n[4-5]"},
                                                          "")
    assert moved.fanout(5) == {"gw2": 3, "gw3": 2}
    assert "gw1" not in router.plan(NodeSet("n[1-10]")).parts
    router.reroute("gw2", NodeSet("n5"))
    last = router.reroute("gw3", NodeSet("n[6-7]"))
    assert (last.parts, str(last.stranded)) == ({}, "n[6-7]")


@pytest.mark.parametrize(("gateway", "targets", "message"), [
    ("n1", "leaf1", '"n1" is not a first-level gateway'),
    ("web1", "n1", '"web1" is not a first-level gateway'),
    ("gw1", "n1,web1", 'not all of "n1,web1" are below "gw1"'),
    ("gw1", "gw2", 'not all of "gw2" are below "gw1"'),
])
def test_reroute_refuses_what_was_never_the_gateways(gateway: str, targets: str,
                                                     message: str) -> None:
    router = Router(conf(CLUSTERSHELL))
    with pytest.raises(ValueError, match=f"^topology: {message}$"):
        router.reroute(gateway, NodeSet(targets))
    assert not router.dead


# ----------------------------------------------------------------------------- explain

def test_explain_names_the_gateway_chosen_at_each_level_and_the_alternatives() -> None:
    router = Router(conf(CLUSTERSHELL), dead=["gw3"])
    route = router.explain("leaf2", NodeSet("n[1-10],leaf[1-4]"))
    assert [(hop.gateway, str(hop.alternatives), str(hop.dead)) for hop in route.hops] == [
        ("gw2", "gw1", "gw3"), ("n1", "", "")]
    assert route.group is not None and route.group.line == 4
    assert not route.direct and route.blocked is None
    assert router.explain("web1").direct and router.explain("web1").group is None
    assert router.explain("gw1").direct and router.explain("gw1").hops == ()


def test_explain_says_where_a_route_is_blocked() -> None:
    router = Router(conf(CLUSTERSHELL), dead=["gw[1-3]"])
    route = router.explain("leaf1")
    assert route.hops == () and route.blocked is not None
    assert str(route.blocked.nodes) == "gw[1-3]" and not route.direct


# ------------------------------------------------------------------- the CFG form, faults

@pytest.mark.parametrize(("data", "message"), [
    ([], "the tree must be an object"),
    ({"version": 1, "root": "gw1"}, "the tree lacks groups"),
    ({"version": 1, "root": "gw1", "groups": [], "x": 1}, "the tree has unknown keys: x"),
    ({"version": 2, "root": "gw1", "groups": []}, "version 2 is not 1"),
    ({"version": 1, "root": "", "groups": []}, "root must be a node name"),
    ({"version": 1, "root": "gw1", "groups": {}}, "groups must be a list"),
    ({"version": 1, "root": "gw1", "groups": [{"nodes": ""}]},
     "a group's nodes is an empty node set"),
    ({"version": 1, "root": "gw1", "groups": [{"nodes": 3}]},
     "a group's nodes must be a node set as text"),
    ({"version": 1, "root": "gw1", "groups": [{"nodes": "n1", "groups": "n2"}]},
     "group n1: groups must be a list, rest a boolean"),
    ({"version": 1, "root": "gw1", "groups": [{"nodes": "n1", "rest": True,
                                               "groups": [{"nodes": "n2"}]}]},
     "gateways that take every other node have no children"),
    ({"version": 1, "root": "gw1", "groups": [{"nodes": "n1"}, {"nodes": "n[1-2]"}]},
     "a node is in two places of the tree"),
    ({"version": 1, "root": "gw1", "groups": [{"nodes": "gw1"}]},
     "a node is in two places of the tree"),
    ({"version": 1, "root": "gw1", "peers": "gw2", "groups": []},
     'root "gw1" is not one node of "gw2"'),
    ({"version": 1, "root": "gw1", "groups": [{"nodes": "a", "rest": True},
                                              {"nodes": "b", "rest": True}]},
     "two groups of gateways take every other node"),
    ({"version": 1, "root": "gw1", "groups": [{"nodes": "a", "groups": [
        {"nodes": "b", "rest": True}]}]}, "only first-level gateways may take every other node"),
    ({"version": 1, "root": "r", "groups": [
        json.loads('{"nodes": "n", "groups": [' * 70 + '{"nodes": "x"}' + "]}" * 70)]},
     "deeper than 64 levels"),
])
def test_from_dict_refuses_malformed_data_in_one_line(data: Any, message: str) -> None:
    with pytest.raises(ValueError, match=f"^topology: {message}$"):
        Topology.from_dict(data)


def test_from_dict_takes_node_sets_literally() -> None:
    # groups were resolved at the root: an "@" from the wire is no group to look up
    part = Topology.from_dict({"version": 1, "root": "gw1", "groups": [{"nodes": "n[1-2]"}]})
    assert part.to_dict()["groups"] == [{"nodes": "n[1-2]"}]
    with pytest.raises(ValueError, match="not a gateway of this tree"):
        part.part("n1")


# ------------------------------------------------------------------------------ properties

@st.composite
def topologies(draw: st.DrawFn) -> Topology:
    """A random tree: up to 3 levels, groups of 1 to 3 gateways, leaves of 1 to 6 nodes;
    sometimes gateways that take every other node."""
    counter = iter(range(100_000))

    def name() -> str:
        return f"x{next(counter)}"

    def group(level: int) -> Group:
        size = draw(st.integers(1, 3 if level < 3 else 6))
        nodes = NodeSet.fromlist([name() for _ in range(size)])
        if level < 3 and draw(st.booleans()):
            return Group(nodes, [group(level + 1) for _ in range(draw(st.integers(1, 3)))])
        return Group(nodes)

    groups = [group(1) for _ in range(draw(st.integers(0, 3)))]
    if draw(st.booleans()):
        groups.append(Group(NodeSet.fromlist([name() for _ in range(2)]), rest=True))
    return Topology("root", groups)


@st.composite
def runs(draw: st.DrawFn) -> tuple[Topology, NodeSet, list[str]]:
    """A topology, targets (its nodes, the root, nodes outside it) and dead gateways."""
    topology = draw(topologies())
    known = sorted(topology.nodes())
    targets = draw(st.lists(st.sampled_from([*known, "out1", "out2"]), unique=True))
    dead = draw(st.lists(st.sampled_from(sorted(topology.gateways()) or ["none"]),
                         unique=True))
    return topology, NodeSet.fromlist(targets), dead


def _disjoint_union(parts: list[NodeSet]) -> NodeSet:
    union = NodeSet.fromlist(parts)
    assert sum(len(p) for p in parts) == len(union), "a target is in two places"
    return union


@settings(max_examples=150, deadline=None)
@given(runs())
def test_every_target_is_routed_exactly_once(run: tuple[Topology, NodeSet, list[str]]) -> None:
    topology, targets, dead = run
    router = Router(topology, dead)
    plan = router.plan(targets)
    assert _disjoint_union([plan.direct, plan.unreachable, *plan.parts.values()]) == targets
    for gateway, part in plan.parts.items():
        assert part and gateway not in dead
        group = next(g for g in topology.groups if gateway in g.nodes)
        assert group.rest or part.issubset(group.below)
    for group in topology.groups:  # siblings' shares differ by one at most
        sizes = [len(plan.parts.get(gw, NodeSet())) for gw in group.nodes if gw not in dead]
        if group.has_gateways and any(sizes):
            assert max(sizes) - min(sizes) <= 1
    carried = router.distribute(targets)
    together = {r.node: [h.gateway for h in r.hops] for r in router.explain_all(targets)}
    for node in targets:  # explained together, each node is routed as alone
        assert together[node] == [h.gateway for h in router.explain(node, targets).hops]
    for node in targets - plan.direct - plan.unreachable:
        chain, _ = topology.locate(node)
        route = router.explain(node, targets)
        hops = route.hops
        assert sorted(h.gateway for h in hops) == sorted(gw for gw, p in carried.items()
                                                         if node in p)
        assert hops[0].gateway in plan.parts
        if route.blocked is None:  # else a deeper group's gateways are all dead
            assert len(hops) == len(chain)
        else:
            assert len(hops) < len(chain) and route.blocked.nodes.issubset(router.dead)


@settings(max_examples=150, deadline=None)
@given(runs(), st.integers(1, 300))
def test_fanout_shares_sum_to_the_global_fanout(run: tuple[Topology, NodeSet, list[str]],
                                                total: int) -> None:
    topology, targets, dead = run
    plan = Router(topology, dead).plan(targets)
    shares = plan.fanout(total)
    parts = [gw for gw, nodes in [("root", plan.direct), *plan.parts.items()] if nodes]
    assert sorted(shares) == sorted(parts)
    assert all(share >= 1 for share in shares.values())
    if total >= len(parts) > 0:
        assert sum(shares.values()) == total
    else:
        assert sum(shares.values()) == len(parts)


@settings(max_examples=150, deadline=None)
@given(runs(), st.data())
def test_rerouting_never_loses_duplicates_or_uses_a_dead_gateway(
        run: tuple[Topology, NodeSet, list[str]], data: st.DataObject) -> None:
    topology, targets, dead = run
    router = Router(topology, dead)
    plan = router.plan(targets)
    if not plan.parts:
        return
    gateway = data.draw(st.sampled_from(sorted(plan.parts)))
    pending = NodeSet.fromlist(data.draw(st.lists(st.sampled_from(list(plan.parts[gateway])),
                                                  min_size=1, unique=True)))
    moved = router.reroute(gateway, pending)
    assert _disjoint_union([moved.stranded, *moved.parts.values()]) == pending
    assert gateway in router.dead
    assert not set(moved.parts) & set(router.dead)
    group = next(g for g in topology.groups if gateway in g.nodes)
    assert set(moved.parts) <= set(group.nodes)
    assert bool(moved.stranded) == (not group.nodes - router.dead)


@settings(max_examples=100, deadline=None)
@given(topologies())
def test_parts_round_trip_through_json(topology: Topology) -> None:
    data = json.loads(json.dumps(topology.to_dict()))
    assert Topology.from_dict(data).to_dict() == topology.to_dict()
    for gateway in topology.gateways():
        part = topology.part(gateway).to_dict()
        assert Topology.from_dict(json.loads(json.dumps(part))).to_dict() == part


# --------------------------------------------------------------------------- gateway-safe

ROUTING = Path(routing.__file__)


def test_routing_imports_only_the_standard_library_and_nodesets() -> None:
    imported: set[str] = set()
    for node in ast.walk(ast.parse(ROUTING.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    foreign = {name for name in imported
               if name.split(".")[0] not in sys.stdlib_module_names and name != "shoal.nodeset"}
    assert foreign == set()


def test_routing_runs_on_python_36_once_annotations_are_stripped() -> None:
    vermin = Path(sys.executable).parent / "vermin"
    proc = subprocess.run([str(vermin), "-t=3.6-", "--no-tips", "--violations",
                           "--exclude", "__future__.annotations", str(ROUTING)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
