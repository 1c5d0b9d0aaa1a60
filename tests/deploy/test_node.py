# Deployment trees are dynamic: an action's self is an Env, a child read on a node is a
# node, not its class, and ParallelNode.Array is made at run time. mypy sees the classes.
# mypy: disable-error-code="name-defined, misc, no-any-return, attr-defined, call-arg"
# mypy: disable-error-code="arg-type, comparison-overlap, index, valid-type"
"""The node model: trees, roles, mappings, overrides, isolations, indexing, queries.

Hosts are LocalHost classes; the tree is built and read, and only the required-property
test runs a command. tests/deploy/test_testbed.py runs the same model on SSH hosts.
"""

from __future__ import annotations

import pytest

from shoal.deploy.exceptions import ActionException
from shoal.deploy.groups import Production, production, staging
from shoal.deploy.host import LocalHost
from shoal.deploy.host_container import silent_pty
from shoal.deploy.inspection import Inspector
from shoal.deploy.node import (
    ALL_HOSTS,
    Env,
    IsolationIdentifierType,
    Node,
    ParallelNode,
    iter_isolations,
    map_roles,
    required_property,
)
from shoal.deploy.query import Q


def local(slug: str) -> type[LocalHost]:
    return type(slug.capitalize(), (LocalHost,), {"slug": slug})


W1, W2, W3, D1 = (local(s) for s in ("web1", "web2", "web3", "db1"))


def slugs(container: object) -> list[str]:
    return [h.slug for h in container]


class Site(Node):
    class Hosts:
        web = {W2, W1, W3}  # a set: slug order  # noqa: RUF012 - python-deployer writes roles as sets
        db = D1

    class Zeta(Node):
        pass

    class Alpha(Node):
        class Inner(Node):
            pass

    @map_roles(host="web")
    class Web(ParallelNode.Array):
        def who(self) -> str:
            return str(self.host.slug)

    @map_roles(master="db", everything=ALL_HOSTS)
    class Database(Node):
        pass

    class Status(Node):  # no mapping: the parent's roles as they are
        pass


def test_children_are_listed_in_definition_order() -> None:
    names = [Inspector(c).get_name() for c in Inspector(Site()).get_childnodes()]
    assert names == ["Zeta", "Alpha", "Web", "Database", "Status"]


def test_reading_a_child_binds_a_new_child_to_that_parent() -> None:
    site = Site()
    first, second = site.Alpha, site.Alpha
    assert first is not second
    assert first.parent is site and second.parent is site
    assert first.Inner.parent is first
    assert repr(first.Inner) == "<Node Site.Alpha.Inner>"
    assert Site.Alpha.Inner.__name__ == "Inner"  # on the class: the class itself


def test_roles_from_hosts_definition_and_inheritance() -> None:
    site = Site()
    assert site.hosts.roles == ["db", "web"]
    assert slugs(site.hosts.filter("web")) == ["web1", "web2", "web3"]
    assert slugs(site.Status.hosts) == ["web1", "web2", "web3", "db1"]
    assert site.Status.hosts.get_hosts_as_dict() == {"web": {W1, W2, W3}, "db": {D1}}


def test_map_roles_keyword_and_all_hosts() -> None:
    database = Site().Database
    assert database.hosts.roles == ["everything", "master"]
    assert slugs(database.hosts.filter("master")) == ["db1"]
    assert slugs(database.hosts.filter("everything")) == ["web1", "web2", "web3", "db1"]


@pytest.mark.parametrize("mapping, expected", [
    pytest.param(map_roles("web"), ["web1", "web2", "web3"], id="positional"),
    pytest.param(map_roles("db", "web"), ["db1", "web1", "web2", "web3"], id="two-positional"),
    pytest.param(map_roles(ALL_HOSTS), ["web1", "web2", "web3", "db1"], id="positional-all"),
    pytest.param(map_roles(host=["db", "web"]), ["db1", "web1", "web2", "web3"], id="list"),
    pytest.param(map_roles("nothing"), [], id="unknown-role"),
])
def test_map_roles_positional_forms_go_to_role_host(mapping: map_roles,
                                                     expected: list[str]) -> None:
    class Root(Node):
        Hosts = Site.Hosts

        @mapping
        class Child(Node):
            pass

    assert Root().Child.hosts.roles == ["host"]
    assert slugs(Root().Child.hosts.filter("host")) == expected


