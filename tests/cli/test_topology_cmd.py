"""``shoal topology show|explain``, and the tree options of ``shoal run``, through shoal's
real entry point: what they print, and faults in one line with exit status 2."""

from __future__ import annotations

import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import shoal

from shoal.nodeset import groups

CLUSTERSHELL_EXAMPLE = """\
# ClusterShell cluster topology example file
[routes]
rio0: rio[10-13]
rio[10-11]: rio[100-240]
rio[12-13]: rio[300-440]
"""

THREE_LEVELS = """\
[routes]
admin: gw[1-3],login1
gw[1-3]: n[1-10]
n1: leaf[1-4]
"""


@pytest.fixture(autouse=True)
def _fresh_std_resolver() -> Iterator[None]:
    groups.set_std_group_resolver(None)
    yield
    groups.set_std_group_resolver(None)  # the next test searches groups.conf afresh


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    path = tmp_path / "topology.conf"
    path.write_text(THREE_LEVELS)
    return path


def out(*args: str) -> str:
    outcome = shoal(*args)
    assert (outcome.status, outcome.err) == (0, b"")
    return outcome.out.decode()


def test_show_draws_clustershells_example_as_its_comment_does(tmp_path: Path) -> None:
    path = tmp_path / "topology.conf"
    path.write_text(CLUSTERSHELL_EXAMPLE)
    assert out("topology", "show", "--topology", str(path), "--root-name", "rio0") == (
        "rio0 (this host): 4 gateways, 286 nodes in the tree\n"
        "|- rio[10-11]: 2 gateways, 141 nodes below\n"
        "|  `- rio[100-240]: 141 nodes\n"
        "`- rio[12-13]: 2 gateways, 141 nodes below\n"
        "   `- rio[300-440]: 141 nodes\n"
        "nodes not in the tree are reached directly\n")


def test_show_three_levels(conf: Path) -> None:
    assert out("topology", "show", "--topology", str(conf), "--root-name", "admin") == (
        "admin (this host): 4 gateways, 18 nodes in the tree\n"
        "|- login1: 1 node\n"
        "`- gw[1-3]: 3 gateways, 14 nodes below\n"
        "   |- n[2-10]: 9 nodes\n"
        "   `- n1: 1 gateway, 4 nodes below\n"
        "      `- leaf[1-4]: 4 nodes\n"
        "nodes not in the tree are reached directly\n")


def test_show_with_nodes_counts_what_each_gateway_carries(conf: Path) -> None:
    assert out("topology", "show", "--topology", str(conf), "--root-name", "admin",
               "-w", "n[1-10],leaf[1-4]", "-w", "gw2,other[1-2]", "-x", "other2",
               "-f", "8") == (
        "admin (this host): 16 targets, 2 direct: gw2,other1\n"
        "`- gw[1-3]: 5 on gw[1-2], 4 on gw3; gw2 itself a target\n"
        "   |- n[2-10]: 9 targets\n"
        "   `- n1: 4 on n1; n1 itself a target\n"
        "      `- leaf[1-4]: 4 targets\n"
        "fan-out 8: 1 direct, 3 on gw1, 2 on gw2, 2 on gw3\n")


def test_show_gateways_a_one_level_tree() -> None:
    args = ("topology", "show", "--gateways", "gw[1-4]", "--root-name", "admin")
    assert out(*args) == (
        "admin (this host): 4 gateways, 4 nodes in the tree\n"
        "`- gw[1-4]: 4 gateways, for every other node\n"
        "nodes not in the tree are reached through gw[1-4]\n")
    # -f is shared, not copied to each gateway (ClusterShell's #324)
    assert out(*args, "-w", "node[1-1000]", "-f", "64") == (
        "admin (this host): 1000 targets\n"
        "`- gw[1-4]: 250 on gw[1-4]\n"
        "fan-out 64: 16 on gw1, 16 on gw2, 16 on gw3, 16 on gw4\n")


