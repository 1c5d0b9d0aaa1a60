"""Group sources, the group resolver and group configuration files.

Upcall sources run real shell commands (sed, printf, echo) on files written to
``tmp_path``, as ClusterShell's documentation shows; where ClusterShell answers too,
its ``NodeUtils`` resolver is asked the same question on the same files and the
answers must match.
"""

from __future__ import annotations

import ast
import inspect
import os
import shlex
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import shoal.nodeset.groups as groups_module
from shoal.errors import (
    ConfigError,
    GroupSourceError,
    GroupSourceNoUpcallError,
    UnknownGroupError,
    UnknownGroupSourceError,
    UsageError,
)
from shoal.nodeset.groups import (
    DEFAULT_UPCALL_TIMEOUT,
    GroupResolver,
    GroupSource,
    UpcallGroupSource,
    YAMLGroupFile,
    find_group_config,
    group_config_paths,
    load_group_config,
    set_std_group_resolver,
    set_std_group_resolver_config,
    std_group_resolver,
)
from shoal.nodeset.groupsconf import parse_groups_conf, parse_groups_yaml
from shoal.nodeset.nodeset import NodeSet


class FakeClock:
    """A clock the test moves by hand, so cache expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str) -> Path:
    """Write dedented ``text`` to ``path``, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def calls(path: Path) -> list[str]:
    """The lines an upcall appended to its call log."""
    return path.read_text().split() if path.exists() else []


@pytest.fixture(autouse=True)
def _fresh_std_resolver() -> Iterator[None]:
    """Every test starts and ends with the standard resolver unbuilt."""
    set_std_group_resolver(None)
    yield
    set_std_group_resolver(None)


# --------------------------------------------------------------------------- in memory

def memory_resolver() -> GroupResolver:
    return GroupResolver([
        GroupSource("rack", {"r1": "n[1-4]", "r2": ["n5", "n6 n7"], "empty": ""}),
        GroupSource("roles", {"adm": "n1", "io": "n[2-3]\nn9"}, allgroups="n[1-9]"),
    ])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(lambda r: r.group_nodes("r1"), ["n[1-4]"], id="group"),
        pytest.param(lambda r: r.group_nodes("r2"), ["n5,n6", "n7"], id="list-value-joined"),
        pytest.param(lambda r: r.group_nodes("empty"), [], id="empty-group"),
        pytest.param(lambda r: r.group_nodes("io", "roles"), ["n[2-3]", "n9"], id="lines"),
        pytest.param(lambda r: r.all_nodes("roles"), ["n[1-9]"], id="allgroups"),
        pytest.param(lambda r: r.grouplist(), ["r1", "r2", "empty"], id="grouplist"),
        pytest.param(lambda r: r.grouplist("roles"), ["adm", "io"], id="grouplist-ns"),
        pytest.param(lambda r: r.sources(), ["rack", "roles"], id="sources"),
        pytest.param(lambda r: r.default_source_name, "rack", id="first-is-default"),
        pytest.param(lambda r: r.has_node_groups(), False, id="no-reverse"),
        pytest.param(lambda r: r.has_node_groups("nosuch"), False, id="no-source-no-reverse"),
    ],
)
def test_memory_source(query: Callable[[GroupResolver], Any], expected: Any) -> None:
    assert query(memory_resolver()) == expected


@pytest.mark.parametrize(
    ("query", "error", "message"),
    [
        pytest.param(lambda r: r.group_nodes("r9"), UnknownGroupError,
                     'no group "r9" in group source "rack"', id="unknown-group"),
        pytest.param(lambda r: r.group_nodes("adm", "nosuch"), UnknownGroupSourceError,
                     'unknown group source "nosuch"', id="unknown-source"),
        pytest.param(lambda r: r.all_nodes("nosuch"), UnknownGroupSourceError,
                     'unknown group source "nosuch"', id="unknown-source-all"),
        pytest.param(lambda r: r.grouplist("nosuch"), UnknownGroupSourceError,
                     'unknown group source "nosuch"', id="unknown-source-list"),
        pytest.param(lambda r: r.node_groups("n1", "nosuch"), UnknownGroupSourceError,
                     'unknown group source "nosuch"', id="unknown-source-reverse"),
        pytest.param(lambda r: setattr(r, "default_source_name", "nosuch"),
                     UnknownGroupSourceError, 'unknown group source "nosuch"',
                     id="set-unknown-default"),
        pytest.param(lambda r: r.add_source(GroupSource("rack")), UsageError,
                     'group source "rack" is already defined', id="name-collision"),
        # what the sources cannot tell, as ClusterShell's resolver (node sets work it out)
        pytest.param(lambda r: r.all_nodes(), GroupSourceNoUpcallError,
                     'group source "rack": no list of all nodes', id="no-allgroups"),
        pytest.param(lambda r: r.node_groups("n1", "roles"), GroupSourceNoUpcallError,
                     'group source "roles": no "reverse" upcall to find the groups of a node',
                     id="no-reverse"),
    ],
)
def test_memory_source_errors(query: Callable[[GroupResolver], Any], error: type[Exception],
                              message: str) -> None:
    with pytest.raises(error) as exc:
        query(memory_resolver())
    assert str(exc.value) == message


