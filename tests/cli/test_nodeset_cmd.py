"""``shoal nodeset`` against ClusterShell's ``nodeset``: same arguments, same output.

Each case runs ClusterShell's own command (in-process, from the installed ClusterShell
release) and shoal's, and compares what they print. Group cases use one groups.conf with
a YAML autodir and an upcall source, given to both with ``--groupsconf``.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
import support.cli as support_cli
from click.testing import CliRunner

from shoal.cli.app import cli

CASES = [
    pytest.param(["-f", "node1", "node2", "node3", "node7"], "", id="fold-names"),
    pytest.param(["-f", "node[1-5]", "-x", "node3", "node7"], "", id="exclude-then-add"),
    pytest.param(["-f", "a[1-5]", "-i", "a[2-3]", "a9", "-x", "a2"], "", id="ops-in-order"),
    pytest.param(["-f", "-x", "a3", "a[1-5]"], "", id="option-op-before-args"),
    pytest.param(["-e", "node[1-3]"], "", id="expand"),
    pytest.param(["-e", "-S", "\\n", "n[1-3]"], "", id="expand-newline-sep"),
    pytest.param(["-e", "-S", ",", "n[1-3]", "m[01-02]"], "", id="expand-comma-sep"),
    pytest.param(["-c", "node[1-100]", "-i", "node[50-150]"], "", id="count-intersection"),
    pytest.param(["-f", "n[1-5]", "-X", "n[3-8]"], "", id="xor"),
    pytest.param(["-f", "n8", "n9", "n10", "n08", "n1", "n01"], "", id="mixed-padding"),
    pytest.param(["-f", "n[01-10]", "n[1-3]"], "", id="padded-and-not"),
    pytest.param(["-e", "n[08-11]"], "", id="expand-padded"),
    pytest.param(["-f", "n[1-10]!n[3-5]"], "", id="op-difference"),
    pytest.param(["-f", "n[1-10]&n[5-15]"], "", id="op-intersection"),
    pytest.param(["-f", "n[1-10]^n[5-15]"], "", id="op-xor"),
    pytest.param(["-f", "n[1-4],n[6-9]!n[2-7]"], "", id="op-precedence"),
    pytest.param(["-f", "da[1-2]c[1-3]", "da3c[1-2]"], "", id="2d-fold"),
    pytest.param(["-f", "da1c1", "da1c2", "da2c1", "da2c2"], "", id="2d-fold-names"),
    pytest.param(["-e", "r[1-2]n[1-2]"], "", id="2d-expand"),
    pytest.param(["-c", "r[1-10]n[1-10]p[1-2]"], "", id="3d-count"),
    pytest.param(["--axis", "1", "-f", "da[1-2]c[1-3]", "da3c[1-2]"], "", id="axis-1"),
    pytest.param(["--axis", "2", "-f", "da[1-2]c[1-3]", "da3c[1-2]"], "", id="axis-2"),
    pytest.param(["-R", "-f", "1-5,7", "9"], "", id="rangeset-fold"),
    pytest.param(["-R", "-e", "1-3,08-10"], "", id="rangeset-expand"),
    pytest.param(["-R", "-c", "0-100/2"], "", id="rangeset-count-step"),
    pytest.param(["-R", "-f", "1-10", "-x", "4-5"], "", id="rangeset-exclude"),
    pytest.param(["--autostep", "3", "-f", "n1", "n3", "n5", "n7", "n10"], "", id="autostep-3"),
    pytest.param(["--autostep", "auto", "-f", "n[1-9/2]"], "", id="autostep-auto"),
    pytest.param(["--autostep", "50%", "-f", "n[1-9/2]", "n20"], "", id="autostep-percent"),
    pytest.param(["-R", "--autostep", "3", "-f", "0-30/3"], "", id="rangeset-autostep"),
    pytest.param(["-I", "0-2", "-f", "n[1-10]"], "", id="slice"),
    pytest.param(["-I", "0,5-7", "-e", "n[1-10]"], "", id="slice-expand"),
    pytest.param(["-I", "0-20/5", "-f", "n[1-30]"], "", id="slice-step"),
    pytest.param(["--split", "3", "-f", "n[1-10]"], "", id="split"),
    pytest.param(["--split", "4", "-e", "n[1-6]"], "", id="split-expand"),
    pytest.param(["--split", "20", "-f", "n[1-3]"], "", id="split-more-than-nodes"),
    pytest.param(["--contiguous", "-f", "n[1-3,5-7,9]"], "", id="contiguous"),
    pytest.param(["-O", "%s-ib", "-f", "n[1-3]"], "", id="format-fold"),
    pytest.param(["-O", "%s-ib", "-e", "n[1-3]"], "", id="format-expand"),
    pytest.param(["-O", "count=%s", "-c", "n[1-3]"], "", id="format-count"),
    pytest.param(["--index", "n5", "n[1-10]"], "", id="index"),
    pytest.param(["-f"], "n1 n2\nn3 # a comment\n\nn10\n", id="stdin"),
    pytest.param(["-f", "-"], "n1 n2\n", id="stdin-dash"),
    pytest.param(["-f", "n[1-5]", "-x", "-"], "n2\nn4\n", id="stdin-exclude"),
    pytest.param(["-c"], "", id="stdin-empty"),
    pytest.param(["-f", "n[1-3]\nn5"], "", id="multiline-argument"),
    pytest.param(["-f", "node-[1-3]-ib", "node-4-ib"], "", id="name-with-dashes"),
    pytest.param(["-f", "login", "admin", "node1"], "", id="names-without-index"),
    pytest.param(["-e", "n[1-10/3]"], "", id="expand-step"),
    pytest.param(["-f", "n[0-2]a[1-2]", "n3a1"], "", id="2d-uneven"),
    pytest.param(["-c", "n[1-1000000]"], "", id="count-million"),
]

GROUP_CASES = [
    pytest.param(["-f", "@rack1"], id="group"),
    pytest.param(["-e", "@rack1,@rack2"], id="groups-union"),
    pytest.param(["-f", "@rack1!n2"], id="group-minus-node"),
    pytest.param(["-f", "@other:g1"], id="source-group"),
    pytest.param(["-f", "@*"], id="all-default-source"),
    pytest.param(["-c", "@other:*"], id="all-of-source"),
    pytest.param(["-a", "-f"], id="all-option"),
    pytest.param(["-s", "other", "-f", "@g1"], id="groupsource-option"),
    pytest.param(["-s", "upc", "-f", "@compute"], id="upcall-map"),
    pytest.param(["-l"], id="list"),
    pytest.param(["-ll"], id="list-2"),
    pytest.param(["-lll"], id="list-3"),
    pytest.param(["-l", "n[1-5]"], id="list-of-nodes"),
    pytest.param(["-ll", "n[1-5]"], id="list-2-of-nodes"),
    pytest.param(["-lll", "n[1-5]"], id="list-3-of-nodes"),
    pytest.param(["-s", "other", "-l"], id="list-other-source"),
    pytest.param(["-G", "-s", "other", "-l"], id="list-groupbase"),
    pytest.param(["-L"], id="list-all"),
    pytest.param(["-r", "n[1-8]"], id="regroup"),
    pytest.param(["-r", "n[1-9]"], id="regroup-partial"),
    pytest.param(["-s", "other", "-r", "x[1-6]"], id="regroup-source"),
    pytest.param(["--groupsources"], id="groupsources"),
    pytest.param(["-q", "--groupsources"], id="groupsources-quiet"),
]


def clustershell(args: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch,
                 capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ClusterShell's nodeset in-process; return (exit status, stdout)."""
    from ClusterShell.CLI import Nodeset

    monkeypatch.setattr(sys, "argv", ["nodeset", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        Nodeset.main()
    return int(exc.value.code or 0), capsys.readouterr().out


def shoal(args: list[str], stdin: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["nodeset", *args], input=stdin)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


@pytest.mark.parametrize(("args", "stdin"), CASES)
def test_same_output_as_clustershell(args: list[str], stdin: str,
                                     monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    expected = clustershell(args, stdin, monkeypatch, capsys)
    assert expected[0] == 0, f"ClusterShell failed on {args}"
    assert shoal(args, stdin) == expected


@pytest.fixture(scope="module")
def groupsconf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("groups")
    (root / "groups.d").mkdir()
    (root / "groups.d" / "cluster.yaml").write_text(
        "local:\n"
        "  rack1: 'n[1-4]'\n"
        "  rack2: 'n[5-8]'\n"
        "  login: 'n[9-10]'\n"
        "  all: 'n[1-10]'\n"
        "other:\n"
        "  g1: 'x[1-3]'\n"
        "  g2: 'x[4-6]'\n"
    )
    (root / "upc.txt").write_text("compute: c[1-8]\ngpu: c[7-8],g[1-2]\n")
    conf = root / "groups.conf"
    conf.write_text(
        "[Main]\n"
        "default: local\n"
        f"autodir: {root}/groups.d\n"
        "\n"
        "[upc]\n"
        f"map: sed -n 's/^$GROUP: *\\(.*\\)/\\1/p' {root}/upc.txt\n"
        f"list: sed -n 's/^\\([a-z0-9]*\\):.*/\\1/p' {root}/upc.txt\n"
    )
    return conf


@pytest.mark.parametrize("args", GROUP_CASES)
def test_same_group_output_as_clustershell(args: list[str], groupsconf: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    full = ["--groupsconf", str(groupsconf), *args]
    expected = clustershell(full, "", monkeypatch, capsys)
    assert expected[0] == 0, f"ClusterShell failed on {full}"
    assert shoal(full, "") == expected


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        pytest.param("node[1-", 'node set "node[1-": ', id="missing-bracket"),
        pytest.param("node[5-2]", 'node set "node[5-2]": ', id="reversed-range"),
        pytest.param("a[1-3]b[", 'node set "a[1-3]b[": ', id="second-bracket"),
        pytest.param("@nosuchgroup", 'node set "@nosuchgroup": ', id="unknown-group"),
        pytest.param("node[1-x]", 'node set "node[1-x]": ', id="bad-number"),
    ],
)
def test_bad_expression_exits_2_with_one_line(expr: str, message: str, tmp_path: Path) -> None:
    empty = tmp_path / "groups.conf"
    empty.write_text("[Main]\n")
    result = CliRunner().invoke(cli, ["nodeset", "--groupsconf", str(empty), "-f", expr])
    # The CLI's own entry point prints the error; through click's runner it surfaces as
    # the ShoalError itself, so check both the class contract and main()'s rendering.
    assert result.exception is not None
    text = str(result.exception)
    assert text.startswith(message)
    assert "\n" not in text
    assert " at column " in text


def test_main_prints_error_without_traceback(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-c", "from shoal.cli import main; main()", "nodeset", "-f", "node[1-"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith('shoal: node set "node[1-": ')
    assert "column 5" in proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["node1"], id="no-command"),
        pytest.param(["-f", "-e", "node1"], id="two-commands"),
        pytest.param(["--autostep", "lots", "-f", "n1"], id="bad-autostep"),
        pytest.param(["-R", "-r", "1-3"], id="regroup-rangeset"),
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = CliRunner().invoke(cli, ["nodeset", *args])
    assert result.exit_code == 2



def main_entry(*args: str) -> tuple[int, str, str]:
    """``shoal ARGS`` through its real entry point (``shoal.cli.main``), in this process."""
    got = support_cli.shoal(*args)
    return got.status, got.out.decode(), got.err.decode()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["-f", "--", "-x"], 'node name "-x": must not start with "-"',
                     id="dash-after-double-dash"),
        pytest.param(["-e", "n1", "-oProxyCommand=x"],
                     'node name "-oProxyCommand=x": must not start with "-"', id="dash-operand"),
        pytest.param(["-f", "n[1-3]/x"], 'node name "n1/x": must not hold "/"', id="slash"),
        pytest.param(["-c", "a\tb"], 'node name "a\\tb": must not hold whitespace ("\\t")',
                     id="tab"),
        pytest.param(["-f", "n[1-999999999999999999999]"],
                     f'node set "n[1-999999999999999999999]": more than {sys.maxsize} '
                     "indexes at column 3", id="too-many-nodes-for-len"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    assert main_entry("nodeset", *args) == (2, "", f"shoal: {message}\n")


def test_first_node_set_after_double_dash_is_a_node_set() -> None:
    # After "--", the first argument is a node set even if it reads like -x; later ones
    # are operations as usual.
    assert main_entry("nodeset", "-f", "--", "n[1-3]", "-x", "n2") == (0, "n[1,3]\n", "")
