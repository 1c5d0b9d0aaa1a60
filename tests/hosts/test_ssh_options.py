"""ssh options and config into connections: every ``-o`` honoured or refused, on the real sshd.

``StrictHostKeyChecking`` (from ``-o`` and from a ``Host`` block), ``ConnectTimeout``,
``ServerAlive*``, ProxyJump hops and chains under the same host-key policy, the parser
of clush's ``-o`` text, and the one place asyncssh's exceptions become shoal's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import asyncssh
import pytest
from asyncssh.config import SSHClientConfig

from shoal.errors import (
    AuthError,
    CommandTimeout,
    ConnectError,
    HostError,
    HostKeyError,
    UsageError,
)
from shoal.hosts import UNSET, ConnectOptions, Transport
from shoal.hosts.openssh import OpenSSHTransport
from shoal.hosts.ssh import SSHTransport
from shoal.hosts.ssherrors import ssh_errors
from shoal.hosts.sshoptions import HONOURED, IMPLIED
from shoal.testbed import Testbed

Factory = Callable[..., Transport]

OTHER_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIGzuHD8K4a9l3YJ8r6mC5rKx0Qnq8oKcVw4x3r0mQ2aB"


@pytest.fixture(params=["ssh", "openssh"])
def make(request: pytest.FixtureRequest) -> Factory:
    """Builds the transport under test; the testbed's ssh config unless told otherwise."""
    kind = SSHTransport if request.param == "ssh" else OpenSSHTransport

    def build(bed: Testbed, **changes: object) -> Transport:
        settings: dict[str, object] = {"ssh_config": bed.ssh_config}
        settings.update(changes)
        return kind(ConnectOptions(**settings))  # type: ignore[arg-type]

    return build


def config(bed: Testbed, path: Path, extra: str) -> Path:
    """``extra`` (first value wins), then the testbed's config, which also serves ``behind*``."""
    path.write_text(extra + "\n" + bed.ssh_config.read_text().replace(
        "Host node* gw*", "Host node* gw* behind* mute*"))
    return path


def echo(t: Transport, node: str, command: str = "echo ok") -> bytes:
    """``command``'s output on ``node`` over a fresh connection, then the transport closed."""

    async def scenario() -> bytes:
        try:
            conn = await asyncio.wait_for(t.connect(node), 30)
            try:
                out = bytearray()
                await conn.run(command, stdout=out.extend, stderr=lambda _: None)
                return bytes(out)
            finally:
                await conn.close()
        finally:
            await t.close()

    return asyncio.run(scenario())


def fingerprint(bed: Testbed) -> str:
    key = asyncssh.read_public_key(str(bed.directory / "host_ed25519.pub"))
    return str(key.get_fingerprint())


def _empty(tmp_path: Path, name: str = "known_hosts") -> Path:
    path = tmp_path / name
    path.write_text("")
    return path


# -- StrictHostKeyChecking ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["no", "accept-new", "off"])
def test_o_strict_host_key_checking_accepts_and_records_an_unknown_key(
        make: Factory, testbed: Testbed, tmp_path: Path, mode: str) -> None:
    known = _empty(tmp_path)
    t = make(testbed, options=[("StrictHostKeyChecking", mode),
                               ("UserKnownHostsFile", str(known))])
    assert echo(t, "node1") == b"ok\n"
    assert "ssh-ed25519" in known.read_text()  # OpenSSH records it, for no as for accept-new


@pytest.mark.parametrize("mode", ["yes", "ask"])
def test_o_strict_host_key_checking_yes_refuses_an_unknown_key(
        make: Factory, testbed: Testbed, tmp_path: Path, mode: str) -> None:
    known = _empty(tmp_path)
    t = make(testbed, options=[("StrictHostKeyChecking", mode),
                               ("UserKnownHostsFile", str(known))])
    with pytest.raises(HostKeyError) as caught:
        echo(t, "node1")
    if isinstance(t, SSHTransport):  # OpenSSH's ssh does not print it in this case
        assert caught.value.fingerprint == fingerprint(testbed)
    assert known.read_text() == ""