def test_default_source_by_name_or_object() -> None:
    rack, roles = GroupSource("rack", {"a": "n1"}), GroupSource("roles", {"a": "n2"})
    resolver = GroupResolver([rack, roles], default_source="roles")
    assert resolver.sources() == ["roles", "rack"]
    assert resolver.group_nodes("a") == ["n2"]
    resolver.default_source_name = "rack"
    assert resolver.sources() == ["rack", "roles"]
    assert resolver.group_nodes("a") == ["n1"]
    assert resolver.group_nodes("a", "") == ["n1"]
    extra = GroupSource("extra", {"a": "n3"})
    resolver = GroupResolver([rack], default_source=extra)
    assert resolver.sources() == ["extra", "rack"]
    with pytest.raises(UnknownGroupSourceError):
        GroupResolver([rack], default_source="roles")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(lambda r: r.sources(), [], id="sources"),
        pytest.param(lambda r: r.default_source_name, None, id="no-default"),
        pytest.param(lambda r: r.grouplist(), [], id="grouplist"),
        pytest.param(lambda r: r.node_groups("n1"), [], id="node-groups"),
        pytest.param(lambda r: r.has_node_groups(), False, id="has-node-groups"),
    ],
)
def test_resolver_without_sources(query: Callable[[GroupResolver], Any], expected: Any) -> None:
    assert query(GroupResolver()) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        pytest.param(lambda r: r.group_nodes("web"),
                     'no group "web" in any group source (none is configured)', id="group"),
        pytest.param(lambda r: r.all_nodes(),
                     'no group "*" in any group source (none is configured)', id="all"),
    ],
)
def test_resolver_without_sources_errors(query: Callable[[GroupResolver], Any],
                                         message: str) -> None:
    with pytest.raises(UnknownGroupError) as exc:
        query(GroupResolver())
    assert exc.value.source is None
    assert str(exc.value) == message


def test_illegal_group_names_are_refused() -> None:
    resolver = GroupResolver([GroupSource("s", {"a,b": "n1", "ok": "n2"})])
    with pytest.raises(GroupSourceError) as exc:
        resolver.grouplist()
    assert str(exc.value) == 'group source "s": group name "a,b" holds ",", which no group ' \
                             "name may hold"


def test_node_sets_work_out_what_sources_cannot_tell() -> None:
    # No "all" and no "reverse": node sets take the groups of the list (ranges expanded,
    # nested groups resolved), as ClusterShell's NodeSet does.
    resolver = GroupResolver([
        GroupSource("racks", {"rack1": "n[1-4]", "rack2": "n[5-8]", "old": "@rack[1-2]!n8"}),
        GroupSource("roles", {"io": "@racks:rack1,n9"}),
        UpcallGroupSource("ranged", {"list": "echo 'r[1-2]' r4", "map": "echo m-$GROUP"}),
    ])
    for source in ("racks", "ranged"):
        with pytest.raises(GroupSourceNoUpcallError):
            resolver.all_nodes(source)
        with pytest.raises(GroupSourceNoUpcallError):
            resolver.node_groups("n3", source)

    def groups(nodes: str, source: str) -> list[str]:
        return sorted(NodeSet(nodes, resolver=resolver).groups(source, noprefix=True))

    assert groups("n3", "racks") == ["@old", "@rack1"]
    assert groups("n8", "racks") == ["@rack2"]
    assert groups("m-r2", "ranged") == ["@r2"]
    assert groups("n2", "roles") == ["@io"]
    assert str(NodeSet.fromall("racks", resolver=resolver)) == "n[1-8]"
    assert str(NodeSet.fromall("ranged", resolver=resolver)) == "m-r[1-2,4]"
    assert str(NodeSet("@ranged:*", resolver=resolver)) == "m-r[1-2,4]"


# --------------------------------------------------------------------------- YAML files

CLUSTER_YAML = """
    roles:
        adm: 'example0'
        io: '@racks:rack2,example2'
        all: '@io,@adm'
    racks:
        rack1: 'example[0,2]'
        rack2: 'example[4-5]'
        spare:
        rack5:
            - 'example[200-205]'   # a comment
            - 'example245'
"""


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(lambda r: r.sources(), ["roles", "racks"], id="sources-in-file-order"),
        pytest.param(lambda r: r.group_nodes("adm"), ["example0"], id="default-source"),
        pytest.param(lambda r: r.group_nodes("rack5", "racks"),
                     ["example[200-205],example245"], id="list-joined"),
        pytest.param(lambda r: r.group_nodes("spare", "racks"), [], id="null-is-empty"),
        pytest.param(lambda r: r.all_nodes(), ["@io,@adm"], id="all-key"),
        pytest.param(lambda r: r.grouplist(), ["adm", "io", "all"], id="all-is-listed"),
        pytest.param(lambda r: str(NodeSet.fromall("racks", resolver=r)),
                     "example[0,2,4-5,200-205,245]", id="all-is-union"),
        pytest.param(lambda r: sorted(NodeSet("example4", resolver=r).groups("racks")),
                     ["@racks:rack2"], id="groups-of-a-node"),
    ],
)
def test_yaml_source(query: Callable[[GroupResolver], Any], expected: Any,
                     tmp_path: Path) -> None:
    file = YAMLGroupFile(write(tmp_path / "cluster.yaml", CLUSTER_YAML))
    assert query(GroupResolver(file.sources)) == expected


def test_yaml_source_cannot_tell(tmp_path: Path) -> None:
    file = YAMLGroupFile(write(tmp_path / "cluster.yaml", CLUSTER_YAML))
    assert list(file) == list(file.sources)  # iterates, as ClusterShell's YAMLGroupLoader
    resolver = GroupResolver(file.sources)
    with pytest.raises(GroupSourceNoUpcallError, match='group source "racks": no "all" group'):
        resolver.all_nodes("racks")
    with pytest.raises(GroupSourceNoUpcallError, match='no "reverse" upcall'):
        resolver.node_groups("example4", "racks")


