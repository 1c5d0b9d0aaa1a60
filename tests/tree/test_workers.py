"""A gateway's own targets: fan-out, shared stdin, timeouts, aborts, ssh failures, tar copies."""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path

import pytest
from support.gates import Gate, Signal
from support.processes import wait_gone

from shoal.hosts.sshargv import option_args
from shoal.testbed import Testbed
from shoal.tree.workers import (
    Launcher,
    LocalJob,
    LocalLauncher,
    Outcome,
    SSHLauncher,
    Stdin,
    copy_command,
    rcopy_command,
)


class Recorder:
    """What a job reported: output per (node, stream), outcomes per node."""

    def __init__(self) -> None:
        self.output: dict[tuple[str, str], bytearray] = {}
        self.outcomes: dict[str, Outcome] = {}

    def on_output(self, node: str, stream: str, data: bytes) -> None:
        self.output.setdefault((node, stream), bytearray()).extend(data)

    def on_done(self, node: str, outcome: Outcome) -> None:
        assert node not in self.outcomes, f"{node} reported twice"
        self.outcomes[node] = outcome

    def out(self, node: str, stream: str = "stdout") -> bytes:
        return bytes(self.output.get((node, stream), b""))


def _job(rec: Recorder, nodes: Iterable[str], command: str, *,
         launcher: Launcher | None = None, **kwargs: object) -> LocalJob:
    return LocalJob(launcher or LocalLauncher(), nodes, command, on_output=rec.on_output,
                    on_done=rec.on_done, **kwargs)  # type: ignore[arg-type]


def _nodes(count: int) -> list[str]:
    return [f"n{i}" for i in range(1, count + 1)]


def test_each_target_runs_with_its_name_and_reports_its_return_code() -> None:
    rec = Recorder()

    async def scenario() -> None:
        job = _job(rec, _nodes(5), 'echo "$SHOAL_NODE"; echo oops >&2; exit ${SHOAL_NODE#n}')
        job.start()
        await job.wait()

    asyncio.run(scenario())
    for i, node in enumerate(_nodes(5), 1):
        assert rec.out(node) == f"{node}\n".encode()
        assert rec.out(node, "stderr") == b"oops\n"
        assert rec.outcomes[node] == Outcome(i)


def test_no_more_targets_run_at_once_than_the_fanout(tmp_path: Path) -> None:
    rec = Recorder()
    marks = tmp_path / "running"
    marks.mkdir()
    # each target counts the targets running beside it, itself included
    command = (f'touch {marks}/$SHOAL_NODE; ls {marks} | wc -l; sleep 0.05; '
               f'rm {marks}/$SHOAL_NODE')

    async def scenario() -> None:
        job = _job(rec, _nodes(12), command, fanout=3)
        job.start()
        await job.wait()

    asyncio.run(scenario())
    counts = [int(rec.out(node)) for node in _nodes(12)]
    assert max(counts) <= 3
    assert all(o == Outcome(0) for o in rec.outcomes.values())


def test_every_target_reads_the_whole_stdin_even_one_that_starts_late() -> None:
    rec = Recorder()

    async def scenario() -> None:
        stdin = Stdin(waiting=4)
        job = _job(rec, _nodes(4), "cat", fanout=2, stdin=stdin)
        stdin.write(b"first\n")
        job.start()
        await asyncio.sleep(0)
        stdin.write(b"second\n")
        stdin.close()
        await job.wait()
        assert stdin.size == 0  # every target read it all: nothing is kept

    asyncio.run(scenario())
    assert {node: rec.out(node) for node in _nodes(4)} == {
        node: b"first\nsecond\n" for node in _nodes(4)}


def test_a_target_past_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    rec = Recorder()
    signal = Signal(tmp_path)
    pids = tmp_path / "pids"

    async def scenario() -> None:
        job = _job(rec, ["n1", "n2"],
                   f'if [ $SHOAL_NODE = n1 ]; then sleep 300 & echo $! > {pids}; '
                   f'{signal.command}; wait; fi', timeout=1.0)
        job.start()
        await job.wait()

    asyncio.run(scenario())
    assert signal.wait(1)
    assert rec.outcomes == {"n1": Outcome(130, "timeout", "timed out"), "n2": Outcome(0)}
    assert wait_gone(int(pids.read_text()))


