"""``shoal run`` and ``shoal copy`` end to end on the real sshd, and side by side with clush.

Most cases go through shoal's real entry point (``shoal.cli.main``: option parsing, error
messages, exit status) inside this process; Ctrl-C needs a process of its own. The
differential cases run ClusterShell's ``clush`` on the same nodes, through the same ssh
config, and compare what both print.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import re
import resource
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import Outcome, shoal
from support.files import group_config
from support.gates import Gate, Signal

from shoal.cli.progress import Progress
from shoal.engine import Exited, Failed, Started
from shoal.errors import HostError, UsageError
from shoal.hosts import ConnectOptions
from shoal.nodeset import groups
from shoal.testbed import Testbed

BIN = Path(sys.executable).parent
SEP = "-" * 15

#: node2 and node4 print other lines and exit 3 (SetEnv in the ssh config).
ROLE_COMMAND = ("echo common; echo role=$SHOAL_ROLE; echo warn-$SHOAL_ROLE >&2; "
                "case $SHOAL_ROLE in odd) exit 3;; esac")


def run(config: Path, *args: str, stdin: bytes = b"") -> Outcome:
    """``shoal run -F CONFIG ARGS``."""
    return shoal("run", "-F", str(config), *args, stdin=stdin)


def config_with(bed: Testbed, path: Path, extra: str = "", drop: str = "") -> Path:
    """The testbed's ssh config preceded by ``extra`` (first value wins), less ``drop`` lines."""
    lines = [line for line in bed.ssh_config.read_text().splitlines()
             if not (drop and line.strip().startswith(drop))]
    text = "\n".join(lines).replace("Host node* gw*", "Host node* gw* mute*")
    path.write_text(f"{extra}\n{text}\n")
    return path


