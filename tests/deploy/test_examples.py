"""The examples run end to end: python-deployer's own example, ported by renaming its
imports only, and the shop deployment on the testbed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import shoal

from shoal.testbed import Testbed
from shoal.testbed import sudo as sudo_rule

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SIMPLE = EXAMPLES / "simple_deployment.py"
SHOP = EXAMPLES / "deploy_shop.py"


def python(script: Path, *args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120,
                          env={**os.environ, **(env or {})})


def test_python_deployers_example_differs_only_in_its_imports() -> None:
    changed = [line for line in SIMPLE.read_text().splitlines() if "shoal.deploy" in line]
    assert changed == ["from shoal.deploy.host import LocalHost",
                       "from shoal.deploy.node import Node",
                       "    from shoal.deploy.client import start"]


def test_python_deployers_example_runs_from_its_own_command_line() -> None:
    done = python(SIMPLE, "run", "--path", "examples", "return_hello_world")
    assert (done.returncode, done.stdout) == (0, "Hello world\n")
    done = python(SIMPLE, "run", "-s", "--path", "examples", "say_hello")
    assert done.returncode == 0 and "hello world\n" in done.stderr
    assert "localhost echo hello world" in done.stderr  # the log of the command
    done = python(SIMPLE, "run", "--path", "examples", "raise_exception")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == "examples.raise_exception: Custom exception"


def test_python_deployers_example_in_a_sandbox() -> None:
    outcome = shoal("deploy", str(SIMPLE), "--sandbox", "--run", "examples.say_hello")
    assert outcome.status == 0
    assert "[sandbox] localhost: " in outcome.err.decode()
    assert "(sandbox) echo hello world" in outcome.err.decode()


@pytest.fixture
def shop(testbed: Testbed, shared_tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    base = shared_tmp_path / "shop-base"
    base.mkdir()
    shutil.chown(base, user=testbed.user)
    sudo_rule.password()  # there is one: the testbed made it
    for name, value in {"SHOP_SSH_CONFIG": str(testbed.ssh_config), "SHOP_BASE": str(base),
                        "SHOP_SUDO_PASSWORD_FILE": str(sudo_rule.PASSWORD_FILE)}.items():
        monkeypatch.setenv(name, value)
    return base


def test_the_shop_deploys_on_the_testbed(shop: Path) -> None:
    outcome = shoal("deploy", str(SHOP), "--run", "Production.deploy", "v42")
    assert (outcome.status, outcome.out) == (0, b"v42 shop.settings.production\n")
    assert (shop / "shop/releases/v42/built").read_text() == "v42 shop.settings.production\n"
    assert (shop / "shop/current").resolve() == shop / "shop/releases/v42"
    assert (shop / "shop/backup.sql").exists()
    log = outcome.err.decode()
    assert "[non interactive] 'y'" in log  # the question took its default
    for slug in ("node1", "node2", "node3"):
        assert f"{slug} (sudo) whoami" in log.replace("  ", " ").replace("  ", " ")

    outcome = shoal("deploy", str(SHOP), "--sandbox", "--run", "Production.deploy", "v43")
    assert (outcome.status, outcome.out) == (0, b"<Not sure in sandbox>\n")
    assert sorted(p.name for p in (shop / "shop/releases").iterdir()) == ["v42"]

    outcome = shoal("deploy", str(SHOP), "--run", "Production.Status.uptime")
    lines = outcome.out.decode().splitlines()
    assert [line.split(":")[0] for line in lines] == ["node1", "node2", "node3", "node4"]

    done = python(SHOP, "run", "--path", "Production.Web", "current", env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"Root.Production.Web[node{i}]: v42 "
                                        "shop.settings.production" for i in (1, 2, 3)]


def test_the_shop_template_lacks_its_project(shop: Path) -> None:
    outcome = shoal("deploy", str(SHOP), "--root", "WebApp", "--run", "deploy")
    assert outcome.status == 1
    assert outcome.err.decode().splitlines()[-1] == (
        "deploy: WebApp.project: required property is not defined: the project's short "
        "name, e.g. 'shop'")