def test_abort_kills_running_targets_and_reports_the_others_interrupted(
        tmp_path: Path) -> None:
    rec = Recorder()
    signal = Signal(tmp_path)
    gate = Gate(tmp_path)
    pids = tmp_path / "pids"
    pids.mkdir()

    async def scenario() -> None:
        job = _job(rec, _nodes(5), f"echo $$ > {pids}/$SHOAL_NODE; {signal.command}; "
                                   f"{gate.command}", fanout=2)
        job.start()
        # wait in a thread: the loop must go on running the job
        assert await asyncio.get_running_loop().run_in_executor(None, signal.wait, 2)
        first = int((pids / "n1").read_text())
        job.abort(["n1", "n3", "n4"])
        assert await asyncio.get_running_loop().run_in_executor(None, wait_gone, first)
        gate.open()
        await job.wait()

    asyncio.run(scenario())
    interrupted = Outcome(130, "interrupted", "interrupted")
    assert rec.outcomes["n1"] == interrupted
    assert rec.outcomes["n3"] == rec.outcomes["n4"] == interrupted
    assert rec.outcomes["n2"] == rec.outcomes["n5"] == Outcome(0)
    assert not (pids / "n3").exists() and not (pids / "n4").exists()


def test_a_signal_death_is_128_plus_the_signal() -> None:
    rec = Recorder()

    async def scenario() -> None:
        job = _job(rec, ["n1"], "kill -TERM $$")
        job.start()
        await job.wait()

    asyncio.run(scenario())
    assert rec.outcomes["n1"] == Outcome(143)


def test_a_program_that_cannot_start_makes_the_target_unreachable() -> None:
    rec = Recorder()

    async def scenario() -> None:
        job = _job(rec, ["n1"], "true", launcher=SSHLauncher("/nonexistent/ssh", []))
        job.start()
        await job.wait()

    asyncio.run(scenario())
    outcome = rec.outcomes["n1"]
    assert outcome.status == "unreachable"
    assert outcome.reason.startswith("cannot start /nonexistent/ssh: ")


def test_ssh_runs_on_the_testbed_and_a_refused_port_is_unreachable_with_the_reason(
        testbed: Testbed, closed_port: int) -> None:
    rec = Recorder()
    args = option_args(config=str(testbed.ssh_config))

    async def scenario() -> None:
        ok = _job(rec, ["node1", "node2"], "echo hi; exit 3", launcher=SSHLauncher("ssh", args))
        bad = _job(rec, ["127.0.0.1"], "true",
                   launcher=SSHLauncher("ssh", [*args, "-p", str(closed_port)]))
        ok.start()
        bad.start()
        await ok.wait()
        await bad.wait()

    asyncio.run(scenario())
    assert rec.out("node1") == rec.out("node2") == b"hi\n"
    assert rec.outcomes["node1"] == rec.outcomes["node2"] == Outcome(3)
    refused = rec.outcomes["127.0.0.1"]
    assert (refused.retcode, refused.status) == (255, "unreachable")
    assert refused.reason == "connection refused"  # in the words of a flat run


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o640
            info.mtime = 1_000_000_000
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _run_copy(rec: Recorder, nodes: list[str], command: str, data: bytes) -> None:
    async def scenario() -> None:
        stdin = Stdin(waiting=len(nodes))
        job = _job(rec, nodes, command, stdin=stdin)
        job.start()
        for start in range(0, len(data), 1000):
            stdin.write(data[start:start + 1000])
        stdin.close()
        await job.wait()

    asyncio.run(scenario())


def test_copy_extracts_one_stream_on_every_target_and_preserve_keeps_times_and_modes(
        tmp_path: Path) -> None:
    rec = Recorder()
    data = _tar({"dir/file": b"content\n"})
    for preserve in (False, True):
        dests = {node: tmp_path / f"{node}-{preserve}" for node in _nodes(3)}
        for dest in dests.values():
            dest.mkdir()
        # each target copies into its own folder, the local launcher naming it
        command = f'umask 077 && cd "{tmp_path}/$SHOAL_NODE-{preserve}" && ' + \
            copy_command(".", ["dir"], False, preserve)
        _run_copy(rec, _nodes(3), command, data)
        for node, dest in dests.items():
            assert rec.outcomes.pop(node) == Outcome(0), rec.out(node, "stderr")
            copied = dest / "dir" / "file"
            assert copied.read_bytes() == b"content\n"
            assert (copied.stat().st_mtime == 1_000_000_000) is preserve
            # the source's bits, less the umask unless preserved (as scp: root too)
            assert copied.stat().st_mode & 0o777 == (0o640 if preserve else 0o600)