@pytest.fixture(scope="module")
def roles(testbed: Testbed, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The testbed's ssh config with node2 and node4 in role "odd", node[8-9] in "slow"."""
    return config_with(testbed, tmp_path_factory.mktemp("roles") / "ssh_config",
                       "Host node2 node4\n    SetEnv SHOAL_ROLE=odd\n"
                       "Host node8 node9\n    SetEnv SHOAL_ROLE=slow\n")


@pytest.fixture
def groupsconf(tmp_path: Path) -> Iterator[Path]:
    """A groups.conf: racks in the default source, one group in source "other"."""
    yield group_config(
        tmp_path, "local:\n  rack1: 'node[1-3]'\n  rack2: 'node[4-6]'\nother:\n  g: 'node[7-8]'\n")
    groups.set_std_group_resolver(None)  # the next test searches groups.conf afresh


def block(nodes: str, *lines: str) -> str:
    return f"{SEP}\n{nodes}\n{SEP}\n" + "".join(f"{line}\n" for line in lines)


# -- clush side by side ----------------------------------------------------------------------

#: name -> (options, live: lines arrive in any order and are compared sorted)
CLUSH_CASES: dict[str, tuple[list[str], bool]] = {
    "lines": ([], True),
    "no-label": (["-N"], True),
    "gather": (["-b"], False),
    "gather-stderr": (["-B"], False),
    "by-node": (["-L"], False),
    "gather-by-line": (["-b", "-L"], False),
    "gather-stderr-by-line": (["-B", "-L"], False),
    "gather-no-label": (["-b", "-N"], False),
    "by-node-no-label": (["-L", "-N"], False),
    "diff": (["--diff"], False),
    "maxrc": (["-b", "-S"], False),
    "maxrc-quiet": (["-S", "-q"], True),
    "quiet": (["-b", "-q"], False),
    "verbose": (["-b", "-v"], True),
    "color-lines": (["--color=always"], True),
    "color-gather": (["--color=always", "-b"], False),
}
CLUSH_NODES = "node[1-5]"
#: down1 cannot be reached: the testbed sends it to a port where nothing listens
UNREACHABLE = ["-b", "-S", "-w", "node[1-3],down1", "echo ok"]


def _clush(config: Path, args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(BIN / "clush"), "-o", f"-F {config}", *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def clush_runs(roles: Path) -> dict[str, Outcome]:
    """Every clush case, run at once (clush needs about a second each)."""
    procs = {name: _clush(roles, [*options, "-w", CLUSH_NODES, ROLE_COMMAND])
             for name, (options, _) in CLUSH_CASES.items()}
    procs["unreachable"] = _clush(roles, UNREACHABLE)
    runs = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        runs[name] = Outcome(proc.returncode, out, err)
    return runs


def _stderr_lines(err: bytes) -> list[bytes]:
    """stderr lines, sorted, without clush's progress counter, named as shoal names itself."""
    lines = [line for line in re.split(rb"[\r\n]", err)
             if line.strip() and not re.fullmatch(rb"clush: +\d+/\d+", line)]
    return sorted(re.sub(rb"^clush: ", b"shoal: ", line) for line in lines)


@pytest.mark.parametrize("name", list(CLUSH_CASES))
def test_same_output_as_clush(name: str, roles: Path, clush_runs: dict[str, Outcome]) -> None:
    options, live = CLUSH_CASES[name]
    expected = clush_runs[name]
    got = run(roles, *options, "-w", CLUSH_NODES, ROLE_COMMAND)
    assert expected.out, "clush printed nothing: is it reaching the testbed?"
    if live:
        assert sorted(got.out.splitlines()) == sorted(expected.out.splitlines())
    else:
        assert got.out == expected.out
    assert _stderr_lines(got.err) == _stderr_lines(expected.err)
    assert got.status == expected.status


def test_same_output_and_status_as_clush_with_an_unreachable_node(
        roles: Path, clush_runs: dict[str, Outcome]) -> None:
    expected = clush_runs["unreachable"]
    got = run(roles, *UNREACHABLE)
    assert (got.status, got.out) == (expected.status, expected.out) == (
        255, block("node[1-3] (3)", "ok").encode())
    assert got.err == b"shoal: down1: connection refused\n"


# -- output formats ---------------------------------------------------------------------------


def test_lines_as_they_come_with_exit_codes_per_node(roles: Path) -> None:
    got = run(roles, "-w", "node[1-4]", ROLE_COMMAND)
    assert sorted(got.out.decode().splitlines()) == [
        "node1: common", "node1: role=", "node2: common", "node2: role=odd",
        "node3: common", "node3: role=", "node4: common", "node4: role=odd"]
    assert sorted(got.err.decode().splitlines()) == [
        "node1: warn-", "node2: warn-odd", "node3: warn-", "node4: warn-odd",
        "shoal: node2: exited with exit code 3", "shoal: node4: exited with exit code 3"]
    assert got.status == 0
    assert b"\r" not in got.err  # no progress line when stderr is not a terminal


def test_gathered_blocks_by_return_code_then_size(roles: Path) -> None:
    got = run(roles, "-b", "-w", "node[1-5]", "echo $SHOAL_ROLE; [ -z $SHOAL_ROLE ]")
    assert got.out.decode() == block("node[1,3,5] (3)", "") + block("node[2,4] (2)", "odd")
    assert got.err == b"shoal: node[2,4] (2): exited with exit code 1\n"


def test_invalid_utf8_passes_through_unchanged(testbed: Testbed) -> None:
    command = "printf 'a\\377b\\n\\300\\n'"
    assert run(testbed.ssh_config, "-w", "node1", command).out == b"node1: a\xffb\nnode1: \xc0\n"
    assert run(testbed.ssh_config, "-b", "-w", "node[1-2]", command).out == (
        block("node[1-2] (2)").encode() + b"a\xffb\n\xc0\n")


def test_json_one_object_per_node_bytes_as_base64(testbed: Testbed) -> None:
    got = run(testbed.ssh_config, "--json", "-w", "node[1-2],down1",
              "printf 'x\\377'; echo e >&2; exit 4")
    # one line per node as it ends: down1 fails first, the others in any order
    records = sorted((json.loads(line) for line in got.out.splitlines()),
                     key=lambda r: r["node"])
    assert [r["node"] for r in records] == ["down1", "node1", "node2"]
    first = records[1]
    assert {k: first[k] for k in ("rc", "stdout", "stdout_base64", "stderr", "stderr_base64",
                                  "error", "status")} == {
        "rc": 4, "stdout": "eP8=", "stdout_base64": True, "stderr": "e\n",
        "stderr_base64": False, "error": None, "status": "ok"}
    assert 0 <= first["start"] <= first["end"]
    assert {k: records[0][k] for k in ("rc", "error", "status")} == {
        "rc": None, "error": "connection refused", "status": "unreachable"}
    assert (got.status, got.err) == (0, b"")


def test_json_lines_come_as_nodes_end(roles: Path, shared_tmp_path: Path) -> None:
    # node8 (slow) waits at a gate that the test opens only once node6's and node7's
    # lines have arrived: they cannot have been held back until the end.
    gate = Gate(shared_tmp_path)
    command = f"case $SHOAL_ROLE in slow) {gate.command};; esac"
    with subprocess.Popen(
            [str(BIN / "shoal"), "run", "-F", str(roles), "-u", "60", "--json",
             "-w", "node[6-8]", command], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        early = {json.loads(proc.stdout.readline())["node"] for _ in range(2)}
        gate.open()
        last = json.loads(proc.stdout.readline())
        rest, err = proc.communicate(timeout=60)
    assert early == {"node6", "node7"}
    assert (last["node"], last["status"], last["rc"]) == ("node8", "ok", 0)
    assert (proc.returncode, rest, err) == (0, b"", b"")


def test_color_always_paints_labels_and_never_does_not(testbed: Testbed) -> None:
    command = "echo hi; echo oops >&2"
    painted = run(testbed.ssh_config, "--color=always", "-w", "node1", command)
    assert painted.out == b"\033[94mnode1: \033[0mhi\n"
    assert painted.err == b"\033[91mnode1: \033[0moops\n"
    assert run(testbed.ssh_config, "--color=never", "-w", "node1", command).out == b"node1: hi\n"


def test_words_of_the_command_are_joined_and_options_after_it_are_its_own(
        testbed: Testbed) -> None:
    got = run(testbed.ssh_config, "-w", "node1", "echo", "-c", "a", "-b")
    assert got.out == b"node1: -c a -b\n"


# -- stdin ----------------------------------------------------------------------------------


def test_stdin_goes_to_every_node_unless_nostdin(testbed: Testbed) -> None:
    data = b"a\nb\xff\n"
    got = run(testbed.ssh_config, "-b", "-w", "node[1-3]", "cat", stdin=data)
    assert got.out == block("node[1-3] (3)").encode() + data
    assert run(testbed.ssh_config, "--nostdin", "-w", "node[1-3]", "cat", stdin=data).out == b""


# -- node selection -------------------------------------------------------------------------


def test_w_repeated_and_x_excluded(testbed: Testbed) -> None:
    got = run(testbed.ssh_config, "-b", "-w", "node[1-4]", "-w", "node7", "-x", "node[2-3]",
              "echo ok")
    assert got.out.decode() == block("node[1,4,7] (3)", "ok")


@pytest.mark.parametrize(
    ("options", "header"),
    [
        pytest.param(["-g", "rack1"], "node[1-3] (3)", id="group"),
        pytest.param(["--group", "rack[1-2]", "-X", "rack2", "-x", "node1"], "node[2-3] (2)",
                     id="groups-less-group-less-node"),
        pytest.param(["-a", "-X", "rack1"], "node[4-6] (3)", id="all"),
        pytest.param(["-s", "other", "-g", "g"], "node[7-8] (2)", id="group-source"),
        pytest.param(["-r", "-g", "rack1,rack2"], "@rack[1-2] (6)", id="regroup"),
    ],
)
def test_groups(options: list[str], header: str, testbed: Testbed, groupsconf: Path) -> None:
    got = run(testbed.ssh_config, "--groupsconf", str(groupsconf), "-b", *options, "echo ok")
    assert (got.status, got.out.decode(), got.err) == (0, block(header, "ok"), b"")


def test_pick_runs_on_n_random_nodes(testbed: Testbed) -> None:
    got = run(testbed.ssh_config, "--pick", "2", "-w", "node[1-5]", "--json", "true")
    nodes = [json.loads(line)["node"] for line in got.out.splitlines()]
    assert len(set(nodes)) == 2
    assert set(nodes) <= {f"node{i}" for i in range(1, 6)}


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["-w", "node[1-", "true"], 'node set "node[1-": missing "]" at column 5',
                     id="typo-in-node-set"),
        pytest.param(["true"], "no node to run on: name some with -w NODES, -g GROUP or -a",
                     id="no-node"),
        pytest.param(["-w", "n1", "-x", "n1", "true"],
                     "no node to run on: name some with -w NODES, -g GROUP or -a",
                     id="all-excluded"),
        pytest.param(["-w", "n1", "-n"], "no command given, and -n leaves none to read from "
                                         "stdin: give a COMMAND", id="no-command-no-stdin"),
        pytest.param(["-w", "n1", "-o", "-X", "true"], 'ssh options "-X": "-X" is not supported '
                     "(use -oKey=Value, -p PORT, -i KEY or -F FILE)", id="bad-ssh-option"),
        pytest.param(["-w", "n1", "--diff", "-L", "true"], "--diff does not go with -L",
                     id="diff-with-L"),
        pytest.param(["-w", "n1", "-c"], "--copy and --rcopy need at least one file to copy",
                     id="copy-nothing"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str,
                                          testbed: Testbed) -> None:
    got = run(testbed.ssh_config, *args)
    assert (got.status, got.out, got.err.decode()) == (2, b"", f"shoal: {message}\n")


def test_unknown_group_names_the_group(groupsconf: Path) -> None:
    got = shoal("run", "--groupsconf", str(groupsconf), "-g", "nosuch", "true")
    assert (got.status, got.err.decode()) == (
        2, 'shoal: node set "@nosuch": no group "nosuch" in group source "local" at column 1\n')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("-o", "-o needs a value", id="no-value"),
        pytest.param("-oPort", '"Port" is not Key=Value', id="no-equals"),
        pytest.param("-p x", '"x" is not a port number', id="bad-port"),
        pytest.param("-oUser='a", "No closing quotation", id="bad-quotes"),
        pytest.param("node1", '"node1" is not supported', id="not-an-option"),
    ],
)
def test_ssh_options_errors_name_the_text(text: str, message: str) -> None:
    with pytest.raises(UsageError) as exc:
        ConnectOptions.from_ssh_options(text)
    assert str(exc.value).startswith(f'ssh options "{text}": ')
    assert message in str(exc.value)
    assert message in str(exc.value)


