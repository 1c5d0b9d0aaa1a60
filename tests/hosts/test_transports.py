"""The SSH transports against the real loopback sshd: commands, errors, host keys, copies.

Behaviour both transports share runs against each (the ``make`` fixture); what only the
asyncssh one does (signals, ProxyJump through shared gateways, shared config parses) is
tested on it alone.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
from collections.abc import Callable
from pathlib import Path

import asyncssh
import pytest

from shoal.errors import (
    AuthError,
    CommandTimeout,
    ConnectError,
    CopyFailed,
    HostKeyError,
    UsageError,
)
from shoal.hosts import (
    Connection,
    ConnectOptions,
    LocalTransport,
    Transport,
    make_transport,
    raise_nofile_limit,
)
from shoal.hosts.openssh import OpenSSHTransport
from shoal.hosts.ssh import SSHTransport
from shoal.testbed import Testbed

Factory = Callable[..., Transport]


def transport(bed: Testbed, **changes: object) -> SSHTransport:
    return SSHTransport(_options(bed, changes))


def _options(bed: Testbed, changes: dict[str, object]) -> ConnectOptions:
    options: dict[str, object] = {"ssh_config": (bed.ssh_config,), "connect_timeout": 10.0}
    options.update(changes)
    return ConnectOptions(**options)  # type: ignore[arg-type]


@pytest.fixture(params=["ssh", "openssh"])
def make(request: pytest.FixtureRequest) -> Factory:
    """Builds the transport under test from the testbed and ConnectOptions changes."""
    kind = SSHTransport if request.param == "ssh" else OpenSSHTransport

    def build(bed: Testbed, **changes: object) -> Transport:
        return kind(_options(bed, changes))

    return build


async def run(conn: Connection, command: str, **kwargs: object) -> tuple[int, bytes, bytes]:
    out, err = bytearray(), bytearray()
    rc = await conn.run(command, stdout=out.extend, stderr=err.extend, **kwargs)  # type: ignore[arg-type]
    return rc, bytes(out), bytes(err)


async def one_shot(t: Transport, node: str, command: str,
                   **kwargs: object) -> tuple[int, bytes, bytes]:
    try:
        conn = await t.connect(node)
        try:
            return await run(conn, command, **kwargs)
        finally:
            await conn.close()
    finally:
        await t.close()


def test_command_output_and_status(make: Factory, testbed: Testbed) -> None:
    rc, out, err = asyncio.run(one_shot(make(testbed), "node1",
                                        "echo out; echo err >&2; exit 3"))
    assert (rc, out, err) == (3, b"out\n", b"err\n")


def test_stdin_is_sent_then_closed(make: Factory, testbed: Testbed) -> None:
    rc, out, _ = asyncio.run(one_shot(make(testbed), "node2", "cat; echo end",
                                      stdin=b"line1\nline2\n"))
    assert (rc, out) == (0, b"line1\nline2\nend\n")


def test_no_stdin_means_empty_closed_stdin(make: Factory, testbed: Testbed) -> None:
    rc, out, _ = asyncio.run(one_shot(make(testbed), "node2", "wc -c"))
    assert (rc, out.strip()) == (0, b"0")


def test_bytes_that_are_not_utf8_pass_through(make: Factory, testbed: Testbed) -> None:
    _, out, _ = asyncio.run(one_shot(make(testbed), "node3", r"printf '\377\376ok\200\n'"))
    assert out == b"\xff\xfeok\x80\n"


def test_killed_by_signal_is_128_plus_the_signal(testbed: Testbed) -> None:
    rc, _, _ = asyncio.run(one_shot(transport(testbed), "node4", "kill -TERM $$"))
    assert rc == 128 + signal.SIGTERM


def test_timeout_stops_the_command_and_keeps_the_connection(testbed: Testbed) -> None:
    async def scenario() -> tuple[str, tuple[int, bytes, bytes]]:
        t = transport(testbed)
        conn = await t.connect("node5")
        try:
            with pytest.raises(CommandTimeout) as caught:
                await run(conn, "sleep 30", timeout=0.3)
            return str(caught.value), await run(conn, "echo still here")
        finally:
            await conn.close()

    message, after = asyncio.run(scenario())
    assert message == "node5: command timed out after 0.3s"
    assert after == (0, b"still here\n", b"")


def test_one_connection_serves_many_commands(make: Factory, testbed: Testbed) -> None:
    async def scenario() -> set[bytes]:
        conn = await make(testbed).connect("node6")
        try:
            # SSH_CONNECTION names the client's source port: one connection, one port.
            return {(await run(conn, "echo $SSH_CONNECTION"))[1] for _ in range(5)}
        finally:
            await conn.close()

    assert len(asyncio.run(scenario())) == 1


def test_closed_port_is_refused(make: Factory, testbed: Testbed, closed_port: int) -> None:
    with pytest.raises(ConnectError, match=r"^node7: connection refused$"):
        asyncio.run(one_shot(make(testbed, port=closed_port), "node7", "true"))


def test_silent_listener_times_out(make: Factory, testbed: Testbed, silent_port: int) -> None:
    t = make(testbed, port=silent_port, connect_timeout=0.5)
    with pytest.raises(ConnectError, match=r"^node8: connect timed out after 0.5s$"):
        asyncio.run(one_shot(t, "node8", "true"))


def test_down_alias_of_the_testbed_is_refused(testbed: Testbed) -> None:
    with pytest.raises(ConnectError, match=r"^down1: connection refused$") as caught:
        asyncio.run(one_shot(transport(testbed), "down1", "true"))
    assert not isinstance(caught.value, HostKeyError)


def test_wrong_user_is_an_auth_error(make: Factory, testbed: Testbed) -> None:
    with pytest.raises(AuthError, match=r"^node9: authentication failed"):
        asyncio.run(one_shot(make(testbed, user="nosuchuser"), "node9", "true"))


def test_dash_o_options_win_over_the_config(make: Factory, testbed: Testbed) -> None:
    t = make(testbed, options=(("User", "nosuchuser"),))
    with pytest.raises(AuthError):
        asyncio.run(one_shot(t, "node9", "true"))


def test_unknown_host_key_is_refused_with_fingerprint_and_remedy(
        testbed: Testbed, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyError) as caught:
        asyncio.run(one_shot(transport(testbed, known_hosts=empty), "node10", "true"))
    fingerprint = _fingerprint(testbed)
    assert caught.value.fingerprint == fingerprint
    assert str(caught.value) == (
        f"node10: host key for [127.0.0.1]:{testbed.port} is not known "
        f"(ssh-ed25519 {fingerprint}); check it, then trust it with --accept-new-host-keys")
    assert empty.read_text() == ""


def test_accept_new_records_the_key_then_strict_checking_passes(
        make: Factory, testbed: Testbed, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    rc, _, _ = asyncio.run(one_shot(
        make(testbed, known_hosts=known, accept_new_host_keys=True), "node11", "true"))
    assert rc == 0
    recorded = known.read_text().split()
    assert recorded[:2] == [f"[127.0.0.1]:{testbed.port}", "ssh-ed25519"]
    rc, _, _ = asyncio.run(one_shot(make(testbed, known_hosts=known), "node11", "true"))
    assert rc == 0


def test_changed_host_key_is_refused_even_with_accept_new(
        testbed: Testbed, tmp_path: Path) -> None:
    other = "AAAAC3NzaC1lZDI1NTE5AAAAIGzuHD8K4a9l3YJ8r6mC5rKx0Qnq8oKcVw4x3r0mQ2aB"
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{testbed.port} ssh-ed25519 {other}\n")
    t = transport(testbed, known_hosts=known, accept_new_host_keys=True)
    with pytest.raises(HostKeyError) as caught:
        asyncio.run(one_shot(t, "node12", "true"))
    assert "has CHANGED" in str(caught.value)
    assert f'ssh-keygen -f {known} -R "[127.0.0.1]:{testbed.port}"' in str(caught.value)
    assert known.read_text().count("\n") == 1


def test_proxyjump_through_a_gateway(testbed: Testbed, tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(f"Host behind\n    ProxyJump gw1\n\n{testbed.ssh_config.read_text()}"
                      .replace("Host node* gw*", "Host node* gw* behind"))
    rc, out, _ = asyncio.run(one_shot(transport(testbed, ssh_config=(config,)), "behind",
                                      "echo through"))
    assert (rc, out) == (0, b"through\n")


def test_put_and_get_files_and_directories(make: Factory, testbed: Testbed, shared_tmp_path: Path,
                                           tmp_path: Path) -> None:
    source = tmp_path / "tree"
    (source / "sub").mkdir(parents=True)
    (source / "sub" / "script").write_text("#!/bin/sh\necho hi\n")
    (source / "sub" / "script").chmod(0o750)
    (source / "plain").write_bytes(b"\x00\xffdata")
    remote = shared_tmp_path / "in"
    remote.mkdir(mode=0o777)
    remote.chmod(0o777)
    back = tmp_path / "back"

    async def scenario() -> tuple[int, bytes, bytes]:
        conn = await make(testbed).connect("node13")
        try:
            await conn.put(source, str(remote), preserve=True)
            result = await run(conn, f"{remote}/tree/sub/script")
            await conn.get(f"{remote}/tree", back, preserve=True)
            return result
        finally:
            await conn.close()

    assert asyncio.run(scenario()) == (0, b"hi\n", b"")
    assert (back / "plain").read_bytes() == b"\x00\xffdata"
    assert (back / "sub" / "script").stat().st_mode & 0o777 == 0o750


def test_copy_errors_name_the_node_and_path(testbed: Testbed, tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_text("x")

    async def scenario() -> None:
        conn = await transport(testbed).connect("node14")
        try:
            await conn.put(source, "/nonexistent-dir/f")
        finally:
            await conn.close()

    with pytest.raises(CopyFailed, match=r"^node14: copy to /nonexistent-dir/f failed: "):
        asyncio.run(scenario())


def _fingerprint(bed: Testbed) -> str:
    key = asyncssh.read_public_key(str(bed.directory / "host_ed25519.pub"))
    return str(key.get_fingerprint())


def test_open_file_limit_is_raised_for_wide_runs() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 4096) if hard != resource.RLIM_INFINITY else 4096
    try:
        assert raise_nofile_limit(want) >= want
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= want
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert os.cpu_count()


def test_nodes_alike_share_a_parse_but_each_gets_its_own_blocks(
        testbed: Testbed, tmp_path: Path, closed_port: int) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(f"Host node15\n    Port {closed_port}\n\n{testbed.ssh_config.read_text()}")
    assert _run_each(transport(testbed, ssh_config=(config,)), ["node1", "node15", "node2"]) == [
        "ok", "node15: connection refused", "ok"]


def test_match_blocks_are_resolved_node_by_node(testbed: Testbed, tmp_path: Path,
                                                closed_port: int) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(f"Match host node16\n    Port {closed_port}\n\n"
                      f"{testbed.ssh_config.read_text()}")
    assert _run_each(transport(testbed, ssh_config=(config,)), ["node1", "node16", "node2"]) == [
        "ok", "node16: connection refused", "ok"]


def _run_each(t: SSHTransport, nodes: list[str]) -> list[str]:
    async def scenario() -> list[str]:
        outcomes = []
        for node in nodes:
            try:
                conn = await t.connect(node)
            except ConnectError as exc:
                outcomes.append(str(exc))
                continue
            outcomes.append((await run(conn, "echo ok"))[1].decode().strip())
            await conn.close()
        await t.close()
        return outcomes

    return asyncio.run(scenario())


def test_openssh_refuses_unknown_host_keys(testbed: Testbed, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    t = OpenSSHTransport(_options(testbed, {"known_hosts": empty}))
    with pytest.raises(HostKeyError, match=r"--accept-new-host-keys"):
        asyncio.run(one_shot(t, "node10", "true"))


def test_openssh_timeout_keeps_the_master(testbed: Testbed) -> None:
    async def scenario() -> tuple[int, bytes, bytes]:
        t = OpenSSHTransport(_options(testbed, {}))
        conn = await t.connect("node5")
        try:
            with pytest.raises(CommandTimeout):
                await run(conn, "sleep 30", timeout=0.3)
            return await run(conn, "echo still here")
        finally:
            await conn.close()
            await t.close()

    assert asyncio.run(scenario()) == (0, b"still here\n", b"")


def test_transports_by_name(testbed: Testbed) -> None:
    options = _options(testbed, {})
    assert isinstance(make_transport("ssh", options), SSHTransport)
    assert isinstance(make_transport("openssh", options), OpenSSHTransport)
    assert isinstance(make_transport("local", options), LocalTransport)
    expected = r'^unknown transport "rsh": choose ssh, openssh or local$'
    with pytest.raises(UsageError, match=expected):
        make_transport("rsh", options)
