# Deployment trees are dynamic: an action's self is an Env, a child read on a node is a
# node, not its class, and ParallelNode.Array is made at run time. mypy sees the classes.
# mypy: disable-error-code="name-defined, misc, no-any-return, attr-defined, call-arg"
# mypy: disable-error-code="arg-type, comparison-overlap, index, valid-type"
"""Running actions in an Env, on LocalHost classes (real local commands): ``self``,
contexts, the concurrent fan-out of arrays, results, failure policies and decorators.

tests/deploy/test_testbed.py runs the same on SSH hosts of the testbed.
"""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from support.gates import Gate, Signal

from shoal.deploy import (
    ActionException,
    Env,
    LocalHost,
    Node,
    ParallelActionException,
    ParallelActionResult,
    ParallelNode,
    SkippedTaskResult,
    alias,
    dont_isolate_yet,
    isolate_one_only,
    map_roles,
    suppress_action_result,
)
from shoal.deploy.host_container import HostsResult, silent_pty
from shoal.deploy.pseudo_terminal import Pty


def local(slug: str) -> type[LocalHost]:
    return type(slug.capitalize(), (LocalHost,), {"slug": slug})


W1, W2, W3, D1 = (local(s) for s in ("web1", "web2", "web3", "db1"))


def site(directory: Path) -> type[Node]:
    """A tree on four local hosts, working in ``directory``."""
    gate, signal = Gate(directory), Signal(directory)

    class Site(Node):
        class Hosts:
            web = (W1, W2, W3)
            db = D1

        root = str(directory)

        @map_roles(host="web")
        class Web(ParallelNode.Array):
            def pwd(self, sub: str = "app") -> str:
                with self.host.cd(f"{self.parent.root}/{sub}"):
                    return self.host.run("pwd", interactive=False).strip()

            def held(self) -> int:
                self.host.run(f"{signal.command} && {gate.command}", interactive=False)
                return threading.get_ident()

            def fail_on_web2(self) -> str:
                self.host.run(f"test {self.host.slug} != web2", interactive=False)
                return f"done on {self.host.slug}"

            @dont_isolate_yet
            def ask_once(self) -> str:
                return f"{len(self.hosts)} hosts, then {sorted(self.pwd())}"

            @isolate_one_only
            def client(self) -> str:
                return self.host.run("echo client", interactive=False)

            @alias("roll.out")
            @suppress_action_result
            def rollout(self) -> str:
                return self.host.run("echo rolled", interactive=False)

        class Status(Node):
            def report(self) -> HostsResult:
                return self.hosts.run('echo "$(pwd) $MODE"', interactive=False)

            def held(self) -> HostsResult:
                return self.hosts.run(f"{signal.command} && {gate.command}",
                                      interactive=False)

        def deploy(self) -> tuple[HostsResult, list[str]]:
            with self.hosts.cd(self.root), self.hosts.env("MODE", "production run"):
                report = self.Status.report()
                return report, sorted(self.Web.pwd())

        def __call__(self) -> str:
            return "default action"

    Site.gate, Site.signal = gate, signal
    return Site


@pytest.fixture
def tree(tmp_path: Path) -> type[Node]:
    for sub in ("app", "web1", "web2", "web3"):
        (tmp_path / sub).mkdir()
    return site(tmp_path)


def env_of(tree: type[Node], **kwargs: object) -> Env:
    return Env(tree(), silent_pty(), **kwargs)


def test_self_is_the_env_and_it_cannot_change() -> None:
    class Root(Node):
        def me(self) -> object:
            return self

        def change(self) -> None:
            self.x = 1

    env = Env(Root(), silent_pty())
    assert env.me() is env
    with pytest.raises(ActionException, match="an Env cannot be changed"):
        env.change()


def test_contexts_carry_into_child_actions_and_arrays(tree: type[Node],
                                                      tmp_path: Path) -> None:
    report, pwds = env_of(tree).deploy()
    assert report.items() == [(slug, f"{tmp_path} production run\n")
                              for slug in ("web1", "web2", "web3", "db1")]
    assert pwds == [f"{tmp_path}/app"] * 3  # an absolute cd() inside the outer one


def test_isolations_keep_their_own_contexts(tree: type[Node], tmp_path: Path) -> None:
    class Root(tree):
        @map_roles(host="web", shared="db")
        class Cells(ParallelNode.Array):
            def work(self) -> str:
                shared = self.hosts.filter("shared")
                with shared.cd(f"{self.parent.root}/{self.host.slug}"):
                    return shared[0].run("pwd", interactive=False).strip()

    result = Env(Root(), silent_pty()).Cells.work()
    assert {i.host.slug: v for i, v in result.items()} == {
        slug: f"{tmp_path}/{slug}" for slug in ("web1", "web2", "web3")}


def test_an_array_runs_every_isolation_at_once_on_one_thread(tree: type[Node]) -> None:
    from shoal.deploy.runner import submit

    handle = submit(env_of(tree).Web.held)
    try:
        assert tree.signal.wait(3, deadline=30)
    finally:
        tree.gate.open()
    result = handle.result()
    assert isinstance(result, ParallelActionResult)
    assert len(set(result)) == 1 and threading.get_ident() not in set(result)


