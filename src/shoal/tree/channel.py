"""The tree protocol's channel: one end of a link, over a pair of byte streams (asyncio).

:class:`Channel` is the base of both ends, the root's driver and the gateway, as in
ClusterShell's Communication module. It writes the stream with an
:class:`~shoal.tree.codec.Encoder`, reads the peer's with a
:class:`~shoal.tree.codec.Decoder`, and hands each message to :meth:`Channel.recv`,
which subclasses implement. Around that it keeps the session rules of
docs/tree-protocol.md:

* :meth:`~Channel.start` sends ``<channel>`` and ``STA`` and checks the peer's ``STA``:
  another protocol or shoal version is refused with one line naming both sides';
* a message the decoder refuses is answered with ``ERR`` (``about`` its msgid) and the
  channel goes on, unless the peer's XML itself is broken;
* ``HBT`` goes out every ``heartbeat`` seconds; no byte from the peer for ``stall``
  seconds since the last one calls :meth:`~Channel.on_stall`, which aborts the channel
  (before the peer's first byte, while its process starts, ``startup`` seconds if that
  is longer). Setting :attr:`~Channel.heartbeat` or :attr:`~Channel.stall` takes effect
  at once (a gateway adopts its ``CFG``'s);
* :meth:`~Channel.close` sends ``END`` and ``</channel>``; the channel is over when the
  peer's stream ends, and :meth:`~Channel.on_closed` then says how.

Runs on the gateways: standard library and shoal's protocol modules only, Python 3.6
once annotations are stripped (``asyncio.ensure_future``, ``get_event_loop``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from typing import TYPE_CHECKING, Any

from shoal import __version__
from shoal.errors import MessageProcessingError, UsageError
from shoal.tree.codec import Decoder, Encoder
from shoal.tree.messages import END, ERR, HBT, PROTOCOL_VERSION, STA, Message

if TYPE_CHECKING:
    from typing import Protocol

    class ByteReader(Protocol):
        """Where the peer's bytes come from (an :class:`asyncio.StreamReader`)."""

        async def read(self, n: int) -> bytes: ...

    class ByteWriter(Protocol):
        """Where this side's bytes go (an :class:`asyncio.StreamWriter`); ``write_eof``,
        if it has one, is called after ``</channel>``."""

        def write(self, data: bytes) -> None: ...

        async def drain(self) -> None: ...

__all__ = ["CHUNK", "HEARTBEAT", "STALL", "STARTUP", "Channel"]

#: seconds between two heartbeats, unless told otherwise
HEARTBEAT = 5.0
#: seconds of silence from the peer after which it is taken for dead, unless told otherwise
STALL = 30.0
#: seconds the peer may take to send its first byte (its process starting), unless told
#: otherwise or the stall time is longer
STARTUP = 30.0
#: bytes read from the peer at a time
CHUNK = 64 * 1024

logger = logging.getLogger(__name__)