# -- connections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        pytest.param("-p {port}", id="p"),
        pytest.param("-oPort={port}", id="o-equals"),
        pytest.param("-o 'Port {port}'", id="o-space"),
    ],
)
def test_o_port_wins_over_the_config(options: str, testbed: Testbed, tmp_path: Path,
                                     closed_port: int) -> None:
    config = config_with(testbed, tmp_path / "cfg", f"Host node*\n    Port {closed_port}\n")
    assert run(config, "-w", "node1", "echo ok").err.startswith(b"shoal: node1: connection ")
    got = run(config, "-o", options.format(port=testbed.port), "-w", "node1", "echo ok")
    assert (got.out, got.err) == (b"node1: ok\n", b"")


def test_o_identity_and_o_config_file(testbed: Testbed, tmp_path: Path) -> None:
    config = config_with(testbed, tmp_path / "cfg", drop="IdentityFile")
    assert run(config, "-w", "node1", "echo ok").err.startswith(b"shoal: node1: ")
    got = run(config, "-o", f"-i {testbed.identity}", "-w", "node1", "echo ok")
    assert (got.out, got.err) == (b"node1: ok\n", b"")
    got = shoal("run", "-o", f"-F {testbed.ssh_config}", "-w", "node1", "echo ok")
    assert (got.out, got.err) == (b"node1: ok\n", b"")


