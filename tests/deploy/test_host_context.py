"""HostContext: nesting, sharing by host class, copies, and isolation between flows."""

from __future__ import annotations

import asyncio

import pytest

from shoal import _loop
from shoal.deploy._bridge import call, wait
from shoal.deploy.host import HostContext, LocalHost


class Web(LocalHost):
    slug = "web"


class Db(LocalHost):
    slug = "db"


def test_blocks_nest_and_unwind() -> None:
    ctx = HostContext()
    with ctx.cd("/srv"), ctx.prefix("a"):
        with ctx.cd("app"), ctx.prefix("b"), ctx.env("X", None), ctx.env("Y", "$X", escape=False):
            inner = ctx.state
        middle = ctx.state
    assert inner.paths == (("/srv", False), ("app", False))
    assert inner.prefixes == ("a", "b")
    assert inner.env == (("X", "''"), ("Y", "$X"))
    assert (middle.paths, middle.prefixes, middle.env) == ((("/srv", False),), ("a",), ())
    assert ctx.state.paths == ()


def test_a_bad_variable_name_is_refused() -> None:
    with pytest.raises(ValueError, match='"A; rm" is not a shell variable name'):
        HostContext().env("A; rm", "x")


def test_hosts_of_one_class_share_a_context_and_copies_do_not() -> None:
    web, other_web, db = Web(), Web(), Db()
    with web.host_context.cd("/srv"):
        copy = web.copy()
        assert other_web.getcwd() == "/srv"  # e.g. the same host in a child node's action
        assert db.getcwd() != "/srv"
        with copy.host_context.cd("sub"):
            assert (copy.getcwd(), web.getcwd()) == ("/srv/sub", "/srv")
    assert copy.getcwd() == "/srv"
    assert web.getcwd() != "/srv"


def test_concurrent_flows_each_see_their_own_blocks() -> None:
    # Two isolations (greenlets) enter different cd() blocks, each waits for the other to
    # have entered its block, then reads its cwd through the event loop.
    async def scenario() -> list[str]:
        first, second = asyncio.Event(), asyncio.Event()

        def isolation(path: str, mine: asyncio.Event, theirs: asyncio.Event) -> str:
            host = Web()
            with host.host_context.cd(path):
                mine.set()
                wait(theirs.wait())
                return host.getcwd()

        return list(await asyncio.gather(call(isolation, "/a", first, second),
                                         call(isolation, "/b", second, first)))

    assert _loop.run(scenario()) == ["/a", "/b"]


def test_chdir_moves_for_the_rest_of_the_flow() -> None:
    async def scenario() -> tuple[tuple[tuple[str, bool], ...], str]:
        ctx = HostContext()
        ctx.chdir("/srv")
        ctx.chdir("app/../logs")
        return ctx.state.paths, repr(ctx)

    paths, shown = _loop.run(scenario())
    assert paths == (("/srv/app/../logs", False),)
    assert shown == "HostContext(prefixes=[], path=[('/srv/app/../logs', False)], env=[])"