class Channel:
    """One end of a tree link: subclass it and implement :meth:`recv`.

    ``reader`` gives the peer's bytes (``await reader.read(n)``, ``b""`` at the end),
    ``writer`` takes this side's (``write(data)``, ``await drain()``). ``heartbeat`` and
    ``stall`` are in seconds, None to turn either off; ``startup`` is the silence allowed
    before the peer's first byte, when longer than ``stall``. ``decoder`` reads the
    peer's stream (a :class:`~shoal.tree.codec.Decoder` with other limits, say).

    :meth:`recv` is awaited for each message in turn, so it must not block for long
    (start a task instead): while it runs nothing is read, and the peer's heartbeats wait.
    """

    #: the protocol version this side announces in its ``STA``
    protocol_version = PROTOCOL_VERSION
    #: the shoal version this side announces in its ``STA``
    shoal_version = __version__
    #: whether this side's ``STA`` says its process id (a gateway's does)
    announce_pid = False

    def __init__(self, reader: ByteReader, writer: ByteWriter, *,
                 heartbeat: float | None = HEARTBEAT, stall: float | None = STALL,
                 startup: float = STARTUP, decoder: Decoder | None = None) -> None:
        self.reader = reader
        self.writer = writer
        self._heartbeat = heartbeat
        self._stall = stall
        self.startup = startup
        self._rearmed: asyncio.Future[None] | None = None  # wakes the timer
        self.encoder = Encoder()
        self.decoder = decoder or Decoder()
        #: the peer's ``STA``, once read
        self.peer: STA | None = None
        #: why the channel ended (None: cleanly, both ``END``\\s exchanged); see :attr:`done`
        self.reason: str | None = None
        #: the channel is over: the peer's stream ended, or it stalled, or it was aborted
        self.done = False
        self._ending = False  # this side sent END
        self._peer_ended = False  # the peer sent END
        self._last_read = 0.0
        self._heard = False  # a byte came from the peer
        self._handshake: asyncio.Future[None] | None = None
        self._finished: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Future[Any]] = []
        self._closer: asyncio.Future[None] | None = None

    @property
    def heartbeat(self) -> float | None:
        """Seconds between two heartbeats (None: none); a new value holds at once."""
        return self._heartbeat

    @heartbeat.setter
    def heartbeat(self, value: float | None) -> None:
        self._heartbeat = value
        self._rearm()

    @property
    def stall(self) -> float | None:
        """Seconds of silence after which the peer is dead (None: never); a new value
        holds at once, counted from the peer's last byte."""
        return self._stall

    @stall.setter
    def stall(self, value: float | None) -> None:
        self._stall = value
        self._rearm()

    def _rearm(self) -> None:
        """Have the timer look at the heartbeat and stall times again."""
        if self._rearmed is not None and not self._rearmed.done():
            self._rearmed.set_result(None)

    @property
    def closing(self) -> bool:
        """Whether this side sent ``END``: what :meth:`send` gets from now on is dropped."""
        return self._ending

    async def start(self) -> None:
        """Send ``<channel>`` and ``STA``, and wait for the peer's ``STA``.

        From then on, each message of the peer goes to :meth:`recv` (the first ones may
        get there before this returns). Raises
        :class:`~shoal.errors.MessageProcessingError` if the peer announces another
        protocol or shoal version (its ``fault`` names both sides'), or if its stream
        ends, breaks or stalls before its ``STA``: the channel has then sent ``ERR`` and
        ``END`` and is done.
        """
        if self._handshake is not None:
            raise UsageError("Channel.start() was already called")
        loop = asyncio.get_event_loop()
        self._handshake = loop.create_future()
        self._finished = loop.create_future()
        self._last_read = loop.time()
        self.writer.write(self.encoder.header())
        self.send(STA(protocol=self.protocol_version, shoal=self.shoal_version,
                      pid=os.getpid() if self.announce_pid else None))
        self._tasks.append(asyncio.ensure_future(self._read_loop()))
        self._tasks.append(asyncio.ensure_future(self._tick()))
        await self._handshake

    async def recv(self, msg: Message) -> None:
        """Handle one message of the peer: every type but ``STA`` and ``HBT``.

        ``END`` comes here too; once this returns the channel answers it with its own
        ``END`` (if not sent yet) and waits for the peer's stream to end.
        """
        raise NotImplementedError

    def send(self, msg: Message) -> int:
        """Write ``msg`` to the peer and return its msgid; :meth:`drain` waits for room.

        Once this side has sent ``END`` (:attr:`closing`), messages are dropped and 0 is
        returned: the peer no longer reads them. Raises
        :class:`~shoal.errors.MessageProcessingError` for a message that cannot be
        encoded (a control character in an attribute, a payload that is not JSON).
        """
        if self._ending:
            logger.debug("%s dropped: the channel is closing", msg.TYPE)
            return 0
        data = self.encoder.encode(msg)
        if isinstance(msg, END):
            self._ending = True
            data += self.encoder.footer()
        self.writer.write(data)
        if self._ending:
            self._write_eof()
        return msg.msgid

    async def drain(self) -> None:
        """Wait until the writer has room for more (its ``drain()``)."""
        await self.writer.drain()

    async def close(self) -> None:
        """Send ``END`` and ``</channel>`` (once) and end this side's stream.

        The channel is done (:meth:`wait_closed`) when the peer's stream ends too, or
        when the peer stalls.
        """
        if not self._ending:
            self.send(END())
            try:
                await self.drain()
            except OSError as exc:
                logger.debug("the peer's side is gone: %s", exc)

    def abort(self, reason: str) -> None:
        """End the channel now because of ``reason``: send ``END`` if not done yet and
        stop reading the peer (which may be gone or stopped).

        The channel's own tasks (reading, heartbeats) are cancelled; :meth:`on_closed`
        runs in a task of its own.
        """
        self._finish(reason)

    async def wait_closed(self) -> None:
        """Wait until the channel is done and :meth:`on_closed` has returned;
        :attr:`reason` then says how it ended."""
        if self._finished is None:
            raise UsageError("Channel.wait_closed() before start()")
        await asyncio.shield(self._finished)

    async def on_stall(self) -> None:
        """Called when the peer sent nothing for ``stall`` seconds (``startup`` before its
        first byte, if longer): aborts the channel."""
        self.abort(f"no data from the peer for {self._silence():g}s")

    def _silence(self) -> float:
        """The silence allowed now: ``stall``, or ``startup`` before the first byte."""
        assert self.stall is not None
        return self.stall if self._heard else max(self.stall, self.startup)

    async def on_fault(self, error: MessageProcessingError) -> None:
        """Called for each message of the peer refused, once ``ERR`` is sent: logs it."""
        logger.warning("refused from the peer: %s", error)

    async def on_closed(self, reason: str | None) -> None:
        """Called once when the channel is done; ``reason`` None means cleanly."""

    # the machinery

    def _write_eof(self) -> None:
        write_eof = getattr(self.writer, "write_eof", None)
        if write_eof is not None:
            try:
                write_eof()
            except OSError as exc:
                logger.debug("cannot end the stream: %s", exc)

    async def _read_loop(self) -> None:
        try:
            reason = await self._read_all()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            logger.exception("the channel failed")
            reason = f"internal error: {type(exc).__name__}: {exc}"
        self._finish(reason)

    async def _read_all(self) -> str | None:
        """Read and dispatch until the peer's stream is over; why it ended (None:
        cleanly)."""
        loop = asyncio.get_event_loop()
        while True:
            try:
                chunk = await self.reader.read(CHUNK)
            except OSError as exc:
                return f"cannot read from the peer: {exc}"
            self._last_read = loop.time()
            if not self._heard:  # from now on, the stall time holds
                self._heard = True
                self._rearm()
            end = not chunk
            while True:  # until the decoder has nothing more for this chunk
                try:
                    messages = self.decoder.close() if end else self.decoder.feed(chunk)
                except MessageProcessingError as exc:
                    if end and self.decoder.broken:
                        return None if self._peer_ended else "the peer's stream ended " \
                                                             "without END"
                    reason = await self._refuse(exc)
                    if reason is not None:
                        return reason
                    if self.decoder.broken:
                        return exc.fault
                    chunk = b""
                    continue
                chunk = b""
                if not messages:
                    break
                for msg in messages:
                    reason = await self._dispatch(msg)
                    if reason is not None:
                        return reason
            if end or self.decoder.finished:
                return None if self._peer_ended else "the peer's stream ended without END"

    async def _dispatch(self, msg: Message) -> str | None:
        """Hand ``msg`` on; a reason if it ends the channel."""
        if self.peer is None:
            if isinstance(msg, STA):
                return self._greet(msg)
            return self._refuse_handshake(msg.msgid, f"the peer began with {msg.TYPE}, "
                                                     "not STA")
        if isinstance(msg, HBT):
            return None
        if isinstance(msg, STA):
            return await self._refuse(MessageProcessingError(msg.msgid, "a second STA"))
        if isinstance(msg, END):
            self._peer_ended = True
        await self.recv(msg)
        if self._peer_ended:
            await self.close()
        return None

    def _greet(self, sta: STA) -> str | None:
        """Check the peer's ``STA``; a reason if refused."""
        if (sta.protocol, sta.shoal) != (self.protocol_version, self.shoal_version):
            return self._refuse_handshake(
                sta.msgid, f"tree protocol mismatch: this side speaks protocol "
                           f"{self.protocol_version} (shoal {self.shoal_version}), the peer "
                           f"protocol {sta.protocol} (shoal {sta.shoal})")
        self.peer = sta
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_result(None)
        return None

    def _refuse_handshake(self, msgid: int | None, fault: str) -> str:
        """Send ``ERR`` and ``END`` to a peer that does not start as it must; the reason
        (on one line: the peer's versions may hold anything)."""
        error = MessageProcessingError(msgid, fault)
        self.send(ERR(reason=error.fault, about=msgid))
        self.send(END())
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(error)
        return error.fault

    async def _refuse(self, error: MessageProcessingError) -> str | None:
        """Answer a refused message with ``ERR``; a reason if that ends the channel
        (any fault before the peer's ``STA`` does)."""
        if self.peer is None:
            return self._refuse_handshake(error.msgid, error.fault)
        self.send(ERR(reason=error.fault, about=error.msgid))
        await self.on_fault(error)
        return None

    async def _tick(self) -> None:
        """Send heartbeats and watch for a stalled peer; woken early when either time
        changes."""
        loop = asyncio.get_event_loop()
        sent = loop.time()  # the last heartbeat, or the start
        while not self.done:
            now = loop.time()
            wake = []
            if self.stall is not None:
                deadline = self._last_read + self._silence()
                if now >= deadline:
                    await self.on_stall()
                    return
                wake.append(deadline)
            if self.heartbeat is not None and not self._ending:
                if now >= sent + self.heartbeat:
                    self.send(HBT())
                    sent = now
                wake.append(sent + self.heartbeat)
            self._rearmed = loop.create_future()
            if wake:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._rearmed), min(wake) - now)
            else:
                await self._rearmed

    def _finish(self, reason: str | None) -> None:
        """Make the channel done, once: send ``END`` if due, stop the channel's tasks
        (maybe the one running this, which then ends) and run :meth:`on_closed`."""
        if self.done:
            return
        self.done = True
        self.reason = reason
        if not self._ending:
            self.send(END())
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(MessageProcessingError(
                None, reason or "the peer ended the channel before its STA"))
        for task in self._tasks:
            task.cancel()
        self._closer = asyncio.ensure_future(self._closed(reason))

    async def _closed(self, reason: str | None) -> None:
        try:
            await self.on_closed(reason)
        except Exception:
            logger.exception("Channel.on_closed() failed")
        finally:
            if self._finished is not None and not self._finished.done():
                self._finished.set_result(None)