def test_yaml_unknown_group(tmp_path: Path) -> None:
    file = YAMLGroupFile(write(tmp_path / "cluster.yaml", CLUSTER_YAML))
    with pytest.raises(UnknownGroupError) as exc:
        GroupResolver(file.sources).group_nodes("nosuchgroup", "racks")
    assert (exc.value.group, exc.value.source) == ("nosuchgroup", "racks")


def test_yaml_file_is_read_again_after_cache_time(tmp_path: Path) -> None:
    clock = FakeClock()
    path = write(tmp_path / "g.yaml", "a:\n  g: n1\nb:\n  g: m1\n")
    file = YAMLGroupFile(path, cache_time=60, clock=clock)
    resolver = GroupResolver(file.sources)
    assert resolver.group_nodes("g") == ["n1"]
    write(path, "a:\n  g: n2\n  h: n3\nc:\n  g: x1\n")
    clock.now += 59
    assert resolver.group_nodes("g") == ["n1"]
    clock.now += 1
    assert resolver.group_nodes("g") == ["n2"]
    assert resolver.grouplist("a") == ["g", "h"]
    assert resolver.grouplist("b") == []  # gone from the file
    assert resolver.sources() == ["a", "b"]  # new sources wait for a new configuration
    write(path, "a:\n  g: n4\n")
    resolver.clear_cache()
    assert resolver.group_nodes("g") == ["n4"]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        pytest.param("roles:\n  adm: n1\n  - x\n", 3,
                     "invalid YAML at column 3: expected <block end>, but found '-' "
                     "(while parsing a block mapping)", id="syntax"),
        pytest.param("roles:\n  adm: 'n1\n", 3,
                     "invalid YAML at column 1: found unexpected end of stream "
                     "(while scanning a quoted scalar)", id="unclosed-quote"),
        pytest.param("", 1, "expected a mapping of group source names to groups",
                     id="empty-file"),
        pytest.param("# nothing\n- a\n- b\n", 2,
                     "expected a mapping of group source names to groups", id="top-list"),
        pytest.param("roles:\n  adm: n1\n1:\n  a: b\n", 3,
                     "group source name 1 is not a string (add quotes?)", id="source-name"),
        pytest.param("roles:\n  adm: n1\nracks: n[1-2]\n", 3,
                     'group source "racks" is not a mapping of group names to node sets',
                     id="source-not-mapping"),
        pytest.param("roles:\nracks:\n  r1: n1\n", 1,
                     'group source "roles" is not a mapping of group names to node sets',
                     id="source-null"),
        pytest.param("roles:\n  adm: n1\n  7: n2\n", 3,
                     'group name 7 in source "roles" is not a string (add quotes?)',
                     id="group-name"),
        pytest.param("roles:\n  adm: n1\n  io:\n    x: y\n", 4,
                     'group "io" in source "roles": expected a node set string or a list '
                     "of them", id="group-mapping"),
        pytest.param("roles:\n  adm: [n1, 2]\n", 2,
                     'group "adm" in source "roles": expected a node set string or a list '
                     "of them", id="group-list-item"),
    ],
)
def test_malformed_yaml(text: str, line: int | None, reason: str, tmp_path: Path) -> None:
    path = write(tmp_path / "bad.yaml", text)
    with pytest.raises(ConfigError) as exc:
        YAMLGroupFile(path)
    assert (exc.value.path, exc.value.line, exc.value.reason) == (str(path), line, reason)
    assert "\n" not in str(exc.value)


def test_parse_groups_yaml_is_pure() -> None:
    assert parse_groups_yaml("s:\n  g: [a, b]\n  h:\n", "x.yaml") == {"s": {"g": "a,b", "h": ""}}


# --------------------------------------------------------------------------- upcalls

LOCAL_GROUPS = """
    adm: example0
    oss: example4 example5
    io: example[4-6]
    empty:
    compute: example[32-159]
    all: example[4-6,32-159]
"""

REVERSE = """
    example0: adm
    example4: oss io
"""

#: ClusterShell's own "local" section, reading files relative to its cfgdir.
LOCAL_SECTION = r"""
    map: sed -n 's/^$GROUP:\(.*\)/\1/p' groups.txt
    all: sed -n 's/^all:\(.*\)/\1/p' $CFGDIR/groups.txt
    list: sed -n 's/^\([0-9A-Za-z_-]*\):.*/\1/p' $CFGDIR/groups.txt
    reverse: sed -n 's/^$NODE: *//p' reverse.txt
"""


