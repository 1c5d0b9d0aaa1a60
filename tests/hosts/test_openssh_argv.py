"""The openssh transport never lets a node name reach ``ssh``'s or ``scp``'s options.

A name such as ``-oProxyCommand=…`` would run a local command if ``ssh`` read it as an
option. Node-set parsing rejects such names; these tests build the transport directly,
as if one had got past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
from pathlib import Path

import pytest

from shoal.errors import ConnectError, CopyFailed
from shoal.hosts import ConnectOptions
from shoal.hosts.openssh import OpenSSHConnection, OpenSSHTransport
from shoal.testbed import Testbed


def _evil(marker: Path) -> str:
    return f"-oProxyCommand=touch {marker}"


def test_a_node_named_like_an_option_is_a_host_to_ssh(testbed: Testbed, tmp_path: Path) -> None:
    # No master socket: ssh would connect by itself, through the ProxyCommand if it
    # took the name for an option.
    marker = tmp_path / "ran"
    transport = OpenSSHTransport(ConnectOptions(ssh_config=(testbed.ssh_config,)))
    conn = OpenSSHConnection(_evil(marker), transport, str(tmp_path / "no-socket"))

    async def scenario() -> None:
        try:
            await conn.run("node1", stdout=lambda _: None, stderr=lambda _: None)
        finally:
            await transport.close()

    with pytest.raises(ConnectError):
        asyncio.run(scenario())
    assert not marker.exists()


def _recorder(path: Path, log: Path) -> str:
    """A stand-in for ssh or scp that logs its arguments, one call per line, and succeeds.

    It creates the control socket a master (``-M -S PATH``) would.
    """
    path.write_text(f"""#!/bin/sh
printf '%s\\0' "$@" >> {shlex.quote(str(log))}
printf '\\n' >> {shlex.quote(str(log))}
prev=
for arg; do [ "$prev" = -S ] && : > "$arg"; prev=$arg; done
exit 0
""")
    path.chmod(0o755)
    return str(path)


def test_every_call_puts_dashdash_before_the_node(tmp_path: Path) -> None:
    log = tmp_path / "calls"
    node = "-oProxyCommand=true"
    transport = OpenSSHTransport(ssh=_recorder(tmp_path / "ssh", log),
                                 scp=_recorder(tmp_path / "scp", log))
    source = tmp_path / "file"
    source.write_text("x")

    async def scenario() -> None:
        conn = await transport.connect(node)
        await conn.run("true", stdout=lambda _: None, stderr=lambda _: None)
        await conn.put(source, "/tmp/x")
        with contextlib.suppress(CopyFailed):  # the stand-in scp copies nothing
            await conn.get("/tmp/x", tmp_path / "back")
        await conn.close()
        await transport.close()

    asyncio.run(scenario())
    calls = [line.split("\0")[:-1] for line in log.read_text().splitlines()]
    assert len(calls) >= 4
    for argv in calls:
        named = [i for i, arg in enumerate(argv) if arg.startswith(node)]
        assert named and "--" in argv and argv.index("--") < named[0], argv
