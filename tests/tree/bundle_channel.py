"""A gateway stand-in for test_bundle.py: a Channel on stdin/stdout, written as a gateway is
(Python 3.6 asyncio), that answers each CTL with ACK, OUT (its payload as JSON) and RET.

Run from a code bundle only (its ``main()`` is the bundle's entry).
"""

from __future__ import annotations

import asyncio
import json
import sys

from shoal.tree.channel import Channel
from shoal.tree.messages import ACK, CTL, OUT, RET, Message


class Answer(Channel):
    async def recv(self, msg: Message) -> None:
        if isinstance(msg, CTL):
            self.send(ACK(ack=msg.msgid))
            self.send(OUT(job=msg.job, nodes=msg.target, data=json.dumps(msg.data).encode()))
            self.send(RET(job=msg.job, nodes=msg.target, retcode=0))


async def serve(loop: asyncio.AbstractEventLoop) -> None:
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                        sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)
    channel = Answer(reader, writer)
    await channel.start()
    await channel.wait_closed()
    while transport.get_write_buffer_size():  # let the last bytes out before the loop ends
        await asyncio.sleep(0.01)


def main() -> int:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(serve(loop))
    loop.close()
    return 0