@pytest.fixture
def local_conf(tmp_path: Path) -> Path:
    """A groups.conf with ClusterShell's "local" upcall source and a map-only one."""
    write(tmp_path / "groups.txt", LOCAL_GROUPS)
    write(tmp_path / "reverse.txt", REVERSE)
    return write(tmp_path / "groups.conf", "[Main]\ndefault: local\n\n[local]\n"
                 + textwrap.dedent(LOCAL_SECTION).lstrip("\n")
                 + "\n[maponly]\nmap: echo $SOURCE-$GROUP\n")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(lambda r: r.group_nodes("adm"), ["example0"], id="map"),
        pytest.param(lambda r: r.group_nodes("oss"), ["example4", "example5"], id="map-words"),
        pytest.param(lambda r: r.group_nodes("io", "local"), ["example[4-6]"], id="map-ns"),
        pytest.param(lambda r: r.all_nodes(), ["example[4-6,32-159]"], id="all"),
        pytest.param(lambda r: r.grouplist(),
                     ["adm", "oss", "io", "empty", "compute", "all"], id="list"),
        pytest.param(lambda r: r.node_groups("example4"), ["oss", "io"], id="reverse"),
        pytest.param(lambda r: r.node_groups("example9"), [], id="reverse-nothing"),
        pytest.param(lambda r: r.has_node_groups(), True, id="has-reverse"),
        pytest.param(lambda r: r.has_node_groups("maponly"), False, id="has-no-reverse"),
        pytest.param(lambda r: r.group_nodes("x", "maponly"), ["maponly-x"], id="source-var"),
        pytest.param(lambda r: r.sources(), ["local", "maponly"], id="sources"),
    ],
)
def test_upcall_source_like_clustershell(query: Callable[[Any], Any], expected: Any,
                                         local_conf: Path) -> None:
    from ClusterShell.NodeUtils import GroupResolverConfig

    assert query(load_group_config(local_conf)) == expected
    assert query(GroupResolverConfig([str(local_conf)])) == expected


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        pytest.param("empty", [], id="listed-but-empty"),
        pytest.param("nosuchgroup", UnknownGroupError, id="not-listed-prints-nothing"),
        pytest.param("a;touch pwned", UnknownGroupError, id="unsafe-name"),
        pytest.param("", UnknownGroupError, id="empty-name"),
    ],
)
def test_map_printing_nothing(group: str, expected: Any, local_conf: Path) -> None:
    resolver = load_group_config(local_conf)
    if isinstance(expected, list):
        assert resolver.group_nodes(group) == expected
    else:
        with pytest.raises(expected):
            resolver.group_nodes(group)
    assert not (local_conf.parent / "pwned").exists()


def test_map_printing_nothing_without_list_is_unknown(tmp_path: Path) -> None:
    source = UpcallGroupSource("s", {"map": "true"})
    with pytest.raises(UnknownGroupError) as exc:
        GroupResolver([source]).group_nodes("g")
    assert str(exc.value) == 'no group "g" in group source "s"'


def upcall_resolver(tmp_path: Path, **upcalls: str) -> GroupResolver:
    return GroupResolver([UpcallGroupSource("s", upcalls, cfgdir=tmp_path)])


@pytest.mark.parametrize(
    ("upcalls", "query", "error", "message"),
    [
        pytest.param({"map": "nosuchcommand-shoal $GROUP"}, lambda r: r.group_nodes("g"),
                     GroupSourceError, 'group source "s": upcall "map" for group "g" exited '
                     "with 127: ", id="map-command-not-found"),
        pytest.param({"map": "kill -9 $$$$"}, lambda r: r.group_nodes("g"), GroupSourceError,
                     'group source "s": upcall "map" for group "g" was killed by signal 9',
                     id="map-killed"),
        pytest.param({"map": "exit 255"}, lambda r: r.group_nodes("g"), GroupSourceError,
                     'group source "s": upcall "map" for group "g" exited with 255',
                     id="map-exit-255"),
        pytest.param({"map": "echo x", "list": "printf 'first\\nsecond\\n' >&2; exit 2"},
                     lambda r: r.grouplist(), GroupSourceError,
                     'group source "s": upcall "list" exited with 2: first', id="list-fails"),
        pytest.param({"map": "echo x", "all": "echo '' >&2; echo ' why ' >&2; exit 1"},
                     lambda r: r.all_nodes(), GroupSourceError,
                     'group source "s": upcall "all" exited with 1: why', id="all-fails"),
        pytest.param({"map": "echo x", "reverse": "exit 4"}, lambda r: r.node_groups("n1"),
                     GroupSourceError, 'group source "s": upcall "reverse" for node "n1" '
                     "exited with 4", id="reverse-fails"),
        pytest.param({"map": "echo x", "reverse": "echo g"}, lambda r: r.node_groups("n 1"),
                     GroupSourceError, 'group source "s": node name "n 1" holds characters '
                     'that are unsafe in upcall "reverse"', id="reverse-unsafe-node"),
        pytest.param({"map": "echo x"}, lambda r: r.grouplist(), GroupSourceError,
                     'group source "s": no "list" upcall to list its groups', id="no-list"),
        pytest.param({"map": "echo x"}, lambda r: r.all_nodes(), GroupSourceNoUpcallError,
                     'group source "s": no "all" upcall', id="no-all"),
        pytest.param({"map": "echo x"}, lambda r: NodeSet.fromall(resolver=r),
                     GroupSourceNoUpcallError, 'group source "s": no "all" upcall and no '
                     '"list" upcall to find all nodes', id="no-all-no-list"),
        pytest.param({"map": "echo x"}, lambda r: r.node_groups("n1"),
                     GroupSourceNoUpcallError, 'group source "s": no "reverse" upcall to find '
                     "the groups of a node", id="no-reverse"),
        pytest.param({"map": "echo x", "list": "echo 'a,b'"}, lambda r: r.grouplist(),
                     GroupSourceError, 'group source "s": group name "a,b" holds ",", which '
                     "no group name may hold", id="illegal-group-name"),
        pytest.param({"mapall": "echo 'g: n1'; echo 'bad line'"}, lambda r: r.grouplist(),
                     GroupSourceError, 'group source "s": upcall "mapall" printed a malformed '
                     'line "bad line" (expected "group: nodes")', id="mapall-malformed"),
        pytest.param({"mapall": "exit 5"}, lambda r: r.group_nodes("g"), GroupSourceError,
                     'group source "s": upcall "mapall" exited with 5', id="mapall-fails"),
    ],
)
def test_failing_upcalls(upcalls: dict[str, str], query: Callable[[GroupResolver], Any],
                         error: type[Exception], message: str, tmp_path: Path) -> None:
    with pytest.raises(error) as exc:
        query(upcall_resolver(tmp_path, **upcalls))
    assert str(exc.value).startswith(message)
    assert "\n" not in str(exc.value)