def test_l_user_wins_over_the_config(testbed: Testbed, tmp_path: Path) -> None:
    config = config_with(testbed, tmp_path / "cfg", "Host node*\n    User nosuchuser\n")
    refused = run(config, "-w", "node1", "echo ok")
    assert refused.out == b""
    assert refused.err.startswith(b"shoal: node1: ")
    got = run(config, "-l", testbed.user, "-w", "node1", "echo ok")
    assert (got.out, got.err) == (b"node1: ok\n", b"")


def test_t_connect_timeout(testbed: Testbed, tmp_path: Path, silent_port: int) -> None:
    config = config_with(testbed, tmp_path / "cfg", f"Host mute*\n    Port {silent_port}\n")
    got = run(config, "-t", "0.5", "-S", "-w", "mute[1-2],node1", "echo ok")
    assert got.out == b"node1: ok\n"
    assert got.err == b"shoal: mute[1-2]: connect timed out after 0.5s\n"
    assert got.status == 255


def test_u_command_timeout(testbed: Testbed) -> None:
    got = run(testbed.ssh_config, "-u", "0.5", "-S", "-w", "node[1-2]", "echo up; sleep 30")
    assert sorted(got.out.splitlines()) == [b"node1: up", b"node2: up"]
    assert got.err == b"shoal: node[1-2]: command timed out after 0.5s\n"
    assert got.status == 255


