"""Tree mode: commands relayed through gateways over an XML message channel.

Layer 4: imports :mod:`shoal.nodeset`, :mod:`shoal.hosts` and :mod:`shoal.engine`. The
protocol (docs/tree-protocol.md) is three modules that also run on the gateways,
standard library only: :mod:`~shoal.tree.messages` (one class per message type),
:mod:`~shoal.tree.codec` (the XML stream, sans-I/O) and :mod:`~shoal.tree.channel`
(:class:`Channel`, the asyncio base of both ends). :mod:`~shoal.tree.bundle` packs the
gateway's code for a zero-install start.
"""

from __future__ import annotations

from shoal.errors import MessageProcessingError
from shoal.tree.channel import Channel
from shoal.tree.codec import Decoder, Encoder
from shoal.tree.messages import (
    ACK,
    CFG,
    CTL,
    END,
    ERR,
    HBT,
    MESSAGE_TYPES,
    OUT,
    PROTOCOL_VERSION,
    RET,
    SER,
    STA,
    TIM,
    Message,
)

__all__ = [
    # messages
    "ACK",
    "CFG",
    "CTL",
    "END",
    "ERR",
    "HBT",
    "MESSAGE_TYPES",
    "Message",
    "OUT",
    "PROTOCOL_VERSION",
    "RET",
    "SER",
    "STA",
    "TIM",
    # the stream
    "Channel",
    "Decoder",
    "Encoder",
    "MessageProcessingError",
]