def test_map_exiting_non_zero_is_an_unknown_group(tmp_path: Path) -> None:
    resolver = upcall_resolver(tmp_path, map="echo no such group $GROUP >&2; exit 2")
    with pytest.raises(UnknownGroupError) as exc:
        resolver.group_nodes("x")
    assert str(exc.value) == 'no group "x" in group source "s"'
    cause = exc.value.__cause__
    assert isinstance(cause, GroupSourceError)
    assert str(cause) == ('group source "s": upcall "map" for group "x" exited with 2: '
                          "no such group x")


def test_upcall_timeout(tmp_path: Path) -> None:
    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)
    # "cat" blocks on the fifo: no sleep, and it runs as a child of sh.
    source = UpcallGroupSource("s", {"map": f"cat {shlex.quote(str(fifo))}; echo n1"},
                               timeout=0.2)
    with pytest.raises(GroupSourceError) as exc:
        source.group_nodes("g")
    assert str(exc.value) == 'group source "s": upcall "map" for group "g" timed out after 0.2s'


def test_upcall_cannot_start(tmp_path: Path) -> None:
    source = UpcallGroupSource("s", {"map": "echo n1"}, cfgdir=tmp_path / "gone")
    with pytest.raises(GroupSourceError) as exc:
        source.group_nodes("g")
    assert str(exc.value).startswith(
        f'group source "s": upcall "map" for group "g" could not start in "{tmp_path}/gone": ')


def test_upcall_variables_and_working_directory(tmp_path: Path) -> None:
    write(tmp_path / "file.txt", "from-cwd\n")
    source = UpcallGroupSource("src", {
        "map": "echo $GROUP ${SOURCE} $CFGDIR '$$GROUP' $NODE; cat file.txt",
        "reverse": "echo $NODE-$GROUP",
    }, cfgdir=tmp_path)
    # safe_substitute: known names replaced, "$$" made "$", others ($NODE) left to the shell
    assert source.group_nodes("g1") == ["g1", "src", str(tmp_path), "$GROUP", "from-cwd"]
    assert source.node_groups("n1") == ["n1-"]


def test_default_timeout_and_unknown_upcall() -> None:
    assert UpcallGroupSource("s", {"map": "true"}).timeout == DEFAULT_UPCALL_TIMEOUT
    with pytest.raises(UsageError, match='unknown upcall "mapp"'):
        UpcallGroupSource("s", {"mapp": "true"})
    with pytest.raises(UsageError, match='needs a "map" or "mapall" upcall'):
        UpcallGroupSource("s", {"list": "true", "map": ""})


# --------------------------------------------------------------------------- caching

@pytest.fixture
def counted(tmp_path: Path) -> tuple[Path, Path]:
    """A groups.conf whose upcalls log each call; returns (groups.conf, call log)."""
    write(tmp_path / "groups.txt", "a: n1\nb: n2\n")
    conf = write(tmp_path / "groups.conf", r"""
        [s]
        map: echo map-$GROUP >> calls.log; sed -n 's/^$GROUP: *//p' groups.txt
        list: echo list >> calls.log; sed -n 's/^\([a-z]*\):.*/\1/p' groups.txt
        all: echo all >> calls.log; echo n1 n2
        reverse: echo rev-$NODE >> calls.log; echo a
        cache_time: 60
        [nocache]
        map: echo map-$GROUP >> calls.log; echo x
        cache_time: 0
        [fails]
        map: echo fail-$GROUP >> calls.log; exit 1
    """)
    return conf, tmp_path / "calls.log"


def test_answers_are_cached_for_cache_time(counted: tuple[Path, Path]) -> None:
    conf, log = counted
    clock = FakeClock()
    resolver = load_group_config(conf, clock=clock)
    for _ in range(3):
        assert resolver.group_nodes("a") == ["n1"]
        assert resolver.grouplist() == ["a", "b"]
        assert resolver.all_nodes() == ["n1", "n2"]
        assert resolver.node_groups("n1") == ["a"]
    assert calls(log) == ["map-a", "list", "all", "rev-n1"]
    clock.now += 59.9
    resolver.group_nodes("a")
    resolver.group_nodes("b")
    assert calls(log) == ["map-a", "list", "all", "rev-n1", "map-b"]
    clock.now += 0.1
    resolver.group_nodes("a")
    resolver.group_nodes("b")
    assert calls(log)[5:] == ["map-a"]
    resolver.clear_cache()
    resolver.group_nodes("b")
    assert calls(log)[6:] == ["map-b"]


def test_cache_time_zero_asks_every_time(counted: tuple[Path, Path]) -> None:
    conf, log = counted
    resolver = load_group_config(conf)
    for _ in range(3):
        assert resolver.group_nodes("g", "nocache") == ["x"]
    assert calls(log) == ["map-g"] * 3


def test_failures_are_not_cached(counted: tuple[Path, Path]) -> None:
    conf, log = counted
    resolver = load_group_config(conf)
    for _ in range(2):
        with pytest.raises(UnknownGroupError):
            resolver.group_nodes("g", "fails")
    assert calls(log) == ["fail-g"] * 2


def test_worked_out_groups_follow_the_cache(tmp_path: Path) -> None:
    write(tmp_path / "groups.txt", "a: n1 n2\nb: n2\n")
    clock = FakeClock()
    source = UpcallGroupSource("s", {
        "map": r"sed -n 's/^$GROUP: *//p' groups.txt",
        "list": r"sed -n 's/^\([a-z]*\):.*/\1/p' groups.txt",
    }, cfgdir=tmp_path, cache_time=10, clock=clock)
    resolver = GroupResolver([source])

    def groups() -> list[str]:
        return sorted(NodeSet("n2", resolver=resolver).groups())

    assert groups() == ["@a", "@b"]
    write(tmp_path / "groups.txt", "a: n1\nb: n2\nc: n2\n")
    assert groups() == ["@a", "@b"]
    clock.now += 10
    assert groups() == ["@b", "@c"]
    assert str(NodeSet.fromall(resolver=resolver)) == "n[1-2]"