def test_f_fanout_one_node_at_a_time(testbed: Testbed) -> None:
    got = run(testbed.ssh_config, "-f", "1", "--json", "-w", "node[1-4]", "true")
    spans = sorted((r["start"], r["end"]) for r in map(json.loads, got.out.splitlines()))
    assert len(spans) == 4
    assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(spans))


def test_accept_new_host_keys(testbed: Testbed, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    config = config_with(testbed, tmp_path / "cfg",
                         f"Host node*\n    UserKnownHostsFile {known}\n")
    refused = run(config, "-w", "node1", "echo ok")
    assert refused.out == b""
    assert b"is not known" in refused.err
    assert b"--accept-new-host-keys" in refused.err
    assert run(config, "--accept-new-host-keys", "-w", "node1", "echo ok").out == b"node1: ok\n"
    assert known.read_text().count("\n") == 1
    assert run(config, "-w", "node1", "echo ok").out == b"node1: ok\n"


@pytest.mark.parametrize("transport", ["ssh", "openssh"])
def test_o_strict_host_key_checking_no_is_honoured(transport: str, testbed: Testbed,
                                                   tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    got = run(testbed.ssh_config, "--transport", transport, "-o",
              f"-oStrictHostKeyChecking=no -oUserKnownHostsFile={known}", "-w", "node1", "echo ok")
    assert (got.status, got.out, got.err) == (0, b"node1: ok\n", b"")
    assert "ssh-ed25519" in known.read_text()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param("-oForwardX11=yes", 'ssh option "ForwardX11=yes": the ssh transport never '
                     "forwards X11 connections; use --transport openssh", id="refused"),
        pytest.param("-oVisualHostKey=no", 'ssh option "VisualHostKey": not supported by the '
                     "ssh transport; use --transport openssh", id="unsupported"),
        pytest.param("-o -oStrictHostKeyChecking=no", 'ssh options "-o '
                     '-oStrictHostKeyChecking=no": "-oStrictHostKeyChecking" is not an ssh '
                     "option name (write -oKey=Value)", id="o-inside-o"),
    ],
)
def test_o_option_not_honoured_is_refused_in_one_line(options: str, message: str,
                                                      testbed: Testbed) -> None:
    got = run(testbed.ssh_config, "-o", options, "-w", "node1", "echo ok")
    assert (got.status, got.out, got.err.decode()) == (2, b"", f"shoal: {message}\n")


def test_o_option_for_openssh_alone_works_there(testbed: Testbed) -> None:
    got = run(testbed.ssh_config, "--transport", "openssh", "-o", "-oVisualHostKey=no",
              "-w", "node1", "echo ok")
    assert (got.status, got.out, got.err) == (0, b"node1: ok\n", b"")