def test_a_mapping_wins_over_the_childs_own_hosts_and_own_hosts_ignore_the_parent() -> None:
    class Root(Node):
        Hosts = Site.Hosts

        @map_roles(host="db")
        class Mapped(Node):
            class Hosts:
                other = W1

        class Own(Node):
            class Hosts:
                other = W1

    assert Root().Mapped.hosts.get_hosts_as_dict() == {"host": {D1}}
    assert Root().Own.hosts.get_hosts_as_dict() == {"other": {W1}}


def test_a_host_in_two_roles_is_one_host() -> None:
    class Root(Node):
        class Hosts:
            web = (W1, W2)
            cache = (W1,)

    assert len(Root().hosts) == 2
    assert slugs(Root().hosts) == ["web1", "web2"]


def test_hosts_definition_errors() -> None:
    with pytest.raises(TypeError, match=r"Hosts.web = \('x', 1\): a role is a host class"):
        class Bad(Node):
            class Hosts:
                web = "x", 1

    with pytest.raises(ValueError, match="two hosts have the slug 'web1'"):
        class Twins(Node):
            class Hosts:
                web = (W1, local("web1"))

        Twins()


def test_isolations_by_int_class_slug_and_host_container() -> None:
    site = Site()
    assert [site.Web[i].host.slug for i in range(3)] == ["web1", "web2", "web3"]
    assert site.Web[W2].host.slug == "web2"
    assert site.Web["web3"].host.slug == "web3"
    assert site.Web[(1,)].host.slug == "web2"
    assert site.Web[site.hosts.filter("web")[0]].host.slug == "web1"
    assert repr(site.Web["web2"]) == "<Node Site.Web[web2]>"
    with pytest.raises(KeyError, match="has no isolation 'web9'"):
        site.Web["web9"]
    with pytest.raises(KeyError, match="isolated already"):
        site.Web[0][0]
    with pytest.raises(KeyError, match="isolated already"):
        site[0]


def test_an_isolation_keeps_the_other_roles_whole() -> None:
    class Root(Node):
        Hosts = Site.Hosts

        @map_roles("web", extra="db")
        class Cells(ParallelNode.Array):
            pass

    cell = Root().Cells[0]
    assert cell.hosts.get_hosts_as_dict() == {"host": {W1}, "extra": {D1}}


def test_nested_arrays_add_a_dimension() -> None:
    class Root(Node):
        Hosts = Site.Hosts

        @map_roles(host="web", db="db")
        class Outer(ParallelNode.Array):
            class Normal(Node):
                @map_roles(host=("host", "db"))
                class Deeper(ParallelNode.Array):
                    pass

    deeper = Root().Outer.Normal.Deeper
    ints = [i for i, _ in iter_isolations(deeper)]
    assert ints == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert deeper[(1, 0)].host.slug == "web2"
    assert deeper[("web3", "db1")].host.slug == "db1"
    assert deeper[(W2, W2)].parent.parent.host.slug == "web2"
    assert repr(deeper[(2, 1)]) == "<Node Root.Outer[web3].Normal.Deeper[db1]>"
    assert Root().Outer.Normal[W3].parent.host.slug == "web3"
    by_slug = [i for i, _ in iter_isolations(deeper, IsolationIdentifierType.HOSTS_SLUG)]
    assert by_slug[:2] == [("web1", "web1"), ("web1", "db1")]


def test_just_one_needs_exactly_one_host_and_is_no_array() -> None:
    class Root(Node):
        Hosts = Site.Hosts

        @map_roles(host="db")
        class Db(ParallelNode.JustOne):
            pass

        @map_roles(host="web")
        class Many(ParallelNode.JustOne):
            pass

    db = Root().Db
    assert Inspector(db).is_isolated
    assert db.host.slug == "db1"
    with pytest.raises(ValueError, match="exactly one host in role 'host', it has 3"):
        _ = Root().Many