def test_copy_refuses_members_that_climb_out_or_are_absolute(tmp_path: Path) -> None:
    rec = Recorder()
    dest = tmp_path / "dest"
    dest.mkdir()
    outside = tmp_path / "evil"
    data = _tar({"../evil": b"x", f"{tmp_path}/evil2": b"y", "fine": b"z"})
    _run_copy(rec, ["n1"], copy_command(str(dest), ["fine"], False, False), data)
    assert not outside.exists() and not (tmp_path / "evil2").exists()
    # the stream failed: nothing is placed, and the staging folder is gone
    assert list(dest.iterdir()) == []
    assert rec.out("n1", "stderr") == \
        f"copy to {dest}/fine failed: member name contains '..'\n".encode()
    assert rec.outcomes["n1"] == Outcome(1)


def test_copy_places_each_source_as_a_flat_copy_does(tmp_path: Path) -> None:
    rec = Recorder()
    dest = tmp_path / "dest"
    (dest / "tree" / "old").mkdir(parents=True)
    (dest / "motd").symlink_to(tmp_path / "elsewhere")
    data = _tar({"tree/new": b"n", "motd": b"m", "hosts": b"h"})
    _run_copy(rec, ["n1"], copy_command(str(dest), ["tree", "motd"], True, False), data)
    assert rec.outcomes["n1"] == Outcome(0), rec.out("n1", "stderr")
    # directories merge, a symlink at a file's name is replaced, never followed, and
    # members that are not among the names stay out
    assert sorted(p.name for p in dest.iterdir()) == ["motd", "tree"]
    assert sorted(p.name for p in (dest / "tree").iterdir()) == ["new", "old"]
    assert (dest / "motd").read_bytes() == b"m" and not (dest / "motd").is_symlink()
    assert not (tmp_path / "elsewhere").exists()


@pytest.mark.parametrize("dest, names, into, reason", [
    pytest.param("file", ["a", "b"], True, "copy to {t}/file failed: not a directory",
                 id="into-a-file"),
    pytest.param("gone/", ["a"], True, "copy to {t}/gone/ failed: no such directory",
                 id="into-a-missing-folder"),
    pytest.param("gone/a", ["a"], False,
                 "copy to {t}/gone/a failed: no such file or directory", id="no-parent"),
    pytest.param("file/a", ["a"], False,
                 "copy to {t}/file/a failed: not a directory", id="parent-a-file"),
    pytest.param("sub", ["a"], False, "copy to {t}/sub/a failed: is a directory",
                 id="file-over-a-folder"),
])
def test_copy_refusals_say_what_a_flat_copy_says(tmp_path: Path, dest: str,
                                                 names: list[str], into: bool,
                                                 reason: str) -> None:
    rec = Recorder()
    (tmp_path / "file").write_bytes(b"keep")
    (tmp_path / "sub" / "a").mkdir(parents=True)
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    data = _tar({"a": b"x", "b": b"y"})
    _run_copy(rec, ["n1"], copy_command(f"{tmp_path}/{dest}", names, into, False), data)
    assert rec.outcomes["n1"] == Outcome(1)
    assert rec.out("n1", "stderr") == f"{reason.format(t=tmp_path)}\n".encode()
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # no staging folder left


def test_rcopy_sends_a_tar_stream_of_the_source(tmp_path: Path) -> None:
    rec = Recorder()
    source = tmp_path / "src"
    source.mkdir()
    (source / "a").write_bytes(b"alpha")
    os.chmod(source / "a", 0o600)

    async def scenario() -> None:
        job = _job(rec, ["n1"], rcopy_command(str(source) + "/"))
        job.start()
        await job.wait()

    asyncio.run(scenario())
    assert rec.outcomes["n1"] == Outcome(0)
    with tarfile.open(fileobj=io.BytesIO(rec.out("n1"))) as tar:
        names = sorted(tar.getnames())
        member = tar.getmember("src/a")
        extracted = tar.extractfile(member)
        assert extracted is not None and extracted.read() == b"alpha"
    assert names == ["src", "src/a"]
    assert member.mode == 0o600