def test_explain_prints_the_route_and_the_alternatives(conf: Path) -> None:
    where = f"{conf} line"
    assert out("topology", "explain", "--topology", str(conf), "--root-name", "admin",
               "leaf2", "n5") == (
        "leaf2: admin -> gw2 -> n1 -> leaf2\n"
        f"  gw2: gateway in gw[1-3] ({where} 3); if it fails: gw[1,3]\n"
        f"  n1: gateway ({where} 4); no other gateway if it fails\n"
        f"  leaf2: listed at {where} 4\n"
        "\n"
        "n5: admin -> gw1 -> n5\n"
        f"  gw1: gateway in gw[1-3] ({where} 3); if it fails: gw[2-3]\n"
        f"  n5: listed at {where} 3\n")


def test_explain_routes_as_the_run_of_w_would(conf: Path) -> None:
    text = out("topology", "explain", "--topology", str(conf), "--root-name", "admin",
               "-w", "n[1-10],leaf[1-4]", "leaf2")
    assert text.splitlines()[0] == "leaf2: admin -> gw3 -> n1 -> leaf2"


def test_explain_direct_routes(conf: Path) -> None:
    assert out("topology", "explain", "--topology", str(conf), "--root-name", "admin",
               "admin,gw1,login1,web1") == (
        "admin: this host\n"
        "\n"
        f"gw1: admin -> gw1, directly (a gateway, {conf} line 3)\n"
        "\n"
        f"login1: admin -> login1, directly ({conf} line 2)\n"
        "\n"
        "web1: admin -> web1, directly (not in the topology)\n")


def test_explain_with_gateways() -> None:
    assert out("topology", "explain", "--gateways", "gw[1-4]", "--root-name", "admin",
               "-w", "n[1-100]", "n50") == (
        "n50: admin -> gw2 -> n50\n"
        "  gw2: gateway in gw[1-4] (--gateways); if it fails: gw[1,3-4]\n"
        "  n50: not in the topology: gw2's group takes every other node\n")


def test_the_root_is_this_host_and_its_peers_are_direct(tmp_path: Path) -> None:
    name = socket.gethostname()
    path = tmp_path / "topology.yaml"
    path.write_text(f"routes:\n  '{name},admin9': gw1\n  gw1: n[1-2]\n")
    assert out("topology", "show", "--topology", str(path)).splitlines()[0] == (
        f"{out('nodeset', '-f', name + ',admin9').strip()} (this host: {name}): "
        "1 gateway, 3 nodes in the tree")
    assert out("topology", "explain", "--topology", str(path), "admin9") == (
        f"admin9: {name} -> admin9, directly (in this host's own group, "
        f"{out('nodeset', '-f', name + ',admin9').strip()})\n")


def test_shoal_conf_names_the_topology_and_groups(tmp_path: Path, conf: Path) -> None:
    groups_conf = tmp_path / "groups.conf"
    groups_conf.write_text("[Main]\ndefault: local\n[local]\nmap: echo gw[1-2]\n")
    yaml = tmp_path / "t.yaml"
    yaml.write_text("routes:\n  admin: '@gws'\n  '@gws': n[1-4]\n")
    settings = tmp_path / "shoal.conf"
    settings.write_text(f"[Main]\ntopology: {yaml}\nnode_groups: {groups_conf}\n")
    shown = out("topology", "show", "--conf", str(settings), "--root-name", "admin")
    assert shown.splitlines()[1] == "`- gw[1-2]: 2 gateways, 4 nodes below"
    # the command line wins over shoal.conf
    base = ("topology", "show", "--conf", str(settings), "--root-name", "admin")
    assert out(*base, "--topology", str(conf)).splitlines()[2] == (
        "`- gw[1-3]: 3 gateways, 14 nodes below")
    assert out(*base, "--gateways", "@gws").splitlines()[1] == (
        "`- gw[1-2]: 2 gateways, for every other node")


