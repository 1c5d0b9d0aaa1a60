"""Running actions in an Env, as pure logic on the recording host double: contexts, the
concurrent fan-out of arrays, results, failure policies, decorators, cancellation."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from support.deploy_double import RecordingHost, hosts

from shoal.deploy.exceptions import ActionException, ParallelActionException
from shoal.deploy.host_container import HostsResult
from shoal.deploy.node import (
    Env,
    Node,
    ParallelActionResult,
    ParallelNode,
    SkippedTaskResult,
    alias,
    dont_isolate_yet,
    isolate_one_only,
    map_roles,
    suppress_action_result,
)
from shoal.deploy.pseudo_terminal import Pty
from shoal.deploy.runner import submit

W1, W2, W3, D1 = hosts("web1", "web2", "web3", "db1")


@pytest.fixture(autouse=True)
def _fresh_double() -> Iterator[None]:
    RecordingHost.runs.clear()
    RecordingHost.failing.clear()
    RecordingHost.hook = None
    yield
    RecordingHost.hook = None
    RecordingHost.failing.clear()


def commands(host: str | None = None) -> list[str]:
    return [r["command"] for r in RecordingHost.runs if host in (None, r["host"])]


class Site(Node):
    class Hosts:
        web = (W1, W2, W3)
        db = D1

    @map_roles(host="web")
    class Web(ParallelNode.Array):
        def deploy(self, revision: str = "main") -> str:
            with self.host.cd("/srv/app"):
                return self.host.run(f"checkout {revision}")

        def fail_on_web2(self) -> str:
            self.host.run("false" if self.host.slug == "web2" else "true")
            return f"done on {self.host.slug}"

        @dont_isolate_yet
        def ask_once(self) -> str:
            return f"{len(self.hosts)} hosts, then {list(self.deploy('v1'))}"

        @isolate_one_only
        def client(self) -> str:
            return self.host.run("psql")

        @alias("roll.out")
        @suppress_action_result
        def rollout(self) -> None:
            self.host.run("rollout")

    class Status(Node):
        def uptime(self) -> HostsResult:
            return self.hosts.run("uptime")

    def deploy(self) -> list[str]:
        with self.hosts.cd("/srv"), self.hosts.env("MODE", "production run"):
            self.Status.uptime()
        return sorted(self.Web.deploy("v2"))

    def __call__(self) -> str:
        return "default action"


def test_self_is_the_env_and_it_cannot_change() -> None:
    class Root(Node):
        def me(self) -> object:
            return self

        def change(self) -> None:
            self.x = 1

    env = Env(Root())
    assert env.me() is env
    with pytest.raises(ActionException, match="an Env cannot be changed"):
        env.change()


def test_contexts_carry_into_child_actions_and_arrays() -> None:
    env = Env(Site())
    assert env.deploy() == ["web1: checkout v2", "web2: checkout v2", "web3: checkout v2"]
    uptime = [r for r in RecordingHost.runs if r["command"] == "uptime"]
    assert {r["host"] for r in uptime} == {"web1", "web2", "web3", "db1"}
    assert all("'/srv'" in r["context"] and "production run" in r["context"] for r in uptime)
    checkouts = [r for r in RecordingHost.runs if r["command"] == "checkout v2"]
    assert all("'/srv/app'" in r["context"] for r in checkouts)
    assert all("'/srv'" not in r["context"] for r in checkouts)  # the with block had ended


def test_isolations_keep_their_own_contexts() -> None:
    class Root(Node):
        Hosts = Site.Hosts

        @map_roles(host="web", shared="db")
        class Cells(ParallelNode.Array):
            def work(self) -> None:
                with self.hosts.filter("shared").cd(f"/tmp/{self.host.slug}"):
                    self.hosts.filter("shared").run("pwd")

    Env(Root()).Cells.work()
    contexts = sorted(r["context"] for r in RecordingHost.runs)
    assert len(contexts) == 3
    for context, slug in zip(contexts, ["web1", "web2", "web3"], strict=True):
        assert f"/tmp/{slug}'" in context and context.count("/tmp/") == 1


def test_an_array_runs_every_isolation_at_once_on_one_thread() -> None:
    # Each command waits until all three have started: done only if they overlap.
    started: dict[str, asyncio.Event] = {}
    threads: set[int] = set()

    async def barrier(slug: str, command: str) -> None:
        threads.add(threading.get_ident())
        for name in ("web1", "web2", "web3"):
            started.setdefault(name, asyncio.Event())
        started[slug].set()
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started.values())), 10)

    RecordingHost.hook = barrier
    result = Env(Site()).Web.deploy("v3")
    assert isinstance(result, ParallelActionResult)
    assert sorted(result) == ["web1: checkout v3", "web2: checkout v3", "web3: checkout v3"]
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_hosts_run_on_many_hosts_at_once_and_says_which_gave_what() -> None:
    seen: list[str] = []
    release = asyncio.Event()

    async def hold(slug: str, command: str) -> None:
        seen.append(slug)
        if len(seen) == 4:
            release.set()
        await asyncio.wait_for(release.wait(), 10)

    RecordingHost.hook = hold
    result = Env(Site()).Status.uptime()
    assert list(result) == ["web1: uptime", "web2: uptime", "web3: uptime", "db1: uptime"]
    assert result.items()[3] == ("db1", "db1: uptime")


def test_parallel_action_result_is_a_dict_whose_iteration_yields_values() -> None:
    result = Env(Site()).Web.deploy()
    assert list(result) == ["web1: checkout main", "web2: checkout main", "web3: checkout main"]
    assert [k.host.slug for k in list(result.keys())] == ["web1", "web2", "web3"]
    assert list(result.values()) == list(result)
    assert repr(result).startswith("{ <web1>: 'web1: checkout main', <web2>:")


def test_abort_lets_the_other_isolations_finish_and_names_the_failed_one() -> None:
    RecordingHost.failing.add("false")
    with pytest.raises(ParallelActionException) as caught:
        Env(Site()).Web.fail_on_web2()
    error = caught.value
    assert [repr(i) for i in error.failures] == ["Env(Site.Web[web2])"]
    assert str(error) == ("1 of 3 isolations failed: Env(Site.Web[web2]): "
                          "web2: command exited with status 1: false")
    assert sorted(error.result) == ["done on web1", "done on web3"]
    assert isinstance(error, ActionException)
    assert error.inner_exception.status_code == 1  # type: ignore[attr-defined]


def test_skip_policy_returns_a_skipped_result_for_that_host() -> None:
    RecordingHost.failing.add("false")
    result = Env(Site(), on_failure="skip").Web.fail_on_web2()
    values = {k.host.slug: v for k, v in result.items()}
    assert values["web1"] == "done on web1" and values["web3"] == "done on web3"
    assert isinstance(values["web2"], SkippedTaskResult)
    assert repr(values["web2"]).startswith("<skipped Site.Web[web2].fail_on_web2: web2:")
    with pytest.raises(AttributeError, match="was skipped"):
        values["web2"].strip()


def interactive_pty(answers: str) -> tuple[Pty, io.StringIO]:
    out = io.StringIO()
    return Pty(stdin=io.StringIO(answers), stdout=out, interactive=True), out


def test_interactive_policy_asks_per_host_and_retries() -> None:
    RecordingHost.failing.add("false")

    class Once(Node):
        class Hosts:
            host = W2

        def flaky(self) -> str:
            out = self.hosts.run("false")[0]
            return out

    attempts: list[str] = []

    async def heal(slug: str, command: str) -> None:
        attempts.append(command)
        if len(attempts) == 2:
            RecordingHost.failing.clear()  # the retry succeeds

    RecordingHost.hook = heal
    pty, out = interactive_pty("2\n")  # options sorted: 1 Abort, 2 Retry, 3 Skip
    assert Env(Once(), pty).flaky() == "web2: false"
    assert "web2: 'false' failed with status 1. Continue?" in out.getvalue()
    assert attempts == ["false", "false"]

    RecordingHost.failing.add("false")
    pty, out = interactive_pty("\n")  # Enter: the default, abort
    with pytest.raises(ActionException, match="web2: command exited with status 1"):
        Env(Once(), pty).flaky()


def test_non_interactive_ask_aborts_without_asking() -> None:
    RecordingHost.failing.add("false")
    out = io.StringIO()
    pty = Pty(stdin=io.StringIO(""), stdout=out, interactive=False)
    with pytest.raises(ParallelActionException):
        Env(Site(), pty).Web.fail_on_web2()
    assert "Continue?" not in out.getvalue()


def test_dont_isolate_yet_runs_once_then_fans_out() -> None:
    result = Env(Site()).Web.ask_once()
    assert result.startswith("3 hosts, then ['web1: checkout v1'")
    assert commands() == ["checkout v1"] * 3


def test_isolate_one_only_runs_on_a_single_host_when_not_interactive() -> None:
    output = Env(Site()).Web.client()
    assert output in {"web1: psql", "web2: psql", "web3: psql"}
    assert commands() == ["psql"]


def test_alias_and_suppressed_result() -> None:
    env = Env(Site())
    action = getattr(env.Web, "roll.out")
    assert action.name == "roll.out" and action.suppress_result
    action()
    assert commands() == ["rollout"] * 3


def test_default_action_makes_the_env_callable() -> None:
    assert Env(Site())() == "default action"
    assert not callable(Env(Site()).Status)


def test_sandbox_reaches_every_command_even_when_asked_not_to() -> None:
    class Root(Node):
        Hosts = Site.Hosts

        def work(self) -> None:
            self.hosts.run("rm -rf /srv/old", sandbox=False)
            self.Web.deploy()

        Web = Site.Web

    Env(Root(), is_sandbox=True).work()
    assert len(RecordingHost.runs) == 7
    assert all(r["sandbox"] for r in RecordingHost.runs)


def test_initialize_node_shares_hosts_and_their_contexts() -> None:
    class Root(Node):
        Hosts = Site.Hosts

        def dynamic(self) -> None:
            web = self.hosts.filter("web")

            class Extra(Node):
                class Hosts:
                    role = web

                def go(self) -> None:
                    self.hosts.run("ls")

            with self.hosts.cd("/data"):
                self.initialize_node(Extra).go()

    Env(Root()).dynamic()
    assert [r["host"] for r in RecordingHost.runs] == ["web1", "web2", "web3"]
    assert all("'/data'" in r["context"] for r in RecordingHost.runs)


def test_submit_gives_a_handle_that_cancels_every_isolation() -> None:
    waiting: list[str] = []
    cancelled: list[str] = []
    all_waiting = threading.Event()

    async def forever(slug: str, command: str) -> None:
        waiting.append(slug)
        if len(waiting) == 3:
            all_waiting.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(slug)
            raise

    RecordingHost.hook = forever
    handle = submit(Env(Site()).Web.deploy, "v9")
    assert all_waiting.wait(10)
    handle.cancel()
    assert sorted(cancelled) == ["web1", "web2", "web3"]
    with pytest.raises(BaseException) as caught:
        handle.result()
    assert type(caught.value).__name__ == "CancelledError"
    assert commands() == []


def test_an_exception_in_an_action_becomes_an_action_exception() -> None:
    class Root(Node):
        def boom(self) -> Any:
            raise RuntimeError("custom")

    with pytest.raises(ActionException) as caught:
        Env(Root()).boom()
    assert isinstance(caught.value.inner_exception, RuntimeError)
    assert "RuntimeError: custom" in caught.value.traceback