def test_o_strict_host_key_checking_no_lets_a_changed_key_through_with_a_warning(
        testbed: Testbed, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{testbed.port} ssh-ed25519 {OTHER_KEY}\n")
    options = [("UserKnownHostsFile", str(known))]
    with pytest.raises(HostKeyError, match="has CHANGED"):
        echo(SSHTransport(ConnectOptions(ssh_config=testbed.ssh_config, options=[
            ("StrictHostKeyChecking", "accept-new"), *options])), "node1")
    with caplog.at_level(logging.WARNING, logger="shoal.hosts.hostkeys"):
        assert echo(SSHTransport(ConnectOptions(ssh_config=testbed.ssh_config, options=[
            ("StrictHostKeyChecking", "no"), *options])), "node1") == b"ok\n"
    assert "[node=node1] host key for" in caplog.text
    assert "has CHANGED" in caplog.text
    assert known.read_text().count("\n") == 1  # the old entry is left alone, as OpenSSH does


def test_openssh_o_strict_host_key_checking_no_lets_a_changed_key_through(
        testbed: Testbed, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{testbed.port} ssh-ed25519 {OTHER_KEY}\n")
    t = OpenSSHTransport(ConnectOptions(ssh_config=testbed.ssh_config, options=[
        ("StrictHostKeyChecking", "no"), ("UserKnownHostsFile", str(known))]))
    assert echo(t, "node1") == b"ok\n"


@pytest.mark.parametrize("mode", ["accept-new", "no"])
def test_strict_host_key_checking_in_a_host_block_is_honoured(
        make: Factory, testbed: Testbed, tmp_path: Path, mode: str) -> None:
    known = _empty(tmp_path)
    cfg = config(testbed, tmp_path / "cfg",
                 f"Host node2\n    StrictHostKeyChecking {mode}\n"
                 f"    UserKnownHostsFile {known}\n"
                 f"Host node3\n    UserKnownHostsFile {known}\n")
    assert echo(make(testbed, ssh_config=cfg), "node2") == b"ok\n"
    assert "ssh-ed25519" in known.read_text()
    known.write_text("")
    with pytest.raises(HostKeyError):  # node3's block leaves the testbed's "yes"
        echo(make(testbed, ssh_config=cfg), "node3")


def test_bad_strict_host_key_checking_is_refused_in_one_line(testbed: Testbed) -> None:
    with pytest.raises(UsageError) as caught:
        SSHTransport(ConnectOptions(options=[("StrictHostKeyChecking", "maybe")]))
    assert str(caught.value) == (
        'ssh option "StrictHostKeyChecking": "maybe" is not yes, accept-new, no or ask')


def test_bad_strict_host_key_checking_in_a_file_fails_the_node(
        testbed: Testbed, tmp_path: Path) -> None:
    cfg = config(testbed, tmp_path / "cfg", "Host node1\n    StrictHostKeyChecking maybe\n")
    with pytest.raises(ConnectError, match=r'^node1: ssh config: StrictHostKeyChecking "maybe"'):
        echo(SSHTransport(ConnectOptions(ssh_config=cfg)), "node1")


# -- ConnectTimeout ----------------------------------------------------------------------


def test_o_connect_timeout_against_a_silent_port(testbed: Testbed, silent_port: int) -> None:
    t = SSHTransport(ConnectOptions(ssh_config=testbed.ssh_config, options=[
        ("Port", str(silent_port)), ("ConnectTimeout", "1")]))
    with pytest.raises(ConnectError, match=r"^node1: connect timed out after 1s$"):
        echo(t, "node1")


def test_connect_timeout_in_a_host_block_is_honoured(
        make: Factory, testbed: Testbed, tmp_path: Path, silent_port: int) -> None:
    cfg = config(testbed, tmp_path / "cfg",
                 f"Host mute*\n    Port {silent_port}\n    ConnectTimeout 1\n")
    start = time.monotonic()
    with pytest.raises(ConnectError, match=r"^mute1: conn.* timed out"):
        echo(make(testbed, ssh_config=cfg), "mute1")
    assert time.monotonic() - start < 8  # not the 10 s default


def test_explicit_connect_timeout_wins_over_the_config(
        testbed: Testbed, tmp_path: Path, silent_port: int) -> None:
    cfg = config(testbed, tmp_path / "cfg",
                 f"Host mute*\n    Port {silent_port}\n    ConnectTimeout 60\n")
    t = SSHTransport(ConnectOptions(ssh_config=cfg, connect_timeout=0.5))
    with pytest.raises(ConnectError, match=r"^mute1: connect timed out after 0.5s$"):
        echo(t, "mute1")


# -- ServerAliveInterval -----------------------------------------------------------------


def test_server_alive_interval_drops_a_server_that_stops_answering(
        testbed: Testbed, shared_tmp_path: Path) -> None:
    """The node's sshd is stopped (SIGSTOP) mid-command: keepalives unanswered end the link.

    Without ServerAliveInterval the command would wait for its 60 s timeout instead.
    """
    t = SSHTransport(ConnectOptions(ssh_config=testbed.ssh_config, options=[
        ("ServerAliveInterval", "1"), ("ServerAliveCountMax", "2")]))
    pid_file = shared_tmp_path / "sleeper"
    shared_tmp_path.chmod(0o777)

    async def scenario() -> tuple[str, float]:
        conn = await t.connect("node4")
        out = bytearray()
        await conn.run("echo $PPID", stdout=out.extend, stderr=lambda _: None)
        sshd = int(out)  # the sshd process that serves this connection
        start = time.monotonic()
        outcome = "no error"
        try:
            await conn.run(f"echo $$ > {pid_file}; kill -STOP {sshd}; exec sleep 60",
                           stdout=lambda _: None, stderr=lambda _: None, timeout=60)
        except HostError as exc:
            outcome = type(exc).__name__
        took = time.monotonic() - start
        await _kill(testbed, sshd, int(pid_file.read_text()))
        await conn.close()
        await t.close()
        return outcome, took

    outcome, took = asyncio.run(scenario())
    assert outcome == "ConnectError"
    assert took < 20


async def _kill(bed: Testbed, *pids: int) -> None:
    """Kill testbed processes, as the login user that owns them."""
    t = SSHTransport(ConnectOptions(ssh_config=bed.ssh_config))
    conn = await t.connect("node5")
    await conn.run(f"kill -KILL {' '.join(map(str, pids))}", stdout=lambda _: None,
                   stderr=lambda _: None)
    await conn.close()
    await t.close()


# -- options refused or honoured ---------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "message"),
    [
        pytest.param(("ForwardX11", "yes"), 'ssh option "ForwardX11=yes": the ssh transport '
                     "never forwards X11 connections; use --transport openssh", id="implied"),
        pytest.param(("ControlPath", "/x"), 'ssh option "ControlPath": not supported by the '
                     "ssh transport; use --transport openssh", id="unsupported"),
        pytest.param(("RemoteCommand", "id"), 'ssh option "RemoteCommand": shoal runs the '
                     "command it is given", id="remote-command"),
        pytest.param(("Host", "x"), 'ssh option "Host": Host blocks belong in a config file: '
                     "pass it with -F FILE", id="host"),
        pytest.param(("Port", "abc"), 'ssh option "Port=abc": Invalid Port integer value: abc',
                     id="bad-value"),
    ],
)
def test_options_the_ssh_transport_does_not_honour_are_refused(
        option: tuple[str, str], message: str) -> None:
    with pytest.raises(UsageError) as caught:
        SSHTransport(ConnectOptions(options=[option]))
    assert str(caught.value) == message


def test_options_stating_what_the_transport_does_are_accepted(testbed: Testbed) -> None:
    t = SSHTransport(ConnectOptions(ssh_config=testbed.ssh_config, options=[
        ("BatchMode", "yes"), ("LogLevel", "ERROR"), ("CheckHostIP", "no"),
        ("ForwardX11", "no"), ("UpdateHostKeys", "no"), ("ControlMaster", "no")]))
    assert echo(t, "node6") == b"ok\n"


def test_openssh_passes_an_option_the_ssh_transport_refuses(testbed: Testbed) -> None:
    options = ConnectOptions(ssh_config=testbed.ssh_config, options=[("VisualHostKey", "no")])
    with pytest.raises(UsageError, match="use --transport openssh"):
        SSHTransport(options)
    assert echo(OpenSSHTransport(options), "node6") == b"ok\n"


def test_every_honoured_option_is_one_asyncssh_parses() -> None:
    parsed = set(SSHClientConfig._handlers)
    assert parsed >= HONOURED, sorted(HONOURED - parsed)
    assert not set(IMPLIED) & HONOURED


def test_ciphers_from_the_options_are_used(testbed: Testbed) -> None:
    # sshd offers no CBC cipher by default: asking for one alone must fail the key exchange
    t = SSHTransport(ConnectOptions(ssh_config=testbed.ssh_config,
                                    options=[("Ciphers", "aes128-cbc")]))
    with pytest.raises(ConnectError, match=r"(?i)^node7: .*encryption"):
        echo(t, "node7")


def test_openssh_reads_every_ssh_config_file(testbed: Testbed, tmp_path: Path,
                                             closed_port: int) -> None:
    # the first file sends node8 to a closed port; only the second one knows the testbed
    first = tmp_path / "first"
    first.write_text(f"Host node8\n    Port {closed_port}\n")
    t = OpenSSHTransport(ConnectOptions(ssh_config=[first, testbed.ssh_config]))
    with pytest.raises(ConnectError, match=r"^node8: connection refused$"):
        echo(t, "node8")
    assert echo(OpenSSHTransport(ConnectOptions(ssh_config=[first, testbed.ssh_config])),
                "node9") == b"ok\n"


# -- ProxyJump ---------------------------------------------------------------------------


@pytest.mark.parametrize("jump", ["gw1", "gw1,gw2", "gw1,gw2,gw3"])
def test_proxyjump_hops_and_chains(testbed: Testbed, tmp_path: Path, jump: str) -> None:
    cfg = config(testbed, tmp_path / "cfg", f"Host behind\n    ProxyJump {jump}\n")
    assert echo(SSHTransport(ConnectOptions(ssh_config=cfg)), "behind") == b"ok\n"


@pytest.mark.parametrize(
    ("jump", "unknown_at"),
    [pytest.param("gw1", "gw1", id="hop"),
     pytest.param("gw1,gw2", "gw1", id="chain-first"),
     pytest.param("gw1,gw2", "gw2", id="chain-last")],
)
def test_unknown_host_key_at_a_jump_host_is_refused_with_its_fingerprint(
        testbed: Testbed, tmp_path: Path, jump: str, unknown_at: str) -> None:
    known = _empty(tmp_path)
    cfg = config(testbed, tmp_path / "cfg", f"Host behind\n    ProxyJump {jump}\n"
                 f"Host {unknown_at}\n    UserKnownHostsFile {known}\n")
    with pytest.raises(HostKeyError) as caught:
        echo(SSHTransport(ConnectOptions(ssh_config=cfg)), "behind")
    print_ = fingerprint(testbed)
    assert caught.value.fingerprint == print_
    assert str(caught.value) == (
        f"behind: via {unknown_at}: host key for [127.0.0.1]:{testbed.port} is not known "
        f"(ssh-ed25519 {print_}); check it, then trust it with --accept-new-host-keys")


def test_jump_hosts_follow_strict_host_key_checking_too(testbed: Testbed,
                                                        tmp_path: Path) -> None:
    known = _empty(tmp_path)
    cfg = config(testbed, tmp_path / "cfg", "Host behind\n    ProxyJump gw1,gw2\n")
    t = SSHTransport(ConnectOptions(ssh_config=cfg, options=[
        ("StrictHostKeyChecking", "accept-new"), ("UserKnownHostsFile", str(known))]))
    assert echo(t, "behind") == b"ok\n"
    assert known.read_text().count("\n") == 1  # one key, the same sshd behind every name


def test_a_chain_hop_gets_the_connect_timeout(testbed: Testbed, tmp_path: Path,
                                              silent_port: int) -> None:
    cfg = config(testbed, tmp_path / "cfg", "Host behind\n    ProxyJump gw1,mute1\n"
                 f"Host mute1\n    Port {silent_port}\n")
    t = SSHTransport(ConnectOptions(ssh_config=cfg, connect_timeout=0.5))
    with pytest.raises(ConnectError, match=r"^behind: via mute1: connect timed out after 0.5s$"):
        echo(t, "behind")


def test_a_chain_hop_gets_its_own_config_and_the_run_s_keys(
        testbed: Testbed, tmp_path: Path) -> None:
    # the testbed's identity comes from -i alone: every hop must offer it
    text = testbed.ssh_config.read_text().replace(
        "Host node* gw*", "Host node* gw* behind").replace(
        f"    IdentityFile {testbed.identity}\n", "")
    cfg = tmp_path / "cfg"
    cfg.write_text(f"Host behind\n    ProxyJump gw1,gw2\n{text}")
    with pytest.raises(AuthError, match=r"^behind: via gw1: authentication failed"):
        echo(SSHTransport(ConnectOptions(ssh_config=cfg)), "behind")
    t = SSHTransport(ConnectOptions(ssh_config=cfg, identities=testbed.identity))
    assert echo(t, "behind") == b"ok\n"


# -- ConnectOptions ----------------------------------------------------------------------


def test_paths_may_be_str_or_path_one_or_many() -> None:
    one = ConnectOptions(ssh_config="/etc/cfg", identities=Path("/k"), known_hosts="~/kh")
    assert one.ssh_config == (Path("/etc/cfg"),)
    assert one.identities == (Path("/k"),)
    assert one.known_hosts == Path("~/kh").expanduser()
    many = ConnectOptions(ssh_config=["/a", Path("/b")], identities=("/k1", "/k2"))
    assert many.ssh_config == (Path("/a"), Path("/b"))
    assert many.identities == (Path("/k1"), Path("/k2"))
    assert ConnectOptions().connect_timeout is UNSET
    assert ConnectOptions(ssh_config="/a") == ConnectOptions(ssh_config=[Path("/a")])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("-oStrictHostKeyChecking=no", {"options": (("StrictHostKeyChecking", "no"),)},
                     id="o-joined"),
        pytest.param("-o 'ConnectTimeout 3'", {"options": (("ConnectTimeout", "3"),)},
                     id="o-space"),
        pytest.param("-o Port = 2222", None, id="o-spaced-equals"),
        pytest.param("-p 2222 -i ~/k -F cfg", {"port": 2222,
                                              "identities": (Path("~/k").expanduser(),),
                                              "ssh_config": (Path("cfg").absolute(),)},
                     id="p-i-F"),  # absolute: ssh reads a relative Include under ~/.ssh
    ],
)
def test_from_ssh_options(text: str, expected: dict[str, object] | None) -> None:
    if expected is None:
        with pytest.raises(UsageError):
            ConnectOptions.from_ssh_options(text)
        return
    parsed = ConnectOptions.from_ssh_options(text)
    for name, value in expected.items():
        assert getattr(parsed, name) == value