def test_nesting_rules_and_reserved_names() -> None:
    with pytest.raises(TypeError, match=r"use ParallelNode.Array or .JustOne"):
        class Bad(Node):
            class Cells(ParallelNode):
                pass
    with pytest.raises(TypeError, match=r"second .Array"):
        _ = ParallelNode.Array.Array
    with pytest.raises(TypeError, match="reserved name"):
        class Reserved(Node):
            host = 1
    with pytest.raises(TypeError, match="own __init__"):
        class Init(Node):
            def __init__(self) -> None:
                pass
    with pytest.raises(TypeError, match="multiple inheritance"):
        class Mixed(Site, Site.Zeta):
            pass


def test_array_without_mapping_takes_every_host_of_the_parent() -> None:
    class Root(Node):
        Hosts = Site.Hosts

        class Cells(ParallelNode.Array):
            pass

    assert [c.host.slug for c in Root().Cells] == ["web1", "web2", "web3", "db1"]


def test_double_underscore_overrides_reach_nested_nodes() -> None:
    class WebApp(Node):
        class Nginx(Node):
            class Server(Node):
                domain = "www.example.com"
                port = 80

    class MyWebApp(WebApp):
        Nginx__Server__domain = "mydomain.com"

        def Nginx__Server__url(self) -> str:
            return f"http://{self.domain}:{self.port}"

    env = Env(MyWebApp())
    assert env.Nginx.Server.domain == "mydomain.com"
    assert env.Nginx.Server.url() == "http://mydomain.com:80"
    assert Env(WebApp()).Nginx.Server.domain == "www.example.com"
    names = [Inspector(c).get_name() for c in Inspector(MyWebApp()).get_childnodes()]
    assert names == ["Nginx"]

    with pytest.raises(TypeError, match="no Missing to override"):
        class Wrong(WebApp):
            Missing__x = 1
    with pytest.raises(TypeError, match="overrides Nginx, which this class also defines"):
        class Twice(WebApp):
            Nginx = WebApp.Nginx
            Nginx__x = 1


def test_required_property_names_the_node_on_access_and_fails_before_running() -> None:
    class Service(Node):
        class Hosts:
            host = W1

        name = required_property("the service name, e.g. nginx")

        def restart(self) -> str:
            self.hosts.run("echo before")
            return self.hosts.run(f"echo restart {self.name}", interactive=False)[0]

    class Root(Node):
        Hosts = Service.Hosts

        class Web(Service):
            name = "nginx"

        class Broken(Service):
            pass

    pty = silent_pty()
    env = Env(Root(), pty)
    assert env.Web.restart() == "restart nginx\n"
    with pytest.raises(ActionException) as caught:
        env.Broken.restart()
    assert str(caught.value) == ("Root.Broken.name: required property is not defined: "
                                 "the service name, e.g. nginx")
    assert pty.get_output() == "before\n"  # nothing ran for Broken
    with pytest.raises(ActionException, match=r"Root.Broken.name: required property"):
        _ = env.Broken.name


def test_groups_name_colour_and_inheritance() -> None:
    class Root(Node):
        @production
        class Live(Node):
            class Part(Node):
                pass

        @staging
        class Test(Node):
            pass

    assert Inspector(Root().Live.Part).get_group() is Production
    assert Production.name == "Production" and Production.color == "red"
    assert Inspector(Root().Test).get_group().color == "yellow"
    assert Inspector(Root()).get_group().name == "Group"


def test_isinstance_sees_through_an_env() -> None:
    env = Env(Site())
    assert isinstance(env, Site)
    assert isinstance(env.Web, ParallelNode)
    assert not isinstance(env, ParallelNode)


def test_actions_need_an_env() -> None:
    with pytest.raises(TypeError, match="wrap the node in an Env"):
        Site().Web.who()