def test_a_relative_ssh_config_path_works_for_openssh(testbed: Testbed, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # ssh reads a relative Include under ~/.ssh: the path must reach it absolute.
    config_with(testbed, tmp_path / "cfg")
    monkeypatch.chdir(tmp_path)
    got = run(Path("cfg"), "--transport", "openssh", "-w", "node1", "echo ok")
    assert (got.status, got.out, got.err) == (0, b"node1: ok\n", b"")


def test_connect_timeout_of_the_ssh_config_applies_without_t(testbed: Testbed, tmp_path: Path,
                                                             silent_port: int) -> None:
    config = config_with(testbed, tmp_path / "cfg",
                         f"Host mute*\n    Port {silent_port}\n    ConnectTimeout 1\n")
    got = run(config, "-w", "mute1", "echo ok")
    assert got.err == b"shoal: mute1: connect timed out after 1s\n"
    got = run(config, "-t", "0.5", "-w", "mute1", "echo ok")
    assert got.err == b"shoal: mute1: connect timed out after 0.5s\n"


@pytest.mark.parametrize(
    ("transport", "nodes"),
    [pytest.param("local", "n[1-3]", id="local"),
     pytest.param("openssh", "node[1-3]", id="openssh"),
     pytest.param("ssh", "node[1-3]", id="ssh")],
)
def test_transport(transport: str, nodes: str, testbed: Testbed) -> None:
    got = run(testbed.ssh_config, "--transport", transport, "-b", "-w", nodes, "echo ok")
    assert (got.out.decode(), got.err) == (block(f"{nodes} (3)", "ok"), b"")


def test_command_line_wins_over_shoal_conf(testbed: Testbed, tmp_path: Path) -> None:
    conf = tmp_path / "shoal.conf"
    conf.write_text(f"[Main]\nssh_options: -F {testbed.ssh_config}\nmaxrc: yes\n"
                    "color: always\nssh_user: nosuchuser\n")
    got = shoal("run", "--conf", str(conf), "-l", testbed.user, "--color", "never",
                "-w", "node1", "echo ok; exit 3")
    assert (got.status, got.out, got.err) == (
        3, b"node1: ok\n", b"shoal: node1: exited with exit code 3\n")


def test_bad_shoal_conf_is_one_line(tmp_path: Path) -> None:
    conf = tmp_path / "shoal.conf"
    conf.write_text("[Main]\nfanout: many\n")
    got = shoal("run", "--conf", str(conf), "-w", "n1", "true")
    assert (got.status, got.err.decode()) == (
        2, f'shoal: {conf} line 2: fanout "many": not a whole number\n')


# -- copies -------------------------------------------------------------------------------------


@pytest.fixture
def files(shared_tmp_path: Path) -> tuple[Path, Path]:
    """A file to copy, dated 2001, and a folder the testbed's login user may write into."""
    source = shared_tmp_path / "app.conf"
    source.write_text("setting = 1\n")
    os.utime(source, (1e9, 1e9))
    dest = shared_tmp_path / "dest"
    dest.mkdir()
    dest.chmod(0o777)
    return source, dest


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["run", "-w", "node[1-2]", "-c", "{src}", "--dest", "{dest}", "-v"],
                     id="run-copy-options-after-files"),
        pytest.param(["copy", "-w", "node[1-2]", "{src}", "--dest", "{dest}", "-v"],
                     id="copy-command"),
    ],
)
def test_copy(args: list[str], files: tuple[Path, Path], testbed: Testbed) -> None:
    source, dest = files
    words = [arg.format(src=source, dest=dest) for arg in args]
    got = shoal(words[0], "-F", str(testbed.ssh_config), *words[1:])
    assert (got.status, got.out.decode(), got.err) == (
        0, f"`{source}' -> node[1-2]:`{dest}'\n", b"")
    assert (dest / "app.conf").read_text() == "setting = 1\n"
    assert (dest / "app.conf").stat().st_mtime != 1e9


def test_copy_p_preserves_times(files: tuple[Path, Path], testbed: Testbed) -> None:
    source, dest = files
    got = run(testbed.ssh_config, "-w", "node1", "-p", "-c", str(source), "--dest", str(dest))
    assert (got.status, got.err) == (0, b"")
    assert (dest / "app.conf").stat().st_mtime == 1e9


def test_rcopy_names_copies_after_nodes(files: tuple[Path, Path], testbed: Testbed,
                                       tmp_path: Path) -> None:
    source, _ = files
    got = shoal("copy", "-F", str(testbed.ssh_config), "-w", "node[1-2]", "--rcopy",
                str(source), "--dest", str(tmp_path))
    assert (got.status, got.err) == (0, b"")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.conf.node1", "app.conf.node2"]