def test_an_o_inside_an_o_is_one_line_error() -> None:
    with pytest.raises(UsageError) as caught:
        ConnectOptions.from_ssh_options("-o -oStrictHostKeyChecking=no")
    assert str(caught.value) == (
        'ssh options "-o -oStrictHostKeyChecking=no": "-oStrictHostKeyChecking" is not an '
        "ssh option name (write -oKey=Value)")


# -- the error mapping -------------------------------------------------------------------


def _raised(exc: BaseException, **kwargs: object) -> BaseException:
    try:
        with ssh_errors("node7", **kwargs):  # type: ignore[arg-type]
            raise exc
    except BaseException as mapped:
        return mapped
    raise AssertionError("nothing raised")


@pytest.mark.parametrize(
    ("original", "kwargs", "kind", "text"),
    [
        pytest.param(asyncssh.HostKeyNotVerifiable("Host key is not trusted"), {},
                     HostKeyError, "node7: Host key is not trusted", id="host-key"),
        pytest.param(asyncssh.PermissionDenied("no more methods"), {}, AuthError,
                     "node7: authentication failed: no more methods", id="auth"),
        pytest.param(asyncio.TimeoutError(), {"connect_timeout": 2.0}, ConnectError,
                     "node7: connect timed out after 2s", id="connect-timeout"),
        pytest.param(asyncio.TimeoutError(), {"command_timeout": 3.0}, CommandTimeout,
                     "node7: command timed out after 3s", id="command-timeout"),
        pytest.param(asyncssh.ConnectionLost("gone"), {"doing": "connection lost"},
                     ConnectError, "node7: connection lost: gone", id="asyncssh-error"),
        pytest.param(ConnectionRefusedError(111, "Connect call failed"), {}, ConnectError,
                     "node7: connection refused", id="os-error"),
        pytest.param(PermissionError(13, "Permission denied", "/cfg"), {"doing": "ssh config"},
                     ConnectError, "node7: ssh config: permission denied: /cfg", id="os-file"),
        pytest.param(ValueError("Invalid Port integer value: x"), {}, ConnectError,
                     "node7: Invalid Port integer value: x", id="value-error"),
    ],
)
def test_ssh_errors_map_most_specific_first_and_chain(
        original: BaseException, kwargs: dict[str, object], kind: type[BaseException],
        text: str) -> None:
    mapped = _raised(original, **kwargs)
    assert type(mapped) is kind
    assert str(mapped) == text
    assert mapped.__cause__ is original


