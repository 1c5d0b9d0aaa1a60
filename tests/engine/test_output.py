"""How a task passes output on and keeps it: long lines in pieces, the cap, kept until the end.

Local transport: the commands run on this machine, no sshd needed.
"""

from __future__ import annotations

import asyncio

import pytest

from shoal.engine import PIECE_SIZE, AsyncTask, Event, Exited, Output, Task, TaskResult
from shoal.errors import UsageError
from shoal.hosts import LocalTransport

#: 16 MiB without a newline
BIG = 16 * 1024 * 1024
BIG_COMMAND = f"head -c {BIG} /dev/zero | tr '\\0' x"


def test_a_16_mib_line_streams_in_pieces_and_nothing_keeps_it() -> None:
    sizes: list[int] = []
    ends: list[bytes] = []

    def on_event(event: Event) -> None:
        if isinstance(event, Output):
            sizes.append(len(event.data))
            if not event.partial:
                ends.append(event.data)

    with Task("n1", LocalTransport(), handlers=[on_event], keep_output=False) as task:
        result = task.run(BIG_COMMAND)
    assert result.ok
    assert (result["n1"].stdout, result["n1"].truncated) == (b"", False)
    assert max(sizes) <= PIECE_SIZE + 1  # no event holds the line whole
    assert sum(sizes) == BIG + 1  # every byte, and the newline the last line lacked
    assert ends == [b"x" * (BIG % PIECE_SIZE or PIECE_SIZE) + b"\n"]


def test_past_max_output_the_kept_output_is_cut_and_the_run_goes_on() -> None:
    seen: dict[str, int] = {}

    def count(event: Event) -> None:
        if isinstance(event, Output):
            seen[event.node] = seen.get(event.node, 0) + len(event.data)

    command = ('if [ "$SHOAL_NODE" = n1 ]; then head -c 5000 /dev/zero | tr "\\0" o; '
               'echo e >&2; else echo small; fi')
    with Task("n[1-3]", LocalTransport(), handlers=[count], max_output=1000) as task:
        result = task.run(command)
        assert seen["n1"] == 5000 + 1 + 2  # handlers still got all of it
        again = task.run("echo next")
    assert result.ok and again.ok
    big = result["n1"]
    assert (big.stdout, big.stderr, big.truncated) == (b"o" * 1000, b"", True)
    assert [(r.stdout, r.truncated) for r in (result["n2"], result["n3"])] == [
        (b"small\n", False)] * 2
    assert not again["n1"].truncated  # the cap is per node and per run


def test_stdout_and_stderr_share_the_cap() -> None:
    with Task("n1", LocalTransport(), max_output=6) as task:
        result = task.run("echo abcd; echo efgh >&2")
    r = result["n1"]
    assert (len(r.stdout) + len(r.stderr), r.truncated) == (6, True)
    assert (b"abcd\n".startswith(r.stdout), b"efgh\n".startswith(r.stderr)) == (True, True)


def test_output_kept_until_the_end_is_in_the_last_event_only() -> None:
    async def scenario() -> tuple[list[Exited], TaskResult]:
        task = AsyncTask("n[1-2]", LocalTransport(), keep_output="until_end")
        exits = []
        async with task:
            async for event in task.stream("echo $SHOAL_NODE; echo err >&2"):
                if isinstance(event, Exited):
                    exits.append(event)
            return exits, await task.run("echo again")

    exits, later = asyncio.run(scenario())
    assert sorted((e.node, e.result.stdout, e.result.stderr, e.result.truncated)
                  for e in exits if e.result is not None) == [
        ("n1", b"n1\n", b"err\n", False), ("n2", b"n2\n", b"err\n", False)]
    assert [(r.stdout, r.stderr) for r in later.values()] == [(b"", b"")] * 2


def test_no_limit_keeps_everything() -> None:
    with Task("n1", LocalTransport(), max_output=None) as task:
        result = task.run("head -c 300000 /dev/zero")
    assert (len(result["n1"].stdout), result["n1"].truncated) == (300_000, False)


def test_max_output_must_not_be_negative() -> None:
    with pytest.raises(UsageError, match="max_output must be 0 or more bytes"):
        AsyncTask("n1", LocalTransport(), max_output=-1)
