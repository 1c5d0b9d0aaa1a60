"""Channel: two ends over a real socket pair, and a raw peer that misbehaves."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from shoal import __version__
from shoal.errors import MessageProcessingError
from shoal.tree import messages as m
from shoal.tree.channel import Channel
from shoal.tree.codec import Decoder, Encoder

#: no test waits longer than this for anything
DEADLINE = 10.0


class Recorder(Channel):
    """A channel that queues what it receives and notes how it ended."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inbox: asyncio.Queue[m.Message] = asyncio.Queue()
        self.faults: list[str] = []
        self.closed_with: list[str | None] = []

    async def recv(self, msg: m.Message) -> None:
        await self.inbox.put(msg)

    async def on_fault(self, error: MessageProcessingError) -> None:
        self.faults.append(str(error))

    async def on_closed(self, reason: str | None) -> None:
        self.closed_with.append(reason)

    async def next(self) -> m.Message:
        return await asyncio.wait_for(self.inbox.get(), DEADLINE)


Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]


async def socket_pair() -> tuple[Streams, Streams]:
    left, right = socket.socketpair()
    return await asyncio.open_connection(sock=left), await asyncio.open_connection(sock=right)


def run(scenario: Callable[[Streams, Streams], Awaitable[None]]) -> None:
    async def main() -> None:
        a, b = await socket_pair()
        try:
            await asyncio.wait_for(scenario(a, b), DEADLINE)
        finally:
            for _, writer in (a, b):
                writer.close()
    asyncio.run(main())


class RawPeer:
    """The other end written by hand: sends bytes, decodes what the channel sends."""

    def __init__(self, streams: Streams) -> None:
        self.reader, self.writer = streams
        self.encoder = Encoder()
        self.decoder = Decoder()
        self.pending: list[m.Message] = []

    def send(self, *msgs: m.Message, raw: bytes = b"") -> None:
        self.writer.write(raw + b"".join(self.encoder.encode(x) for x in msgs))

    def greet(self) -> None:
        self.writer.write(self.encoder.header())
        self.send(m.STA(protocol=1, shoal=__version__))

    async def next(self) -> m.Message:
        while not self.pending:
            chunk = await self.reader.read(65536)
            self.pending.extend(self.decoder.feed(chunk) if chunk else self.decoder.close())
        return self.pending.pop(0)

    async def expect(self, type_: type[m.Message]) -> Any:
        while True:
            msg = await self.next()
            if isinstance(msg, type_):
                return msg
            assert isinstance(msg, (m.STA, m.HBT)), msg


def test_two_channels_talk_and_close_cleanly() -> None:
    async def scenario(a: Streams, b: Streams) -> None:
        root, gateway = Recorder(*a), Recorder(*b)
        await asyncio.gather(root.start(), gateway.start())
        assert gateway.peer == m.STA(msgid=1, protocol=1, shoal=__version__)
        job = m.CTL(job=1, action="shell", target="n[1-2]", data={"command": "true"})
        msgid = root.send(job)
        got = await gateway.next()
        assert got == job and msgid == 2
        gateway.send(m.ACK(ack=msgid))
        gateway.send(m.OUT(job=1, nodes="n[1-2]", data=b"\x00binary\xff"))
        assert await root.next() == m.ACK(msgid=2, ack=2)
        assert await root.next() == m.OUT(msgid=3, job=1, nodes="n[1-2]", data=b"\x00binary\xff")
        await root.close()
        assert isinstance(await gateway.next(), m.END)
        await root.wait_closed()
        await gateway.wait_closed()
        assert (root.reason, gateway.reason) == (None, None)
        assert root.closed_with == gateway.closed_with == [None]
        assert isinstance(await root.next(), m.END)  # the gateway's answer
        assert root.faults == gateway.faults == []
    run(scenario)


def test_a_version_mismatch_is_refused_in_one_line_naming_both_sides() -> None:
    class Newer(Recorder):
        protocol_version = 2
        shoal_version = "9.9"

    async def scenario(a: Streams, b: Streams) -> None:
        old, new = Recorder(*a), Newer(*b)
        results = await asyncio.gather(old.start(), new.start(), return_exceptions=True)
        assert [str(r) for r in results] == [
            f"message 1: tree protocol mismatch: this side speaks protocol 1 (shoal "
            f"{__version__}), the peer protocol 2 (shoal 9.9)",
            f"message 1: tree protocol mismatch: this side speaks protocol 2 (shoal 9.9), the "
            f"peer protocol 1 (shoal {__version__})",
        ]
        await old.wait_closed()
        assert old.done and old.reason is not None and "\n" not in old.reason
    run(scenario)


def test_the_peer_hears_err_and_end_on_a_mismatch() -> None:
    async def scenario(a: Streams, b: Streams) -> None:
        channel, peer = Recorder(*a), RawPeer(b)
        peer.writer.write(peer.encoder.header())
        peer.send(m.STA(protocol=1, shoal="0.0.1"))
        with pytest.raises(MessageProcessingError, match=r"\(shoal 0\.0\.1\)"):
            await channel.start()
        err = await peer.expect(m.ERR)
        assert err.about == 1 and "peer protocol 1 (shoal 0.0.1)" in err.reason
        assert isinstance(await peer.expect(m.END), m.END)
        assert peer.decoder.finished
    run(scenario)