# --------------------------------------------------------------------------- mapall

def test_mapall_alone(tmp_path: Path) -> None:
    source = UpcallGroupSource("s", {
        "mapall": "echo mapall >> calls.log; printf 'a: n1\\nb:\\n\\n a : n2 \\n'",
    }, cfgdir=tmp_path)
    resolver = GroupResolver([source])
    assert resolver.group_nodes("a") == ["n1,n2"]
    assert resolver.group_nodes("b") == []
    assert resolver.grouplist() == ["a", "b"]
    with pytest.raises(UnknownGroupError):
        resolver.group_nodes("c")
    assert calls(tmp_path / "calls.log") == ["mapall"]


def test_mapall_with_map_fallback_and_list(tmp_path: Path) -> None:
    source = UpcallGroupSource("s", {
        "mapall": "echo mapall >> calls.log; echo 'a: n1'",
        "map": "echo map-$GROUP >> calls.log; echo m-$GROUP",
        "list": "echo list >> calls.log; echo a z",
    }, cfgdir=tmp_path)
    resolver = GroupResolver([source])
    assert resolver.group_nodes("a") == ["n1"]
    assert resolver.group_nodes("z") == ["m-z"]
    assert resolver.grouplist() == ["a"]  # mapall's answer wins while fresh
    assert calls(tmp_path / "calls.log") == ["mapall", "map-z"]


def test_mapall_like_clustershell(tmp_path: Path) -> None:
    from ClusterShell.NodeUtils import GroupResolverConfig

    conf = write(tmp_path / "groups.conf", r"""
        [s]
        mapall: printf 'a: n[1-2]\nb: n3\na: n9\n'
        map: echo m-$GROUP
    """)
    for resolver in (load_group_config(conf), GroupResolverConfig([str(conf)])):
        assert resolver.group_nodes("a") == ["n[1-2],n9"]
        assert resolver.group_nodes("x") == ["m-x"]
        assert resolver.grouplist() == ["a", "b"]


# --------------------------------------------------------------------------- configuration

def test_confdir_autodir_order_and_default(tmp_path: Path) -> None:
    write(tmp_path / "conf.d" / "b.conf", "[cb]\nmap: echo cb-$GROUP\n")
    write(tmp_path / "conf.d" / "a.conf", "[ca1,ca2]\nmap: echo $SOURCE $CFGDIR\n")
    write(tmp_path / "conf.d" / "ignored.txt", "[x]\nmap: echo x\n")
    write(tmp_path / "other dir" / "c.conf", "[cc]\nmap: echo cc\n")
    write(tmp_path / "groups.d" / "z.yaml", "yz:\n  g: z1\n")
    write(tmp_path / "groups.d" / "y.yaml", "yy1:\n  g: y1\nyy2:\n  g: y2\n")
    write(tmp_path / "groups.d" / "notyaml.yml", "nope:\n  g: y1\n")
    conf = write(tmp_path / "groups.conf", """
        [Main]
        confdir: $CFGDIR/conf.d '$CFGDIR/other dir' /nonexistent/shoal $CFGDIR/conf.d/
        autodir: /nonexistent/autodir $CFGDIR/groups.d
        [main1]
        map: echo main1
    """)
    resolver = load_group_config(conf)
    assert resolver.sources() == ["ca1", "ca2", "cb", "cc", "yy1", "yy2", "yz", "main1"]
    assert resolver.group_nodes("g") == ["ca1", str(tmp_path / "conf.d")]
    assert resolver.group_nodes("g", "yy2") == ["y2"]
    assert resolver.group_nodes("g", "cc") == ["cc"]


def test_main_default_and_groupsdir_alias(tmp_path: Path) -> None:
    write(tmp_path / "a" / "a.conf", "[froma]\nmap: echo a\n")
    write(tmp_path / "b" / "b.conf", "[fromb]\nmap: echo b\n")
    conf = write(tmp_path / "groups.conf", """
        [Main]
        default: second
        confdir: $CFGDIR/a
        groupsdir: $CFGDIR/b
        [first]
        map: echo 1
        [second]
        map: echo 2
    """)
    resolver = load_group_config(conf)
    assert resolver.sources() == ["second", "fromb", "first"]
    assert resolver.group_nodes("g") == ["2"]


def test_default_section_is_inherited(tmp_path: Path) -> None:
    conf = write(tmp_path / "groups.conf", """
        [DEFAULT]
        list: echo g1 g2
        [Main]
        default:
        [one]
        map: echo one
        [two]
        map: echo two
        list: echo own
    """)
    resolver = load_group_config(conf)
    assert resolver.default_source_name == "one"
    assert resolver.grouplist() == ["g1", "g2"]
    assert resolver.grouplist("two") == ["own"]


def test_empty_config_has_no_source(tmp_path: Path) -> None:
    resolver = load_group_config(write(tmp_path / "groups.conf", "[Main]\n"))
    assert resolver.sources() == []
    with pytest.raises(UnknownGroupError):
        resolver.group_nodes("nosuchgroup")


