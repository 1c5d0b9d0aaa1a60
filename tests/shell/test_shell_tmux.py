"""The real ``shoal deploy FILE`` shell in a real terminal (a private tmux server), on the
SSH testbed: navigation, completion, actions, sandbox, ``--inspect``, the parallel view,
Ctrl-C during a long array action, and ``--connect`` with a window resize.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.processes import wait_gone
from support.tmux import Tmux

from shoal.testbed import Testbed

SCRIPT = '''
from shoal.deploy.groups import production
from shoal.deploy.host import SSHHost
from shoal.deploy.node import Node, ParallelNode, map_roles
from shoal.deploy.query import Q

CONFIG = {config!r}


def node(alias):
    return type(alias.capitalize(), (SSHHost,),
                {{"slug": alias, "address": alias, "config_filename": CONFIG}})


Node1, Node2, Node3 = node("node1"), node("node2"), node("node3")


class Site(Node):
    """The testbed site."""

    class Hosts:
        web = (Node1, Node2, Node3)
        db = Node1

    port = 8000
    next_port = Q.port + 1

    def hostnames(self):
        return self.hosts.run("echo I am $(whoami) on $SSH_CONNECTION")

    def touch(self, path):
        self.hosts.filter("db").run("touch " + path)

    @production
    class Live(Node):
        def uptime(self):
            return self.hosts.filter("db").run("echo up")

    @map_roles(host="web")
    class Web(ParallelNode.Array):
        def deploy(self, seconds="1", tag="v1"):
            self.host.run("echo pid $$; for i in $(seq " + seconds + "); do "
                          "echo step $i; sleep 1; done")
            return self.host.slug + "@" + tag
'''


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Tmux]:
    tmux = Tmux(tmp_path)
    try:
        yield tmux
    finally:
        tmux.close()


def start_shell(tmux: Tmux, bed: Testbed, tmp_path: Path, *options: str) -> str:
    script = tmp_path / "site.py"
    script.write_text(SCRIPT.format(config=str(bed.ssh_config)))
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "TERM": "xterm",
           "PATH": os.environ["PATH"]}
    shoal = str(Path(sys.executable).with_name("shoal"))
    pane = tmux.start([shoal, "deploy", str(script), *options], env=env, cwd=tmp_path)
    tmux.wait_for(pane, "Site >")
    return pane


def test_navigation_completion_and_history(terminal: Tmux, testbed: Testbed,
                                           tmp_path: Path) -> None:
    pane = start_shell(terminal, testbed, tmp_path)
    terminal.keys(pane, "cd W", "Tab")
    terminal.wait_for(pane, "Site > cd Web")
    terminal.keys(pane, ":", "Tab")
    screen = terminal.wait_for(pane, ":node3")
    assert ":node1" in screen and ":node2" in screen
    terminal.keys(pane, "2", "Enter")
    terminal.wait_prompt(pane, "Site.Web[node2] >")
    terminal.type(pane, "cd /")
    terminal.wait_prompt(pane, "Site >")
    terminal.keys(pane, "Li", "Tab")
    terminal.wait_for(pane, "Site > Live")
    terminal.keys(pane, "u", "Tab")
    terminal.wait_for(pane, "Site > Live uptime")
    terminal.keys(pane, "Enter")
    terminal.wait_for(pane, "node1: up")
    terminal.wait_prompt(pane, "Site >")
    terminal.keys(pane, "C-p")  # history: the line before
    terminal.wait_for(pane, "Site > Live uptime")
    terminal.keys(pane, "C-u", "C-d")
    assert terminal.wait_exit(pane) == 0
    history = (tmp_path / "state" / "shoal" / "deploy_history").read_text()
    assert "+Live uptime" in history and "+cd /" in history
    assert (tmp_path / "state" / "shoal" / "deploy_history").stat().st_mode & 0o777 == 0o600


def test_actions_sandbox_and_inspect_on_the_testbed(terminal: Tmux, testbed: Testbed,
                                                    tmp_path: Path,
                                                    shared_tmp_path: Path) -> None:
    pane = start_shell(terminal, testbed, tmp_path)
    terminal.type(pane, "hostnames")
    for host in ("node1", "node2", "node3"):  # the hosts answer in any order
        terminal.wait_for(pane, f"{host}: I am shoal-test on 127.0.0.1")
    terminal.wait_prompt(pane, "Site >")
    target = shared_tmp_path / "made"
    terminal.type(pane, f"sandbox touch {target}")
    screen = terminal.wait_for(pane, "[sandbox]")
    assert re.search(rf"node1: \[sandbox\] .*touch {target}", screen), screen
    assert not target.exists()
    terminal.wait_prompt(pane, "Site >")
    terminal.type(pane, "--inspect next_port")
    screen = terminal.wait_for(pane, "8001")
    assert "Q.port + 1" in screen.replace("\n", "") or "port" in screen
    terminal.wait_prompt(pane, "Site >")
    terminal.type(pane, "--inspect Web")
    screen = terminal.wait_for(pane, "Child nodes:")
    assert '"host"' in screen and "node3 (node3)" in screen
    terminal.wait_prompt(pane, "Site >")
    terminal.type(pane, "exit")
    assert terminal.wait_exit(pane) == 0


def test_the_parallel_view_and_ctrl_c_on_a_long_array_action(
        terminal: Tmux, testbed: Testbed, tmp_path: Path) -> None:
    pane = start_shell(terminal, testbed, tmp_path)
    terminal.type(pane, "Web deploy 2 tag=v7")
    screen = terminal.wait_for(pane, "Site.Web[node3]: node3@v7")  # after the table
    assert "3 hosts: 3 done" in screen
    assert re.search(r"node1 +done +\d+\.\ds +step 2", screen)
    terminal.wait_prompt(pane, "Site >")
    terminal.type(pane, "Web deploy 120")
    screen = terminal.wait_for(pane, "3 hosts: 3 running")  # the live view
    assert re.search(r"node2 +running +\d+\.\ds", screen)
    while len(pids := re.findall(r"node\d: pid (\d+)", terminal.screen(pane))) < 3:
        terminal.wait_for(pane, "pid")
    terminal.keys(pane, "C-c")
    screen = terminal.wait_for(pane, "interrupted: Site.Web.deploy (stopped on every host)")
    assert "3 hosts: 3 interrupted" in screen
    # The commands were stopped on the hosts (the testbed's sshd runs on this machine).
    assert all(wait_gone(int(pid)) for pid in pids)
    terminal.wait_prompt(pane, "Site >")
    terminal.type(pane, "Live uptime")
    terminal.wait_for(pane, "node1: up")


def test_connect_gives_a_real_terminal_that_follows_resizes(
        terminal: Tmux, testbed: Testbed, tmp_path: Path) -> None:
    pane = start_shell(terminal, testbed, tmp_path)
    terminal.type(pane, "--connect Live")
    terminal.wait_for(pane, "Choose a host (default=random):")  # Live has three
    terminal.type(pane, "1")
    terminal.wait_for(pane, "node1 $ (interactive shell)")
    terminal.type(pane, "tty; stty size; echo conn-$SSH_CONNECTION")
    screen = terminal.wait_for(pane, "conn-127.0.0.1")
    assert "/dev/pts/" in screen and "40 120" in screen
    terminal.tmux("resize-window", "-t", pane, "-x", "100", "-y", "30")
    # The new size reaches the remote terminal soon after: the remote shell waits for it.
    terminal.type(pane, 'for i in $(seq 100); do [ "$(stty size)" = "30 100" ] && break; '
                        'sleep 0.1; done; echo "now $(stty size)"')
    terminal.wait_for(pane, "now 30 100")
    terminal.type(pane, "exit")
    terminal.wait_prompt(pane, "Site >")
    terminal.type(pane, "Live uptime")  # the shell has its keyboard back
    terminal.wait_for(pane, "node1: up")


def test_panes_give_each_host_a_pane_of_its_own(terminal: Tmux, testbed: Testbed,
                                                tmp_path: Path) -> None:
    pane = start_shell(terminal, testbed, tmp_path, "--panes")
    terminal.type(pane, "Web deploy 2")
    terminal.wait_for(pane, "Site.Web[node3]: node3@v1")
    others = [p for p in terminal.tmux("list-panes", "-t", pane, "-F", "#{pane_id}").split()
              if p != pane]
    assert len(others) == 3
    hosts = []
    for other in others:
        screen = terminal.wait_for(other, "done] press Enter to close this pane")
        assert "step 1\nstep 2\n" in screen
        found = re.search(r"^Site\.Web\[(node\d)\]", screen, re.MULTILINE)
        assert found, screen
        hosts.append(found[1])
        terminal.keys(other, "Enter")
    assert sorted(hosts) == ["node1", "node2", "node3"]
    terminal.wait_prompt(pane, "Site >")