def test_hosts_run_runs_on_every_host_at_once(tree: type[Node]) -> None:
    from shoal.deploy.runner import submit

    handle = submit(env_of(tree).Status.held)
    try:
        assert tree.signal.wait(4, deadline=30)
    finally:
        tree.gate.open()
    assert handle.result().hosts == ["web1", "web2", "web3", "db1"]


def test_parallel_action_result_is_a_dict_whose_iteration_yields_values(
        tree: type[Node], tmp_path: Path) -> None:
    result = env_of(tree).Web.pwd()
    assert list(result) == [f"{tmp_path}/app"] * 3
    assert [k.host.slug for k in list(result.keys())] == ["web1", "web2", "web3"]
    assert list(result.values()) == list(result)
    assert repr(result).startswith(f"{{ <web1>: '{tmp_path}/app', <web2>:")


def test_abort_lets_the_other_isolations_finish_and_names_the_failed_one(
        tree: type[Node]) -> None:
    with pytest.raises(ParallelActionException) as caught:
        env_of(tree).Web.fail_on_web2()
    error = caught.value
    assert [repr(i) for i in error.failures] == ["Env(Site.Web[web2])"]
    assert str(error) == ("1 of 3 isolations failed: Env(Site.Web[web2]): "
                          "web2: command exited with status 1: test web2 != web2")
    assert sorted(error.result) == ["done on web1", "done on web3"]
    assert error.inner_exception.status_code == 1


def test_skip_policy_returns_a_skipped_result_for_that_host(tree: type[Node]) -> None:
    result = env_of(tree, on_failure="skip").Web.fail_on_web2()
    values = {k.host.slug: v for k, v in result.items()}
    assert values["web1"] == "done on web1" and values["web3"] == "done on web3"
    assert isinstance(values["web2"], SkippedTaskResult)
    assert repr(values["web2"]).startswith("<skipped Site.Web[web2].fail_on_web2: web2:")
    with pytest.raises(AttributeError, match="was skipped"):
        values["web2"].strip()


def test_interactive_policy_aborts_on_enter(tree: type[Node]) -> None:
    out = io.StringIO()
    pty = Pty(stdin=io.StringIO("\n"), stdout=out, interactive=True)  # Enter: abort
    with pytest.raises(ParallelActionException, match="web2: command exited with status 1"):
        Env(tree(), pty).Web.fail_on_web2()
    assert "web2: 'test web2 != web2' failed with status 1. Continue?" in out.getvalue()


def test_non_interactive_ask_aborts_without_asking(tree: type[Node]) -> None:
    out = io.StringIO()
    pty = Pty(stdin=io.StringIO(""), stdout=out, interactive=False)
    with pytest.raises(ParallelActionException):
        Env(tree(), pty).Web.fail_on_web2()
    assert "Continue?" not in out.getvalue()


def test_dont_isolate_yet_runs_once_then_fans_out(tree: type[Node], tmp_path: Path) -> None:
    assert env_of(tree).Web.ask_once() == f"3 hosts, then {[f'{tmp_path}/app'] * 3}"


def test_isolate_one_only_runs_on_a_single_host_when_not_interactive(tree: type[Node]) -> None:
    assert env_of(tree).Web.client() == "client\n"  # one host's output, not a result per host


def test_alias_and_suppressed_result(tree: type[Node]) -> None:
    action = getattr(env_of(tree).Web, "roll.out")
    assert action.name == "roll.out" and action.suppress_result
    assert list(action()) == ["rolled\n"] * 3


def test_default_action_makes_the_env_callable(tree: type[Node]) -> None:
    assert env_of(tree)() == "default action"  # type: ignore[operator]
    assert not callable(env_of(tree).Status)


def test_sandbox_reaches_every_command_even_when_asked_not_to(tree: type[Node],
                                                              tmp_path: Path) -> None:
    class Root(tree):
        def work(self) -> HostsResult:
            return self.hosts.run(f"touch {self.root}/made", sandbox=False)

    pty = silent_pty()
    assert list(Env(Root(), pty, is_sandbox=True).work()) == ["<Not sure in sandbox>"] * 4
    assert not (tmp_path / "made").exists()
    assert pty.get_output().count(f"touch {tmp_path}/made") == 4


def test_initialize_node_shares_hosts_and_their_contexts(tree: type[Node],
                                                         tmp_path: Path) -> None:
    class Root(tree):
        def dynamic(self) -> HostsResult:
            web = self.hosts.filter("web")

            class Extra(Node):
                class Hosts:
                    role = web

                def go(self) -> HostsResult:
                    return self.hosts.run("pwd", interactive=False)

            with self.hosts.cd(self.root):
                return self.initialize_node(Extra).go()

    assert list(Env(Root(), silent_pty()).dynamic()) == [f"{tmp_path}\n"] * 3


def test_an_exception_in_an_action_becomes_an_action_exception() -> None:
    class Root(Node):
        def boom(self) -> None:
            raise RuntimeError("custom")

    with pytest.raises(ActionException) as caught:
        Env(Root(), silent_pty()).boom()
    assert isinstance(caught.value.inner_exception, RuntimeError)
    assert "RuntimeError: custom" in caught.value.traceback