def test_timeout_key(tmp_path: Path) -> None:
    conf = write(tmp_path / "groups.conf", "[s]\nmap: echo x\ntimeout: 2.5\n")
    parsed = parse_groups_conf(conf.read_text(), str(conf), str(tmp_path))
    assert parsed.sources[0].timeout == 2.5
    assert parsed.sources[0].cache_time is None


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        pytest.param("map: echo\n[s]\n", 1,
                     "a [section] header must come before any key", id="no-section"),
        pytest.param("[s]\nmap: a\n\n[s]\nmap: b\n", 4, "section [s] is defined twice",
                     id="duplicate-section"),
        pytest.param("[s]\nmap: a\nlist: b\nmap: c\n", 4,
                     'key "map" appears twice in section [s]', id="duplicate-key"),
        pytest.param("[s]\nmap: a\njunk line\n", 3,
                     'expected "key: value" or "[section]", got "junk line"', id="junk-line"),
        pytest.param("# comment\n[s]\nmap: a\n  continued\nmapp: b\n", 5,
                     'unknown key "mapp" in group source [s] (known: all, cache_time, list, '
                     "map, mapall, reverse, timeout)", id="unknown-key"),
        pytest.param("[Main]\ndefualt: s\n[s]\nmap: a\n", 2,
                     'unknown key "defualt" in [Main] (known: autodir, confdir, default, '
                     "groupsdir)", id="unknown-main-key"),
        pytest.param("[DEFAULT]\nfoo: 1\n[s]\nmap: a\n", 2, 'unknown key "foo" in [DEFAULT]',
                     id="unknown-default-key"),
        pytest.param("[Main]\n[s]\nlist: a\n", 2,
                     'group source [s] needs a "map" or "mapall" upcall', id="no-map"),
        pytest.param("[s]\nmap:\n", 1,
                     'group source [s] needs a "map" or "mapall" upcall', id="empty-map"),
        pytest.param("[s]\nmap: a\ncache_time: soon\n", 3,
                     'cache_time "soon" is not a number of seconds', id="bad-cache-time"),
        pytest.param("[s]\nmap: a\ncache_time: -1\n", 3, 'cache_time "-1" must be 0 or more',
                     id="negative-cache-time"),
        pytest.param("[s]\nmap: a\ntimeout: 0\n", 3, 'timeout "0" must be greater than 0',
                     id="zero-timeout"),
        pytest.param("[Main]\ndefault: nosuch\n[s]\nmap: a\n", 2,
                     'default group source "nosuch" is not defined', id="unknown-default"),
        pytest.param("[a,,b]\nmap: a\n", 1, "section [a,,b] has an empty source name",
                     id="empty-source-name"),
        pytest.param("[a]\nmap: a\n[b,a]\nmap: b\n", 3,
                     'group source "a" is already defined in {path}', id="source-twice"),
        pytest.param("[Main]\nconfdir: 'unclosed\n", 2,
                     "cannot split \"'unclosed\": No closing quotation", id="bad-quoting"),
        pytest.param("[Main]\nconfdir: $CFGDIR/groups.conf\n", 2,
                     'confdir "{path}" is not a directory', id="confdir-is-a-file"),
        pytest.param("[Main]\n\nautodir: $CFGDIR/groups.conf\n", 3,
                     'autodir "{path}" is not a directory', id="autodir-is-a-file"),
    ],
)
def test_malformed_groups_conf(text: str, line: int, reason: str, tmp_path: Path) -> None:
    path = write(tmp_path / "groups.conf", text)
    with pytest.raises(ConfigError) as exc:
        load_group_config(path)
    assert (exc.value.path, exc.value.line) == (str(path), line)
    assert exc.value.reason == reason.format(path=path)
    assert str(exc.value) == f"{path} line {line}: {reason.format(path=path)}"


@pytest.mark.parametrize(
    ("files", "bad", "line", "reason"),
    [
        pytest.param({"conf.d/x.conf": "[Main]\ndefault: x\n"}, "conf.d/x.conf", 1,
                     "a [Main] section belongs in groups.conf, not in a confdir file",
                     id="main-in-confdir"),
        pytest.param({"conf.d/x.conf": "[x]\nmap: a\nbad\n"}, "conf.d/x.conf", 3,
                     'expected "key: value" or "[section]", got "bad"', id="junk-in-confdir"),
        pytest.param({"conf.d/x.conf": "[main]\nmap: a\n"}, "groups.conf", 4,
                     'group source "main" is already defined in {root}/conf.d/x.conf',
                     id="confdir-vs-main-file"),
        pytest.param({"groups.d/a.yaml": "main:\n  g: n1\n"}, "groups.conf", 4,
                     'group source "main" is already defined in {root}/groups.d/a.yaml',
                     id="yaml-vs-main-file"),
        pytest.param({"conf.d/x.conf": "[dup]\nmap: a\n", "groups.d/a.yaml": "o:\n  g: n\n"
                      "'dup':\n  g: n1\n"}, "groups.d/a.yaml", 3,
                     'group source "dup" is already defined in {root}/conf.d/x.conf',
                     id="yaml-vs-confdir"),
        pytest.param({"groups.d/a.yaml": "s:\n  g: [n1\n"}, "groups.d/a.yaml", 3,
                     "invalid YAML at column 1: expected ',' or ']', but got '<stream end>' "
                     "(while parsing a flow sequence)", id="bad-yaml-in-autodir"),
        pytest.param({"conf.d/x.conf": b"[x]\nmap: \xff\n"}, "conf.d/x.conf", 2,
                     "not UTF-8 text", id="not-utf8"),
    ],
)
def test_malformed_parts(files: dict[str, str | bytes], bad: str, line: int, reason: str,
                         tmp_path: Path) -> None:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    conf = write(tmp_path / "groups.conf", "[Main]\nconfdir: $CFGDIR/conf.d\n"
                 "autodir: $CFGDIR/groups.d\n[main]\nmap: echo\n")
    with pytest.raises(ConfigError) as exc:
        load_group_config(conf)
    assert (exc.value.path, exc.value.line) == (str(tmp_path / bad), line)
    assert exc.value.reason == reason.format(root=tmp_path)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as exc:
        load_group_config(tmp_path / "nope.conf")
    assert str(exc.value) == f"{tmp_path}/nope.conf: cannot read: No such file or directory"