def test_ssh_errors_pass_shoal_errors_and_cancellation_unchanged() -> None:
    own = HostKeyError("node7", "SHA256:x", "refused")
    assert _raised(own) is own
    cancelled = asyncio.CancelledError()
    assert _raised(cancelled) is cancelled


def test_ssh_errors_prefer_the_policy_s_host_key_error() -> None:
    policy = HostKeyError("node7", "SHA256:x", "host key for node7 is not known")
    mapped = _raised(asyncssh.HostKeyNotVerifiable("not trusted"), refused_key=lambda: policy)
    assert mapped is policy
    assert isinstance(mapped.__cause__, asyncssh.HostKeyNotVerifiable)


def test_a_proxyjump_loop_is_an_error_not_a_hang(testbed: Testbed, tmp_path: Path) -> None:
    cfg = config(testbed, tmp_path / "cfg", "Host behind\n    ProxyJump gw1\n"
                 "Host gw1\n    ProxyJump gw2\nHost gw2\n    ProxyJump gw1\n")
    with pytest.raises(ConnectError) as caught:
        echo(SSHTransport(ConnectOptions(ssh_config=cfg)), "behind")
    assert str(caught.value) == "behind: via gw1: via gw2: ProxyJump loops: gw1 -> gw2 -> gw1"
