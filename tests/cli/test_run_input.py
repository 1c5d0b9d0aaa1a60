"""What ``shoal run`` reads besides its options: commands on stdin, shoal.conf, clush.conf."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.cli import shoal

from shoal.cli.config import RunConfig, load_config
from shoal.errors import ConfigError
from shoal.testbed import Testbed

README = Path(__file__).resolve().parents[2] / "README.md"


def _shoal(*args: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    got = shoal(*args, stdin=stdin)
    return got.status, got.out, got.err


def test_piped_commands_without_a_command_run_as_a_script_on_each_node(
        testbed: Testbed) -> None:
    status, out, err = _shoal("run", "-F", str(testbed.ssh_config), "-b", "-w", "node[1-3]",
                              stdin=b"echo first\nx=2; echo second $x\n")
    assert (status, err) == (0, b"")
    assert out == (b"---------------\nnode[1-3] (3)\n---------------\n"
                   b"first\nsecond 2\n")


def test_piped_commands_keep_clush_line_labels(testbed: Testbed) -> None:
    status, out, _ = _shoal("run", "-F", str(testbed.ssh_config), "-w", "node1",
                            stdin=b"echo one\necho two\n")
    assert (status, out) == (0, b"node1: one\nnode1: two\n")


def _readme_example() -> str:
    text = README.read_text()
    section = text[text.index("### shoal.conf"):]
    match = re.search(r"```ini\n(.*?)```", section, re.DOTALL)
    assert match, "README's shoal.conf section has no ini example"
    return match.group(1)


def test_the_readme_shoal_conf_example_loads_as_written(tmp_path: Path) -> None:
    path = tmp_path / "shoal.conf"
    path.write_text(_readme_example())
    config = load_config(path)
    assert config == RunConfig(
        fanout=64, connect_timeout=10.0, command_timeout=None, color="auto",
        ssh_user="admin", ssh_options="-oPort=2222 -F /etc/shoal/ssh_config",
        node_groups="/etc/shoal/groups.conf", transport="ssh", verbosity=1,
        node_count=True, maxrc=False, fd_max=8192, topology="/etc/shoal/topology.conf",
        source=str(path))


CLUSH_CONF = """\
# Configuration file for clush
[Main]
fanout: 32
connect_timeout: 15
command_timeout: 0
color: auto
fd_max: 8192
history_size: 100
maxrc: no
node_count: yes
verbosity: 1
confdir: /etc/clustershell/clush.conf.d $CFGDIR/clush.conf.d
ssh_path: /usr/bin/ssh

[mode:sshpass]
description: Use sshpass
ssh_path: /usr/bin/sshpass -f ~/pw /usr/bin/ssh
"""


def test_a_clush_conf_loads_and_its_unused_settings_are_one_warning(tmp_path: Path) -> None:
    path = tmp_path / "clush.conf"
    path.write_text(CLUSH_CONF)
    config = load_config(path)
    assert (config.fanout, config.connect_timeout, config.verbosity) == (32, 15.0, 1)
    assert config.warnings == (
        f"{path}: skipped clush settings that shoal does not use: history_size (line 8), "
        "confdir (line 12), ssh_path (line 13), [mode:sshpass] (line 15)",)


def test_the_clush_conf_warning_is_printed_once_per_run(tmp_path: Path,
                                                        testbed: Testbed) -> None:
    path = tmp_path / "clush.conf"
    path.write_text(CLUSH_CONF)
    status, out, err = _shoal("run", "--conf", str(path), "-F", str(testbed.ssh_config),
                              "-w", "node[1-4]", "echo ok")
    assert status == 0
    assert out.count(b": ok\n") == 4
    assert err.decode() == (f"shoal: warning: {path}: skipped clush settings that shoal does "
                            "not use: history_size (line 8), confdir (line 12), ssh_path "
                            "(line 13), [mode:sshpass] (line 15)\n")


@pytest.mark.parametrize("name", ["shoal.conf", "other.conf"])
def test_clush_keys_are_still_errors_in_shoal_s_own_file(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("[Main]\nfanout: 8\nhistory_size: 100\n")
    with pytest.raises(ConfigError, match=r'line 3: unknown key "history_size"'):
        load_config(path)


def test_an_inline_comment_needs_a_space_before_it(tmp_path: Path) -> None:
    path = tmp_path / "shoal.conf"
    path.write_text("[Main]\nssh_options: -oUser=a#b   # the user a#b\nfanout: 8 # eight\n")
    config = load_config(path)
    assert (config.ssh_options, config.fanout) == ("-oUser=a#b", 8)


def test_hostfiles_and_nodes_from_stdin_add_up(tmp_path: Path, testbed: Testbed) -> None:
    first = tmp_path / "hosts"
    first.write_text("# web tier\nnode[1-2]   # the front\n\n  node4\n")
    second = tmp_path / "more"
    second.write_text("node7\n")
    status, out, err = _shoal("run", "-F", str(testbed.ssh_config), "-b", "--hostfile",
                              str(first), "--machinefile", str(second), "-w", "-",
                              "-x", "node2", "echo ok", stdin=b"node9 # from stdin\n")
    assert (status, err) == (0, b"")
    assert out == b"---------------\nnode[1,4,7,9] (4)\n---------------\nok\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("node1\nnode[2-\n", 'line 2: node set "node[2-": missing "]" at column 5',
                     id="bad-line"),
        pytest.param("# nothing\n\n", None, id="no-node"),
    ],
)
def test_a_bad_hostfile_is_one_line_and_exit_2(tmp_path: Path, testbed: Testbed, text: str,
                                               message: str | None) -> None:
    path = tmp_path / "hosts"
    path.write_text(text)
    status, out, err = _shoal("run", "-F", str(testbed.ssh_config), "--hostfile", str(path),
                              "true")
    expected = (f"shoal: {path} {message}\n" if message else
                "shoal: no node to run on: name some with -w NODES, -g GROUP or -a\n")
    assert (status, out, err.decode()) == (2, b"", expected)


def test_a_missing_hostfile_is_one_line_and_exit_2(tmp_path: Path) -> None:
    status, _, err = _shoal("run", "--hostfile", str(tmp_path / "nope"), "true")
    assert (status, err.decode()) == (
        2, f"shoal: host file {tmp_path / 'nope'}: cannot read: No such file or directory\n")


def test_nodes_from_stdin_leave_no_script_to_read(testbed: Testbed) -> None:
    status, _, err = _shoal("run", "-F", str(testbed.ssh_config), "-w", "-", stdin=b"node1\n")
    assert (status, err.decode()) == (
        2, "shoal: no command given, and -w - (nodes from stdin) leaves none to read from "
           "stdin: give a COMMAND\n")


def test_all_nodes_with_no_group_source_is_bad_input(tmp_path: Path) -> None:
    empty = tmp_path / "groups.conf"
    empty.write_text("[Main]\n")
    status, out, err = _shoal("run", "--groupsconf", str(empty), "-a", "true")
    assert (status, out, err.decode()) == (
        2, b"", "shoal: no group source is configured: cannot list all nodes\n")
