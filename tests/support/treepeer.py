"""A test's end of a tree channel: a real gateway process driven over pipes with the codec.

:class:`GatewayPeer` starts a gateway (``python -m shoal.tree.gateway``, ``shoal
gateway`` or the bundle's loader), speaks to it as the root would and collects what it
sends back, counting the bytes (the uplink).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

from shoal import __version__
from shoal.nodeset import NO_GROUPS, NodeSet
from shoal.tree.codec import Decoder, Encoder
from shoal.tree.messages import (
    ACK,
    CFG,
    END,
    ERR,
    HBT,
    PROTOCOL_VERSION,
    RET,
    STA,
    TIM,
    Message,
)

#: seconds any one expected message may take
DEADLINE = 60.0

GATEWAY = [sys.executable, "-m", "shoal.tree.gateway"]


class GatewayPeer:
    """The root's side of a gateway process's channel, for tests.

    ``argv`` runs the gateway; ``preamble`` is written to its stdin first (a code
    bundle). Messages the gateway sends are decoded by a reader thread into
    :attr:`inbox`; :attr:`uplink` counts the bytes it wrote.
    """

    def __init__(self, argv: Sequence[str] = GATEWAY, preamble: bytes = b"",
                 env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, start_new_session=True)
        self.encoder = Encoder()
        self.decoder = Decoder()
        self.inbox: queue.Queue[Message | None] = queue.Queue()
        self.uplink = 0  # bytes the gateway sent
        self.stderr = bytearray()
        self.received: list[Message] = []
        self._lock = threading.RLock()
        #: clear it and the gateway's stdout is no longer read, as if the root stalled
        self.reading = threading.Event()
        self.reading.set()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()
        if preamble:
            self.write(preamble)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            self.reading.wait()
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            self.uplink += len(chunk)
            for msg in self.decoder.feed(chunk):
                self.inbox.put(msg)
        self.inbox.put(None)

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        fd = self.proc.stderr.fileno()
        while chunk := os.read(fd, 65536):
            self.stderr.extend(chunk)

    def write(self, data: bytes) -> None:
        """Write raw bytes to the gateway's stdin."""
        assert self.proc.stdin is not None
        with self._lock:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def beat(self, every: float) -> None:
        """Send a heartbeat every ``every`` seconds from now on, as a live root does."""
        def run() -> None:
            while not self._stop.wait(every):
                try:
                    self.send(HBT())
                except (BrokenPipeError, ValueError):
                    return
        threading.Thread(target=run, daemon=True).start()

    def send(self, msg: Message) -> int:
        """Encode and send ``msg``; its msgid."""
        with self._lock:
            self.write(self.encoder.encode(msg))
        return msg.msgid

    def next(self, timeout: float = DEADLINE) -> Any:
        """The next message (heartbeats skipped), None once the stream has ended."""
        while True:
            msg = self.inbox.get(timeout=timeout)
            if msg is None:
                self.inbox.put(None)  # stays ended
                return None
            if msg.TYPE != "HBT":
                self.received.append(msg)
                return msg

    def expect(self, kind: type[Message], timeout: float = DEADLINE) -> Any:
        """The next message, which must be of type ``kind``."""
        msg = self.next(timeout)
        assert isinstance(msg, kind), f"expected {kind.TYPE}, got {msg!r}; " \
                                      f"stderr: {bytes(self.stderr)!r}"
        return msg

    def open(self, settings: dict[str, Any] | None = None, topology: Any = None,
             name: str = "gw") -> None:
        """Start the channel: header, STA (checked both ways), CFG and its ACK."""
        self.write(self.encoder.header())
        self.send(STA(protocol=PROTOCOL_VERSION, shoal=__version__))
        sta = self.expect(STA)
        assert (sta.protocol, sta.shoal) == (PROTOCOL_VERSION, __version__)
        msgid = self.send(CFG(gateway=name, data={"topology": topology,
                                                  "settings": settings or {}}))
        ack = self.expect(ACK)
        assert ack.ack == msgid

    def job(self, job: int, targets: str, timeout: float = DEADLINE) -> list[Any]:
        """Every message of ``job`` until each of ``targets`` has its RET or TIM."""
        waiting = set(NodeSet(targets, resolver=NO_GROUPS))
        found: list[Any] = []
        while waiting:
            msg = self.next(timeout)
            assert msg is not None, f"the gateway ended; stderr: {bytes(self.stderr)!r}"
            assert not isinstance(msg, ERR), msg
            if getattr(msg, "job", None) != job:
                continue
            found.append(msg)
            if isinstance(msg, (RET, TIM)):
                ended = set(NodeSet(msg.nodes, resolver=NO_GROUPS))
                assert ended <= waiting, f"{ended - waiting} ended twice or are not targets"
                waiting -= ended
        return found

    def close(self, timeout: float = DEADLINE) -> int:
        """End the channel cleanly (END, then the stream's end); the exit status."""
        if self.proc.poll() is None:
            try:
                self.send(END())
                self.write(self.encoder.footer())
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        return self.wait(timeout)

    def wait(self, timeout: float = DEADLINE) -> int:
        """Wait for the gateway to exit; its status (the pipes drained)."""
        status = self.proc.wait(timeout)
        self._stop.set()
        self.reading.set()
        for thread in self._threads:
            thread.join(timeout)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()
        return status

    def kill(self) -> None:
        """Kill the gateway's process group, if still there (a test's clean-up)."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.wait()

    def __enter__(self) -> GatewayPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def outputs(messages: Sequence[Message], kind: str = "OUT") -> dict[str, bytes]:
    """Each node's output from ``messages`` of type ``kind``, expanded."""
    found: dict[str, bytearray] = {}
    for msg in messages:
        if kind == msg.TYPE:
            for node in NodeSet(msg.nodes, resolver=NO_GROUPS):  # type: ignore[attr-defined]
                found.setdefault(node, bytearray()).extend(msg.data)  # type: ignore[attr-defined]
    return {node: bytes(data) for node, data in found.items()}


def ends(messages: Sequence[Message]) -> dict[str, tuple[Any, ...]]:
    """Each node's end from ``messages``: ``(retcode, status, reason)`` or ``("TIM",)``."""
    found: dict[str, tuple[Any, ...]] = {}
    for msg in messages:
        if isinstance(msg, RET):
            for node in NodeSet(msg.nodes, resolver=NO_GROUPS):
                found[node] = (msg.retcode, msg.status, msg.data)
        elif isinstance(msg, TIM):
            for node in NodeSet(msg.nodes, resolver=NO_GROUPS):
                found[node] = ("TIM",)
    return found