def test_config_like_clustershell(tmp_path: Path) -> None:
    """Sources, default and answers of a mixed configuration match ClusterShell's."""
    from ClusterShell.NodeUtils import GroupResolverConfig

    write(tmp_path / "groups.txt", LOCAL_GROUPS)
    write(tmp_path / "reverse.txt", REVERSE)
    write(tmp_path / "groups.conf.d" / "extra.conf", "[extra,ex]\nmap: echo x-$GROUP\n"
          "list: echo one two\n")
    write(tmp_path / "groups.d" / "cluster.yaml", CLUSTER_YAML)
    conf = write(tmp_path / "groups.conf", "[Main]\n"
                 "confdir: /nonexistent $CFGDIR/groups.conf.d\n"
                 "autodir: $CFGDIR/groups.d\n[local]\n"
                 + textwrap.dedent(LOCAL_SECTION).lstrip("\n"))
    ours, theirs = load_group_config(conf), GroupResolverConfig([str(conf)])
    assert ours.sources() == theirs.sources()
    assert ours.default_source_name == theirs.default_source_name == "extra"
    for source in ours.sources():
        assert ours.grouplist(source) == theirs.grouplist(source), source
        for group in ours.grouplist(source):
            assert ours.group_nodes(group, source) == theirs.group_nodes(group, source)
    for source in ("local", "roles"):
        assert ours.all_nodes(source) == theirs.all_nodes(source)
    assert ours.node_groups("example4", "local") == theirs.node_groups("example4", "local")


# --------------------------------------------------------------------------- search order

def test_search_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.delenv("CLUSTERSHELL_CFGDIR", raising=False)
    home = tmp_path / "home"
    assert group_config_paths() == [
        home / ".config/shoal/groups.conf",
        Path("/etc/shoal/groups.conf"),
        home / ".config/clustershell/groups.conf",
        home / ".local/etc/clustershell/groups.conf",
        Path("/etc/clustershell/groups.conf"),
    ]
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("CLUSTERSHELL_CFGDIR", str(tmp_path / "cs"))
    assert group_config_paths() == [
        tmp_path / "xdg/shoal/groups.conf",
        Path("/etc/shoal/groups.conf"),
        tmp_path / "cs/groups.conf",
        tmp_path / "xdg/clustershell/groups.conf",
        home / ".local/etc/clustershell/groups.conf",
        Path("/etc/clustershell/groups.conf"),
    ]
    monkeypatch.setenv("XDG_CONFIG_HOME", "")  # empty means unset (XDG spec)
    assert group_config_paths()[0] == home / ".config/shoal/groups.conf"


def test_first_existing_file_wins(tmp_path: Path) -> None:
    paths = [tmp_path / "a.conf", tmp_path / "b", tmp_path / "c.conf", tmp_path / "d.conf"]
    (tmp_path / "b").mkdir()
    write(tmp_path / "c.conf", "[fromc]\nmap: echo c\n")
    write(tmp_path / "d.conf", "[fromd]\nmap: echo d\n")
    assert find_group_config(paths) == tmp_path / "c.conf"
    assert GroupResolver.from_search_path(paths).sources() == ["fromc"]
    empty = GroupResolver.from_search_path(paths[:2])
    assert empty.sources() == []
    with pytest.raises(UnknownGroupError) as exc:
        empty.group_nodes("web")
    assert exc.value.source is None


def test_std_resolver_prefers_shoal_config(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("CLUSTERSHELL_CFGDIR", raising=False)
    write(tmp_path / "xdg" / "clustershell" / "groups.conf", "[cs]\nmap: echo cs\n")
    write(tmp_path / "home" / ".local" / "etc" / "clustershell" / "groups.conf",
          "[local]\nmap: echo local\n")
    assert std_group_resolver().sources() == ["cs"]
    set_std_group_resolver(None)
    write(tmp_path / "xdg" / "shoal" / "groups.conf", "[shoal]\nmap: echo $CFGDIR\n")
    resolver = std_group_resolver()
    assert resolver.sources() == ["shoal"]
    assert resolver.group_nodes("g") == [str(tmp_path / "xdg" / "shoal")]
    assert std_group_resolver() is resolver  # built once, then cached


def test_std_resolver_replacements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    write(tmp_path / "xdg" / "shoal" / "groups.conf", "[found]\nmap: echo f\n")
    other = write(tmp_path / "other.conf", "[given]\nmap: echo g\n")
    set_std_group_resolver_config(other)
    assert std_group_resolver().sources() == ["given"]
    mine = GroupResolver([GroupSource("mine", {"g": "n1"})])
    set_std_group_resolver(mine)
    assert std_group_resolver() is mine
    set_std_group_resolver_config(None)
    assert std_group_resolver().sources() == ["found"]
    set_std_group_resolver_config(tmp_path / "missing.conf")
    with pytest.raises(ConfigError, match=r"missing\.conf: cannot read"):
        std_group_resolver()


def test_groups_module_does_not_import_node_sets() -> None:
    # nodeset.py asks the resolver; the resolver never builds node sets: no import cycle,
    # not even one hidden in a function.
    tree = ast.parse(inspect.getsource(groups_module))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names}
    assert "shoal.nodeset.nodeset" not in imported
    assert "shoal.nodeset" not in imported