def test_queries_on_the_tree() -> None:
    class Root(Node):
        Hosts = Site.Hosts
        project = "shop"
        root = Q("/srv/%s") % Q.project
        workers = 4

        class Config(Node):
            path = Q.parent.root + "/etc"
            many = Q.parent.workers > 2
            double = 2 * Q.parent.workers / 4
            label = "w=" + Q.parent.project
            named = Q.parent("Root").project
            hosts_of_db = Q.hosts.filter("db")
            broken = Q.parent.missing + 1

        @map_roles(host="web")
        class Web(ParallelNode.Array):
            banner = Q("%(slug)s in %(root)s") % {"slug": Q.host.slug, "root": Q.parent.root}

    env = Env(Root())
    assert env.root == "/srv/shop"
    assert env.Config.path == "/srv/shop/etc"
    assert env.Config.many is True
    assert env.Config.double == 2.0
    assert env.Config.label == "w=shop"
    assert env.Config.named == "shop"
    assert [h.slug for h in env.Config.hosts_of_db] == ["db1"]
    assert env.Web["web2"].banner == "web2 in /srv/shop"
    with pytest.raises(ActionException) as caught:
        _ = env.Config.broken
    message = str(caught.value)
    assert message.startswith("<Node Root.Config>.broken = Q.parent.missing + 1 (")
    assert "test_node.py, line " in message
    assert message.endswith("AttributeError: <Node Root> has no attribute 'missing'")


def test_inspector_lists_actions_properties_and_queries() -> None:
    class Root(Node):
        size = Q.width * 2
        width = 3

        @property
        def area(self) -> int:
            return 9

        def b(self) -> None:
            pass

        def a(self) -> None:
            pass

        def _private(self) -> None:
            pass

    inspector = Inspector(Env(Root()))
    assert [a.name for a in inspector.get_actions()] == ["_private", "a", "b"]
    assert [a.name for a in inspector.get_actions(include_private=False)] == ["a", "b"]
    assert [p.name for p in inspector.get_properties()] == ["area"]
    assert [q.name for q in inspector.get_queries()] == ["size"]
    trace = inspector.trace_query("size")
    assert trace.result == 6
    assert [(repr(q), v) for q, v in trace.walk_through_subqueries()] == [
        ("Q", trace.subqueries[0].subqueries[0].result), ("Q.width", 3), ("2", 2),
        ("Q.width * 2", 6)]


def test_node_set_roles_resolve_groups_and_give_one_class_per_name() -> None:
    from shoal.deploy import SSHHost, host_classes
    from shoal.nodeset.groups import GroupResolver, GroupSource, set_std_group_resolver

    class Base(SSHHost):
        username = "deploy"

    set_std_group_resolver(GroupResolver([GroupSource("local", {"web": "web[01-02]"})]))
    try:
        class Root(Node):
            class Hosts:
                _host_class = Base
                web = "@web"
                all = "web[01-02],db1"

        roles = Root().hosts.get_hosts_as_dict()
    finally:
        set_std_group_resolver(None)
    web01, web02 = host_classes("web[01-02]", Base)
    assert roles["web"] == {web01, web02} and web01 in roles["all"]
    assert (web01.slug, web01.address, web01.username) == ("web01", "web01", "deploy")
    assert issubclass(web01, Base) and host_classes("web01", Base) == (web01,)
    assert host_classes("web01")[0] is not web01  # another base, another class
    with pytest.raises(ValueError, match="web\\[1-"):
        host_classes("web[1-")


def test_walk_and_filters() -> None:
    from shoal.deploy.inspection.filters import HasAction, InGroup, IsInstance, PublicOnly

    class Root(Node):
        @production
        class Live(Node):
            def deploy(self) -> None:
                pass

            class _Hidden(Node):
                def deploy(self) -> None:
                    pass

        class Test(Node):
            def deploy(self) -> None:
                pass

    walk = Inspector(Root()).walk
    assert [Inspector(n).get_name() for n in walk()] == ["Root", "Live", "Test", "_Hidden"]
    found = walk(HasAction("deploy") & PublicOnly)
    assert [Inspector(n).get_name() for n in found] == ["Live", "Test"]
    assert [Inspector(n).get_name() for n in walk(InGroup(Production))] == ["Live", "_Hidden"]
    assert len(walk(~IsInstance(Root.Live))) == 3
    assert [r for r in Inspector(Env(Root())).walk(HasAction("deploy") & PublicOnly)
            .call_action("deploy")] == [None, None]