# -- Ctrl-C -------------------------------------------------------------------------------------


def test_sigint_shows_what_finished_and_exits_130(roles: Path, shared_tmp_path: Path) -> None:
    # -f 2: node8 and node9 (slow) start only once node6 and node7 have ended; they say
    # so, then run on (the sleep is the command Ctrl-C interrupts).
    started = Signal(shared_tmp_path)
    command = (f"case $SHOAL_ROLE in slow) {started.command}; sleep 30;; "
               "*) echo hello;; esac")
    with subprocess.Popen(
            [str(BIN / "shoal"), "run", "-F", str(roles), "-f", "2", "-b", "-w", "node[6-9]",
             command], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE) as proc:
        try:
            assert started.wait(2), "the slow nodes never started"
        finally:
            started.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert out.decode() == block("node[6-7] (2)", "hello")
    assert err == b"shoal: node[8-9]: interrupted\n"


def test_2000_hosts_at_fanout_1000_from_the_usual_open_files_limit(testbed: Testbed) -> None:
    # A shell's usual soft limit of 1,024 open files is less than 1,000 connections at
    # once need: shoal raises it (stderr would say if the hard limit stopped it).
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]

    def usual_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))

    # -t 0: 1,000 logins at once keep this machine's 2 cores (shared with sshd) busy for
    # longer than the default 10 s connect timeout; the limit on open files is the point.
    done = subprocess.run(
        [str(BIN / "shoal"), "run", "-F", str(testbed.ssh_config), "-f", "1000", "-t", "0",
         "-S", "-b", "-w", "node[1-2000]", "echo ok"], stdin=subprocess.DEVNULL,
        capture_output=True, preexec_fn=usual_limit, timeout=600, check=False)
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.decode() == block("node[1-2000] (2000)", "ok")


def test_a_reader_that_goes_away_stops_the_run_quietly(testbed: Testbed) -> None:
    # 20 nodes print far more than a pipe holds, so shoal is still writing when the
    # reader goes away, as with | head.
    with subprocess.Popen(
            [str(BIN / "shoal"), "run", "-F", str(testbed.ssh_config), "-w", "node[1-20]",
             "seq 1 3000"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert re.fullmatch(rb"node\d+: 1\n", proc.stdout.readline())
        proc.stdout.close()
        assert proc.wait(timeout=60) == 1
        assert proc.stderr.read() == b""


# -- the progress line --------------------------------------------------------------------------


def test_progress_counts_and_erases_itself() -> None:
    stream = io.BytesIO()
    progress = Progress(stream, 4)
    for event in (Started("n1"), Started("n2"), Started("n3"), Exited("n1", 0),
                  Failed("n2", HostError("n2", "lost")), Failed("n4", HostError("n4", "no"))):
        progress.handle(event)
    progress.clear()  # nothing shown yet: nothing to erase
    progress.draw()
    progress.clear()
    assert stream.getvalue() == b"\rshoal: 3/4 done, 2 failed, 1 running\033[K\r\033[K"


def test_progress_appears_after_its_delay_and_stops() -> None:
    stream = io.BytesIO()

    async def scenario() -> None:
        progress = Progress(stream, 2, delay=0, interval=0)
        progress.start()
        while not stream.getvalue():
            await asyncio.sleep(0)  # let the loop run the timer
        progress.stop()

    asyncio.run(scenario())
    assert stream.getvalue().startswith(b"\rshoal: 0/2 done, 0 failed, 0 running\033[K")
    assert stream.getvalue().endswith(b"\r\033[K")


def test_local_runs_load_neither_asyncssh_nor_prompt_toolkit() -> None:
    code = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from shoal.cli.app import cli\n"
        "r = CliRunner().invoke(cli, ['run', '--transport', 'local', '-b', '-w', 'n[1-2]', "
        "'echo ok'])\n"
        "print(json.dumps([r.output, 'asyncssh' in sys.modules, "
        "'prompt_toolkit' in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True)
    assert json.loads(out.stdout) == [block("n[1-2] (2)", "ok"), False, False]