def test_a_bad_message_is_answered_with_err_and_the_channel_goes_on() -> None:
    async def scenario(a: Streams, b: Streams) -> None:
        channel, peer = Recorder(*a), RawPeer(b)
        peer.greet()
        await channel.start()
        peer.send(raw=b'<message type="ACK" msgid="2" ack="x"></message>\n'
                      b'<message type="NOP" msgid="3"></message>\n')
        peer.encoder.last_msgid = 3
        peer.send(m.ACK(ack=7))
        assert await channel.next() == m.ACK(msgid=4, ack=7)
        first, second = await peer.expect(m.ERR), await peer.expect(m.ERR)
        assert (first.about, first.reason) == (2, 'attribute "ack" is not an integer: "x"')
        assert (second.about, second.reason) == (3, 'unknown type "NOP"')
        assert channel.faults == ['message 2: attribute "ack" is not an integer: "x"',
                                  'message 3: unknown type "NOP"']
        assert not channel.done
        peer.send(m.END())
        peer.writer.write(peer.encoder.footer())
        await channel.wait_closed()
        assert channel.reason is None
    run(scenario)


def test_broken_xml_is_answered_then_the_channel_ends() -> None:
    async def scenario(a: Streams, b: Streams) -> None:
        channel, peer = Recorder(*a), RawPeer(b)
        peer.greet()
        await channel.start()
        peer.send(raw=b"<message type='HBT' msgid='2'></mess>\n")
        err = await peer.expect(m.ERR)
        assert err.reason.startswith("not well-formed XML (mismatched tag) at line 4")
        await peer.expect(m.END)
        await channel.wait_closed()
        assert channel.reason == err.reason
    run(scenario)


def test_garbage_instead_of_a_stream_fails_the_start() -> None:
    async def scenario(a: Streams, b: Streams) -> None:
        channel, peer = Recorder(*a), RawPeer(b)
        peer.writer.write(b"bash: python3: command not found\n")
        with pytest.raises(MessageProcessingError, match="not well-formed XML"):
            await channel.start()
        await channel.wait_closed()
    run(scenario)


def test_a_first_message_other_than_sta_fails_the_start() -> None:
    async def scenario(a: Streams, b: Streams) -> None:
        channel, peer = Recorder(*a), RawPeer(b)
        peer.writer.write(peer.encoder.header())
        peer.send(m.HBT())
        with pytest.raises(MessageProcessingError, match="the peer began with HBT, not STA"):
            await channel.start()
    run(scenario)


def test_a_silent_peer_is_found_stalled() -> None:
    async def scenario(a: Streams, b: Streams) -> None:
        channel, peer = Recorder(*a, heartbeat=None, stall=0.2), RawPeer(b)
        peer.greet()
        await channel.start()
        await channel.wait_closed()
        assert channel.closed_with == ["no data from the peer for 0.2s"]
        assert isinstance(await peer.expect(m.END), m.END)
    run(scenario)


def test_a_peer_that_never_starts_fails_the_start_when_it_stalls() -> None:
    async def scenario(a: Streams, b: Streams) -> None:
        channel = Recorder(*a, stall=0.1, startup=0.3)  # its start may take the longer
        started = asyncio.get_running_loop().time()
        with pytest.raises(MessageProcessingError, match=r"no data from the peer for 0\.3s"):
            await channel.start()
        assert asyncio.get_running_loop().time() - started >= 0.3
    run(scenario)


def test_a_new_heartbeat_holds_at_once_and_stall_counts_from_the_last_byte() -> None:
    async def scenario(a: Streams, b: Streams) -> None:
        slow = Recorder(*a, heartbeat=30, stall=None)
        watcher = Recorder(*b, heartbeat=None, stall=0.5)
        await asyncio.gather(slow.start(), watcher.start())
        slow.heartbeat = 0.05  # not after the 30 s under way
        loop = asyncio.get_running_loop()
        started, beats = loop.time(), slow.encoder.last_msgid
        while slow.encoder.last_msgid < beats + 40:  # 40 beats: four stall times at least
            assert not watcher.done
            await asyncio.sleep(0.02)
        assert loop.time() - started > 0.5 * 3
        slow.heartbeat = None  # silent from now on: dead within the stall time
        silent = loop.time()
        await asyncio.wait_for(watcher.wait_closed(), 5)
        assert watcher.closed_with == ["no data from the peer for 0.5s"]
        assert 0.4 <= loop.time() - silent <= 1.5
    run(scenario)


def test_heartbeats_keep_a_quiet_channel_alive() -> None:
    async def scenario(a: Streams, b: Streams) -> None:
        quiet = Recorder(*a, heartbeat=0.02, stall=None)
        watcher = Recorder(*b, heartbeat=None, stall=0.3)
        await asyncio.gather(quiet.start(), watcher.start())
        loop = asyncio.get_running_loop()
        started = loop.time()
        while quiet.encoder.last_msgid < 30:  # 30 beats: twice the stall time at least
            await asyncio.sleep(0.02)
        assert loop.time() - started > 0.3 * 1.5
        assert not watcher.done
        await quiet.close()
        await watcher.wait_closed()
        assert watcher.reason is None
    run(scenario)


def test_the_peer_vanishing_without_end_is_said() -> None:
    async def scenario(a: Streams, b: Streams) -> None:
        channel, peer = Recorder(*a), RawPeer(b)
        peer.greet()
        await channel.start()
        peer.writer.close()
        await channel.wait_closed()
        assert channel.closed_with == ["the peer's stream ended without END"]
    run(scenario)


def test_start_twice_is_refused() -> None:
    async def scenario(a: Streams, b: Streams) -> None:
        channel, peer = Recorder(*a), RawPeer(b)
        peer.greet()
        await channel.start()
        with pytest.raises(Exception, match=r"start\(\) was already called"):
            await channel.start()
        channel.abort("test over")
        await channel.wait_closed()
        assert channel.reason == "test over"
        assert channel.send(m.HBT()) == 0
    run(scenario)
