"""How the engine reports what went wrong on a node: never a bug disguised as a dead node."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from support.gates import Signal

from shoal.engine import AsyncTask
from shoal.errors import InternalError, Interrupted
from shoal.hosts import LocalConnection, LocalTransport


class _Buggy(LocalConnection):
    """Runs nothing: a stand-in for a bug inside shoal while it works on the node."""

    async def run(self, command: str, **kwargs: object) -> int:  # type: ignore[override]
        raise ValueError("bad state")


class _BuggyTransport(LocalTransport):
    async def connect(self, node: str) -> LocalConnection:
        return _Buggy(node) if node == "n2" else LocalConnection(node)


def test_an_unexpected_exception_is_an_internal_error_with_its_traceback_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with AsyncTask("n[1-3]", _BuggyTransport()) as task:
            result = await task.run("echo ok")
        assert str(result.nodes("ok")) == "n[1,3]"
        assert str(result.nodes("internal")) == "n2"
        assert str(result.nodes("unreachable")) == ""
        error = result["n2"].error
        assert isinstance(error, InternalError) and isinstance(error.error, ValueError)
        assert str(error) == ("n2: internal error: ValueError: bad state "
                              "(a bug in shoal: the traceback is in the log)")

    with caplog.at_level(logging.ERROR, logger="shoal.engine.task"):
        asyncio.run(scenario())
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "internal error on n2"
    assert record.exc_info is not None and record.exc_info[0] is ValueError


def test_interrupted_nodes_carry_the_interrupted_error(tmp_path: Path) -> None:
    started = Signal(tmp_path)

    async def scenario() -> None:
        async with AsyncTask("n[1-2]", LocalTransport()) as task:
            running = asyncio.ensure_future(task.run(f"{started.command}; exec sleep 60"))
            assert await asyncio.to_thread(started.wait, 2)
            task.interrupt()
            result = await running
        assert str(result.nodes("interrupted")) == "n[1-2]"
        assert all(isinstance(r.error, Interrupted) for r in result.values())

    asyncio.run(scenario())