def test_rcopy_follows_symlinks_to_files_and_marks_those_to_folders(tmp_path: Path) -> None:
    rec = Recorder()
    (tmp_path / "outside").write_bytes(b"out of the copy")
    source = tmp_path / "src"
    source.mkdir()
    (source / "file").symlink_to(tmp_path / "outside")
    (source / "folder").symlink_to(tmp_path)
    (tmp_path / "named").symlink_to(source)  # the source named: followed

    async def scenario() -> None:
        job = _job(rec, ["n1"], rcopy_command(str(tmp_path / "named")))
        job.start()
        await job.wait()

    asyncio.run(scenario())
    assert rec.outcomes["n1"] == Outcome(0), rec.out("n1", "stderr")
    with tarfile.open(fileobj=io.BytesIO(rec.out("n1"))) as tar:
        first = {m.name: m for m in tar.getmembers()}
        extracted = tar.extractfile(first["named/file"])
        assert extracted is not None and extracted.read() == b"out of the copy"
    assert sorted(first) == ["named", "named/file"] and first["named"].isdir()
    with tarfile.open(fileobj=io.BytesIO(_second(rec.out("n1")))) as tar:
        links = [(m.name, m.issym(), m.linkname) for m in tar.getmembers()]
    assert links == [("named/folder", True, ".")]


def _second(stream: bytes) -> bytes:
    """The archive after the first one in ``stream``, past the first's zero blocks."""
    with tarfile.open(fileobj=io.BytesIO(stream)) as tar:
        tar.getmembers()
        end = tar.offset
    while stream[end:end + 512] == bytes(512):
        end += 512
    return stream[end:]


def test_aborted_and_timed_out_commands_behind_ssh_end_there_too(
        testbed: Testbed, shared_tmp_path: Path) -> None:
    # `sleep 300` neither reads nor writes: ending the local ssh alone leaves it running
    rec = Recorder()
    args = option_args(config=str(testbed.ssh_config))
    folder = shared_tmp_path / "pids"
    folder.mkdir()
    folder.chmod(0o777)
    started = Signal(shared_tmp_path)
    command = f"sleep 300 & echo $$ $! >> {folder}/pids; {started.command}; wait; echo over"

    async def scenario() -> None:
        aborted = _job(rec, ["node1", "node2"], command, launcher=SSHLauncher("ssh", args))
        timed = _job(rec, ["node3"], command, launcher=SSHLauncher("ssh", args), timeout=10)
        aborted.start()
        timed.start()
        assert await asyncio.get_running_loop().run_in_executor(None, started.wait, 3, 60)
        aborted.abort()
        await aborted.wait()
        await timed.wait()

    try:
        asyncio.run(scenario())
    finally:
        started.close()
    interrupted = Outcome(130, "interrupted", "interrupted")
    assert rec.outcomes == {"node1": interrupted, "node2": interrupted,
                            "node3": Outcome(130, "timeout", "timed out")}
    pids = [int(pid) for pid in (folder / "pids").read_text().split()]
    assert len(pids) == 6
    assert [pid for pid in pids if not wait_gone(pid)] == []
    assert all(rec.out(node, "stderr") == b"" for node in ("node1", "node2", "node3"))


class _NoisyLauncher(LocalLauncher):
    """A local stand-in for a remote login whose shell start-up files print to stderr."""

    mark = b"shoal-group-test"

    def tracked(self, command: str) -> str:
        return f"echo login noise >&2; printf '{self.mark.decode()} %d\\n' $$ >&2; {command}"

    def stop_argv(self, node: str, group: int) -> list[str]:
        return ["sh", "-c", f"kill -TERM -{group}"]


def test_the_group_line_is_taken_out_of_stderr_and_nothing_else() -> None:
    rec = Recorder()

    async def scenario() -> None:
        job = _job(rec, ["n1"], "echo out; echo err >&2; echo shoal-group-test 7 >&2",
                   launcher=_NoisyLauncher())
        job.start()
        await job.wait()

    asyncio.run(scenario())
    assert rec.outcomes["n1"] == Outcome(0)
    assert rec.out("n1") == b"out\n"
    assert rec.out("n1", "stderr") == b"login noise\nerr\nshoal-group-test 7\n"