def test_colour_only_when_asked_or_on_a_terminal(conf: Path) -> None:
    args = ("topology", "show", "--topology", str(conf), "--root-name", "admin")
    assert b"\x1b[" not in shoal(*args).out  # piped: plain
    coloured = shoal(*args, "--color", "always").out.decode()
    assert coloured.splitlines()[0] == "\x1b[1madmin\x1b[0m (this host): 4 gateways, " \
                                       "18 nodes in the tree"


@pytest.mark.parametrize(("args", "message"), [
    (["topology", "show"],
     "shoal: no topology: give --topology FILE or --gateways NODES, or set topology in "
     "shoal.conf\n"),
    (["topology", "show", "--topology", "{bad}", "--root-name", "admin"],
     'shoal: {bad} line 3: node set "gw[1-": missing "]" at column 3\n'),
    (["topology", "show", "--topology", "{conf}"],
     'shoal: {conf}: this host ({names}) is on the left of no route; name the root with '
     "--root-name\n"),
    (["topology", "explain", "--topology", "{conf}", "--root-name", "nosuch", "n1"],
     'shoal: {conf}: root "nosuch" is on the left of no route\n'),
    (["topology", "show", "--topology", "{conf}", "--gateways", "gw1"],
     "shoal: --topology and --gateways exclude each other: give one\n"),
    (["topology", "show", "--gateways", "gw[1-"],
     'shoal: node set "gw[1-": missing "]" at column 3\n'),
    (["topology", "show", "--gateways", "admin,gw1", "--root-name", "admin"],
     'shoal: --gateways "admin,gw1": the root, admin, is one of them\n'),
    (["topology", "show", "--gateways", "gw1", "-f", "4"],
     "shoal: -f and -x go with -w NODES\n"),
    (["topology", "explain", "--gateways", "gw1", "n[1-"],
     'shoal: node set "n[1-": missing "]" at column 2\n'),
    (["topology", "show", "--topology", "{tmp}/nosuch.conf"],
     "shoal: {tmp}/nosuch.conf: cannot read: No such file or directory\n"),
    (["run", "-w", "n1", "--topology", "{bad}", "--root-name", "admin", "true"],
     'shoal: {bad} line 3: node set "gw[1-": missing "]" at column 3\n'),
    (["copy", "-w", "n1", "--gateways", "gw1", "--topology", "{conf}", "f", "--dest", "/t"],
     "shoal: --topology and --gateways exclude each other: give one\n"),
    (["run", "-w", "n1", "--root-name", "admin", "true"],
     "shoal: --root-name needs a topology: --topology FILE or --gateways NODES\n"),
])
def test_faults_are_one_line_and_exit_2(tmp_path: Path, conf: Path, args: list[str],
                                        message: str) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text("[routes]\nadmin: gw[1-2]\ngw[1-: n[1-4]\n")
    names = ", ".join(f'"{n}"' for n in dict.fromkeys(
        [socket.gethostname(), socket.gethostname().split(".")[0], socket.getfqdn()]))
    fill = {"bad": str(bad), "conf": str(conf), "tmp": str(tmp_path), "names": names}
    outcome = shoal(*[arg.format(**fill) for arg in args])
    assert (outcome.status, outcome.out, outcome.err.decode()) == (2, b"",
                                                                   message.format(**fill))


def test_shoal_conf_topology_key_is_checked_as_a_file(tmp_path: Path) -> None:
    settings = tmp_path / "shoal.conf"
    settings.write_text(textwrap.dedent(f"""\
        [Main]
        topology: {tmp_path}/missing.conf
        """))
    outcome = shoal("topology", "show", "--conf", str(settings))
    assert (outcome.status, outcome.err.decode()) == (
        2, f"shoal: {tmp_path}/missing.conf: cannot read: No such file or directory\n")
