"""The zero-install bundle: built by walking imports, run by the loader program in a real
python3 process that has no shoal installed, checked by its SHA-256."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shoal.errors import UsageError
from shoal.tree import messages as m
from shoal.tree.bundle import build_bundle, current, loader_command, transform
from shoal.tree.channel import Channel

#: the gateway's interpreter: the system's python3, where shoal is not installed
PYTHON = shutil.which("python3", path=os.defpath) or "python3"


def test_the_test_interpreter_has_no_shoal() -> None:
    probe = subprocess.run([PYTHON, "-I", "-c", "import shoal"], capture_output=True, text=True)
    assert "No module named 'shoal'" in probe.stderr


def test_the_loader_is_a_few_hundred_bytes_naming_the_bundle() -> None:
    bundle = build_bundle("tree.bundle_echo")
    argv = loader_command(bundle)
    assert argv[:4] == ["python3", "-I", "-B", "-c"]
    program = argv[4]
    assert bundle.sha256 in program and f"n={bundle.size};" in program
    assert len(program) < 600
    assert "'" not in program
    assert len(shlex.join(argv)) < len(program) + 40


def test_the_bundle_runs_and_the_stream_after_it_arrives_intact() -> None:
    bundle = build_bundle("tree.bundle_echo")
    stream = os.urandom(300_000) + b"end\n"
    run = subprocess.run(loader_command(bundle, PYTHON), input=bundle.data + stream,
                         capture_output=True, timeout=60)
    assert (run.returncode, run.stderr) == (0, b"")
    head, outside, rest = run.stdout.split(b"\n", 2)
    assert head.decode() == f"{bundle.sha256} {bundle.size} _Importer"
    assert outside.decode() == "No module named 'shoal.cli' in the gateway's code bundle"
    assert rest == stream


@pytest.mark.parametrize("spoil", [
    pytest.param(lambda data: data[:100] + bytes([data[100] ^ 1]) + data[101:], id="flipped"),
    pytest.param(lambda data: data[:-10], id="truncated"),
])
def test_a_corrupted_bundle_is_refused_with_one_line_and_exit_2(spoil: object) -> None:
    bundle = build_bundle("tree.bundle_echo")
    data = spoil(bundle.data)  # type: ignore[operator]
    run = subprocess.run(loader_command(bundle, PYTHON), input=data, capture_output=True,
                         timeout=60)
    assert run.returncode == 2
    assert run.stdout == b""
    assert run.stderr.decode() == ("shoal gateway: code bundle refused: SHA-256 mismatch "
                                   f"({len(data)} of {bundle.size} bytes read)\n")


class Root(Channel):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.inbox: asyncio.Queue[m.Message] = asyncio.Queue()

    async def recv(self, msg: m.Message) -> None:
        await self.inbox.put(msg)


def test_a_channel_gateway_boots_from_the_bundle_and_answers() -> None:
    bundle = build_bundle("tree.bundle_channel")

    async def scenario() -> float:
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            *loader_command(bundle, PYTHON), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(bundle.data)
        root = Root(proc.stdout, proc.stdin)
        await root.start()
        booted = time.monotonic() - started
        job = m.CTL(job=7, action="shell", target="n[1-3]", data={"command": "uname"})
        root.send(job)
        replies = [await asyncio.wait_for(root.inbox.get(), 10) for _ in range(3)]
        assert replies == [m.ACK(msgid=2, ack=2),
                           m.OUT(msgid=3, job=7, nodes="n[1-3]", data=b'{"command": "uname"}'),
                           m.RET(msgid=4, job=7, nodes="n[1-3]", retcode=0)]
        await root.close()
        await asyncio.wait_for(root.wait_closed(), 10)
        assert root.reason is None
        assert await asyncio.wait_for(proc.wait(), 10) == 0
        return booted

    assert asyncio.run(scenario()) < 10


def test_a_bundle_holds_the_closure_with_synthetic_packages() -> None:
    bundle = build_bundle("shoal.engine.gather")
    modules = bundle.contents()["modules"]
    assert sorted(modules) == [
        "shoal", "shoal.engine", "shoal.engine.gather", "shoal.errors", "shoal.nodeset",
        "shoal.nodeset.names", "shoal.nodeset.nodeset", "shoal.nodeset.parsing",
        "shoal.nodeset.rangeset", "shoal.tree", "shoal.tree.loader"]
    assert modules["shoal.nodeset"] == [True, "from shoal.nodeset.nodeset import NodeSet\n"]
    assert modules["shoal.engine"] == [True, ""]
    assert modules["shoal.engine.gather"][0] is False
    assert bundle.left_out == (
        "shoal.nodeset.nodeset line 1286 (in a function): shoal.nodeset.groupsconf line 51 "
        "imports yaml, which is not in the standard library: the gateway's code may use the "
        "standard library only",)


def test_a_constant_of_a_package_is_kept_in_its_synthetic_body() -> None:
    modules = build_bundle("shoal.tree.channel").contents()["modules"]
    assert modules["shoal"][1] == f"__version__ = {__import__('shoal').__version__!r}\n"


@pytest.mark.parametrize(("entry", "fault"), [
    pytest.param("shoal.nodeset.groupsconf", "shoal.nodeset.groupsconf line 51 imports yaml, "
                 "which is not in the standard library", id="yaml"),
    pytest.param("shoal.cli.app", "shoal.cli.app line 9 imports click, which is not in the "
                 "standard library", id="click"),
    pytest.param("shoal.hosts.ssh", "imports asyncssh.config, which is not in the standard library",
                 id="asyncssh"),
    pytest.param("shoal.nosuch", "the bundle imports shoal.nosuch, which has no Python source",
                 id="missing"),
])
def test_the_walk_refuses_what_a_gateway_cannot_import(entry: str, fault: str) -> None:
    with pytest.raises(UsageError) as info:
        build_bundle(entry)
    assert fault in str(info.value)


def test_transform_keeps_runtime_code_and_drops_typing() -> None:
    source = (
        '"""Doc."""\n'
        "from __future__ import annotations\n"
        "from collections.abc import Iterable, Iterator\n"
        "from typing import TYPE_CHECKING, Any, ClassVar\n"
        "if TYPE_CHECKING:\n"
        "    from typing import Protocol\n"
        "else:\n"
        "    Protocol = object\n"
        "class A(Protocol):\n"
        '    """Doc."""\n'
        "    x: ClassVar[int] = 1\n"
        "    y: int\n"
        "    def f(self, a: Iterable[int], /, *rest: Any, **kw: Any) -> Iterator[int]:\n"
        '        """Doc."""\n'
        "        return iter(a) if isinstance(a, Iterator) else iter([])\n"
    )
    assert transform(source) == (
        "from collections.abc import Iterator\n"
        "Protocol = object\n"
        "\n"
        "class A(Protocol):\n"
        "    x = 1\n"
        "\n"
        "    def f(self, a, /, *rest, **kw):\n"
        "        return iter(a) if isinstance(a, Iterator) else iter([])\n"
    )


def test_current_is_none_outside_a_gateway() -> None:
    assert current() is None


def _bundle_in_new_process(cache: Path) -> str:
    code = "from shoal.tree.bundle import build_bundle; print(build_bundle().sha256)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "XDG_CACHE_HOME": str(cache)}, check=True)
    return done.stdout.strip()


def test_the_gateway_bundle_is_kept_in_a_private_cache_folder(tmp_path: Path) -> None:
    first = _bundle_in_new_process(tmp_path)
    (kept,) = (tmp_path / "shoal").glob("gateway-bundle-*.json")
    assert (tmp_path / "shoal").stat().st_mode & 0o777 == 0o700
    assert _bundle_in_new_process(tmp_path) == first == build_bundle().sha256
    # What is kept is what is sent: a changed copy would be sent as it is, so a folder
    # others may write is never used.
    kept.write_text('{"data": "", "left_out": []}')
    assert _bundle_in_new_process(tmp_path) != first  # the kept (empty) bundle was used
    (tmp_path / "shoal").chmod(0o777)
    assert _bundle_in_new_process(tmp_path) == first  # an open folder is ignored
