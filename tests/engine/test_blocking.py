"""The blocking face: same methods as AsyncTask, context carried, fork and Ctrl-C survived."""

from __future__ import annotations

import contextvars
import inspect
import json
import signal
import subprocess
import sys
import textwrap

import pytest

from shoal import _loop
from shoal.engine import AsyncTask, Event, Exited, Output, Task
from shoal.hosts import LocalTransport

REQUEST = contextvars.ContextVar("REQUEST", default="unset")


def _public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(cls).items()
            if inspect.isfunction(member) and not name.startswith("_")}


def test_task_and_async_task_have_the_same_methods_and_parameters() -> None:
    blocking, asynchronous = _public_methods(Task), _public_methods(AsyncTask)
    assert sorted(blocking) == sorted(asynchronous)
    for name, sig in asynchronous.items():
        assert list(blocking[name].parameters.values()) == list(sig.parameters.values()), name
    assert (list(inspect.signature(Task).parameters.values())
            == list(inspect.signature(AsyncTask).parameters.values()))


def test_context_variables_reach_the_loop() -> None:
    seen: list[str] = []

    def handler(event: Event) -> None:
        if isinstance(event, Exited):
            seen.append(REQUEST.get())

    token = REQUEST.set("deploy-42")
    try:
        with Task("n[1-3]", LocalTransport(), handlers=[handler]) as task:
            assert task.run("true").ok
    finally:
        REQUEST.reset(token)
    assert seen == ["deploy-42"] * 3


def test_stream_yields_events_and_stops_the_command_when_left_early() -> None:
    with Task("n[1-2]", LocalTransport()) as task:
        printed: dict[str, bytes] = {}
        for event in task.stream("echo one; echo two"):
            if isinstance(event, Output):
                printed[event.node] = printed.get(event.node, b"") + event.data
        assert printed == {"n1": b"one\ntwo\n", "n2": b"one\ntwo\n"}
        for event in task.stream("echo first; exec sleep 60"):
            if isinstance(event, Output):
                break  # leaving the loop interrupts the sleeps and waits for them
        # the task is free again: a new action can start at once
        assert task.run("echo again").gather() != []


def _script(body: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(body)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_forked_child_gets_a_loop_of_its_own_and_the_parent_keeps_its_own() -> None:
    proc = _script("""
        import os, warnings
        warnings.simplefilter("ignore")  # fork() with a thread running: that is the point
        from shoal.engine import Task
        from shoal.hosts import LocalTransport
        with Task("n[1-2]", LocalTransport()) as task:
            assert task.run("true").ok        # the parent's loop thread is running
            pid = os.fork()
            if pid == 0:
                with Task("c[1-2]", LocalTransport()) as child:
                    ok = child.run("echo child").ok
                os._exit(0 if ok else 1)
            _, status = os.waitpid(pid, 0)
            print("child", os.waitstatus_to_exitcode(status))
            print("parent", task.run("echo parent").ok)
    """)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.split("\n")[:2] == ["child 0", "parent True"]


def test_ctrl_c_returns_once_the_interrupted_nodes_are_cleaned_up() -> None:
    # A transport whose command never ends and whose stop takes a while: Ctrl-C must
    # not return before every node has finished stopping.
    proc = _script("""
        import asyncio, json, os, time
        from shoal.engine import Task
        from shoal.hosts.base import Connection, Transport

        cleaned = []

        class Slow(Connection):
            def __init__(self, node):
                self.node = node
            async def run(self, command, *, stdout, stderr, stdin=None, timeout=None):
                try:
                    os.write(1, b"started\\n")
                    await asyncio.Event().wait()
                except asyncio.CancelledError:
                    await asyncio.to_thread(time.sleep, 0.3)  # a slow remote stop
                    cleaned.append(self.node)
                    raise
            async def put(self, local, remote, *, preserve=False): ...
            async def get(self, remote, local, *, preserve=False): ...
            async def close(self): ...

        class SlowTransport(Transport):
            async def connect(self, node):
                return Slow(node)

        task = Task("n[1-3]", SlowTransport())
        try:
            task.run("forever")
        except KeyboardInterrupt:
            print(json.dumps(sorted(cleaned)), flush=True)
    """)
    assert proc.stdout is not None
    for _ in range(3):
        assert proc.stdout.readline() == "started\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out) == ["n1", "n2", "n3"]


def test_blocking_call_on_the_loop_names_the_async_twin() -> None:
    task = Task("n1", LocalTransport())

    async def inside() -> None:
        task.run("true")

    with pytest.raises(RuntimeError, match=r"await AsyncTask\.run instead"):
        _loop.run(inside())
