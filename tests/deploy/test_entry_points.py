"""``shoal deploy FILE --run`` and python-deployer's ``client.start()``: loading a script,
finding its root, running one action without a terminal, and refusing bad input."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.cli import shoal

from shoal.deploy.script import find_root, load_script
from shoal.errors import UsageError

SCRIPT = '''
from shoal.deploy.host import LocalHost
from shoal.deploy.node import Node, ParallelNode, map_roles, suppress_action_result


class W1(LocalHost):
    slug = "web1"


class W2(LocalHost):
    slug = "web2"


class Template(Node):
    def hello(self, name="world"):
        return "hello " + name


class Site(Template):
    class Hosts:
        web = (W1, W2)

    @map_roles(host="web")
    class Web(ParallelNode.Array):
        def revision(self, tag):
            return self.host.slug + "@" + tag

        def fail(self):
            self.host.run("echo failing on " + self.host.slug + " && false")

        @suppress_action_result
        def quiet(self):
            return "not printed"

    class Status(Node):
        def uptime(self):
            return self.hosts.run("echo up", interactive=False)

        def boom(self):
            raise RuntimeError("custom failure")


if __name__ == "__main__":
    raise SystemExit("the __main__ block ran")
'''


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "site.py"  # the name of a stdlib module, on purpose
    path.write_text(SCRIPT)
    return path


@pytest.mark.parametrize("args, out", [
    pytest.param(["hello"], "hello world\n", id="root-action"),
    pytest.param(["Site.hello", "you"], "hello you\n", id="root-name-and-argument"),
    pytest.param(["Web.revision", "v1"],
                 "Site.Web[web1]: web1@v1\nSite.Web[web2]: web2@v1\n", id="array"),
    pytest.param(["Web[web2].revision", "v2"], "web2@v2\n", id="one-isolation"),
    pytest.param(["Status.uptime"], "web1: up\nweb2: up\n", id="hosts"),
    pytest.param(["Web.quiet"], "", id="suppressed"),
])
def test_run_prints_the_result(script: Path, args: list[str], out: str) -> None:
    outcome = shoal("deploy", str(script), "--run", *args)
    assert (outcome.status, outcome.out.decode()) == (0, out)
    assert b"__main__" not in outcome.err


def test_a_failed_action_exits_1_and_names_each_failed_host(script: Path) -> None:
    outcome = shoal("deploy", str(script), "--run", "Web.fail")
    assert (outcome.status, outcome.out) == (1, b"")
    lines = outcome.err.decode().splitlines()
    for slug in ("web1", "web2"):
        assert (f"Site.Web[{slug}]: {slug}: command exited with status 1: "
                f"echo failing on {slug} && false") in lines
        assert f"{slug}: failing on {slug}" in lines  # its output, on stderr, labelled
    outcome = shoal("deploy", str(script), "--non-interactive", "--on-failure", "skip",
                    "--run", "Web.fail")
    assert outcome.status == 0
    assert outcome.out.decode().splitlines() == [
        f"Site.Web[{slug}]: <skipped Site.Web[{slug}].fail: {slug}: command exited with "
        f"status 1: echo failing on {slug} && false>" for slug in ("web1", "web2")]
    outcome = shoal("deploy", str(script), "--run", "Status.boom")
    assert outcome.status == 1
    assert "Status.boom: custom failure" in outcome.err.decode().splitlines()


@pytest.mark.parametrize("args, message", [
    pytest.param(["--run", "Nope.hello"],
                 "action path 'Nope.hello': Site has no child or action 'Nope' (children: Web, "
                 "Status; actions: hello)", id="unknown-child"),
    pytest.param(["--run", "Web"], "action path 'Web': Site.Web is a node, not an action "
                 "(its actions: fail, quiet, revision)", id="node-not-action"),
    pytest.param(["--run", "Web.revision"],
                 "action Site.Web.revision(tag): missing a required argument: 'tag'",
                 id="missing-argument"),
    pytest.param(["--run", "hello", "a", "b"],
                 "action Site.hello(name='world'): too many positional arguments",
                 id="too-many-arguments"),
    pytest.param(["--run", "Web[web9].revision", "x"],
                 "action path 'Web[web9].revision': Site.Web has no isolation 'web9' "
                 "(isolations: web1, web2)", id="unknown-isolation"),
    pytest.param(["--root", "Nothing", "--run", "hello"], "--root 'Nothing' is not a Node "
                 "class of the script (its node classes: Template, Site)", id="bad-root"),
    pytest.param([], "the deployment shell needs a terminal", id="no-run-no-terminal"),
])
def test_bad_input_is_one_line_and_exit_2(script: Path, args: list[str], message: str) -> None:
    outcome = shoal("deploy", str(script), *args)
    err = outcome.err.decode()
    assert outcome.status == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert message in err


def test_a_broken_script_is_one_line_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("from shoal.deploy.node import Node\n\nclass A(Node):\n    x = 1 +\n")
    outcome = shoal("deploy", str(broken), "--run", "x")
    assert outcome.status == 2
    assert outcome.err.decode() == (f"shoal: deployment script '{broken}' line 4: "
                                    "syntax error: invalid syntax\n")
    failing = tmp_path / "failing.py"
    failing.write_text("import os\n\nos.environ['NOPE']\n")
    outcome = shoal("deploy", str(failing), "--run", "x")
    assert outcome.err.decode() == (f"shoal: deployment script '{failing}' line 3: "
                                    "KeyError: 'NOPE'\n")


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "tree.py"
    path.write_text("from shoal.deploy.node import Node\n" + textwrap.dedent(body))
    return path


def test_the_root_is_root_else_the_only_uncontained_node(tmp_path: Path) -> None:
    module = load_script(write(tmp_path, """
        class Base(Node):
            pass

        class A(Base):
            class B(Node):
                pass

        class C(Node):
            pass

        root = C
    """))
    assert find_root(module).__name__ == "C"
    assert find_root(module, "A").__name__ == "A"
    module = load_script(write(tmp_path, """
        class Template(Node):
            pass

        class Inner(Node):
            pass

        class Root(Node):
            class Live(Template):
                pass

            Child = Inner
    """))
    assert find_root(module).__name__ == "Root"
    module = load_script(write(tmp_path, """
        class One(Node):
            pass

        class Two(Node):
            pass
    """))
    with pytest.raises(UsageError, match=r"several root nodes \(One, Two\): choose one with "
                                         "--root NAME"):
        find_root(module)


def test_client_start_reads_python_deployers_command_line(script: Path, tmp_path: Path) -> None:
    runner = tmp_path / "run.py"
    runner.write_text(f"import sys\nsys.path.insert(0, {str(Path(__file__).parents[1])!r})\n"
                      + SCRIPT.replace('raise SystemExit("the __main__ block ran")',
                                       "from shoal.deploy.client import start\n    start(Site)"))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(runner), *args], capture_output=True,
                              text=True, stdin=subprocess.DEVNULL, timeout=60)

    done = run("run", "--path", "Web", "revision", "v7")
    assert (done.returncode, done.stdout) == (0, "Site.Web[web1]: web1@v7\nSite.Web[web2]: "
                                                 "web2@v7\n")
    done = run("run", "-s", "--non-interactive", "--log", str(tmp_path / "log"), "hello")
    assert (done.returncode, done.stdout) == (0, "hello world\n")
    assert (tmp_path / "log").exists()
    done = run("run", "--path", "Status", "boom")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "Status.boom: custom failure"
    for bad, message in [(["run"], "the deployment shell needs a terminal"),
                         (["scp"], "run.py: the SCP shell is not available in shoal"),
                         (["run", "--bogus"], "run.py: unrecognized arguments: --bogus"),
                         (["run", "nope"], "action path 'nope': Site has no child or action")]:
        done = run(*bad)
        assert done.returncode == 2, bad
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    done = run("--version")
    assert done.returncode == 0 and "root node __main__.Site" in done.stdout
