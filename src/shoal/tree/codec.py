"""The tree protocol's byte stream: an XML writer and a strict incremental reader.

Sans-I/O: :class:`Encoder` turns messages into bytes, :class:`Decoder` turns bytes fed
in any chunks back into messages (expat, driven directly). The stream, one each way::

    <?xml version="1.0" encoding="utf-8"?>
    <channel version="1">
    <message type="OUT" msgid="3" job="1" nodes="node[1-3]">aGVsbG8K</message>
    </channel>

A payload is base64 in lines of at most :data:`LINE_LENGTH` characters: JSON text, raw
bytes or UTF-8 text, by message type (:mod:`shoal.tree.messages`). Nothing read is ever
unpickled or evaluated.

>>> from shoal.tree.messages import OUT
>>> encoder, decoder = Encoder(), Decoder()
>>> wire = encoder.header() + encoder.encode(OUT(job=1, nodes="n[1-3]", data=b"hi\\n"))
>>> wire.splitlines()[-1]
b'<message type="OUT" msgid="1" job="1" nodes="n[1-3]">aGkK</message>'
>>> [msg for i in range(len(wire)) for msg in decoder.feed(wire[i:i + 1])]  # byte by byte
[OUT(msgid=1, job=1, nodes='n[1-3]', data=b'hi\\n')]

The reader is strict: no DOCTYPE, no entities but XML's five, no processing
instructions or comments, only ``<channel version="1">`` at the top and ``<message>``
one level below it, bounded sizes. Every fault raises
:class:`~shoal.errors.MessageProcessingError`. A fault inside a well-formed message
costs that message only: the reader goes on with the next one. A fault in the XML
itself (not well-formed, DOCTYPE, wrong root) breaks the stream: :attr:`Decoder.broken`
turns true and every later call raises again.

Runs on the gateways: standard library and :mod:`shoal.errors` only, Python 3.6 once
annotations are stripped; imports no asyncio.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import deque
from typing import Any
from xml.parsers import expat

from shoal.errors import MessageProcessingError, UsageError
from shoal.tree.messages import MESSAGE_TYPES, STA, Field, Message

__all__ = [
    "FOOTER",
    "FRAMING_VERSION",
    "HEADER",
    "LINE_LENGTH",
    "MAX_ATTRIBUTE",
    "MAX_ATTRIBUTES",
    "MAX_PAYLOAD",
    "MAX_TOKEN",
    "Decoder",
    "Encoder",
]

#: the version of the stream's XML layout, in ``<channel version="1">``
FRAMING_VERSION = "1"
#: what starts a stream
HEADER = b'<?xml version="1.0" encoding="utf-8"?>\n<channel version="1">\n'
#: what ends a stream
FOOTER = b"</channel>\n"
#: the longest line of a payload's base64 text
LINE_LENGTH = 65536
#: the largest payload of one message, decoded (64 MiB)
MAX_PAYLOAD = 64 * 1024 * 1024
#: the longest attribute value, in characters
MAX_ATTRIBUTE = 64 * 1024
#: the most attributes one message may have (``type`` and ``msgid`` included)
MAX_ATTRIBUTES = 8
#: the most bytes the reader holds unparsed (one start tag, one comment...): past it the
#: stream is refused, so that a peer cannot make the reader buffer without bound
MAX_TOKEN = 2 * 1024 * 1024

#: elements nested deeper than this break the stream (expat would keep a stack of them)
_MAX_DEPTH = 8
#: the slices the reader feeds expat, so that it checks :data:`MAX_TOKEN` as it goes
_SLICE = 64 * 1024
#: characters XML 1.0 cannot carry, even as character references
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: an integer attribute has at most this many digits (a 64-bit one fits)
_INT_DIGITS = 19
_INT_LIMIT = 10 ** _INT_DIGITS
_INTEGER = re.compile(rf"-?[0-9]{{1,{_INT_DIGITS}}}\Z")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                          "\t": "&#9;", "\n": "&#10;", "\r": "&#13;"})


def _cut(value: str, size: int = 40) -> str:
    """``value`` cut to ``size`` characters, for a message."""
    return value if len(value) <= size else value[:size] + "..."


def _clip(value: str, size: int = 40) -> str:
    """``value`` quoted and cut to ``size`` characters, for a message."""
    return f'"{_cut(value, size)}"'


class Encoder:
    """Writes one stream: :meth:`header`, one :meth:`encode` per message, :meth:`footer`.

    ``msgid`` increases along the stream: a message with msgid 0 gets the next one (set
    on the message, so the sender knows what an ``ACK`` will name), a message with a
    msgid of its own must be above the last one.
    """

    def __init__(self, line_length: int = LINE_LENGTH) -> None:
        if line_length < 4 or line_length % 4:
            raise ValueError(f"line length {line_length}: a positive multiple of 4")
        self.line_length = line_length
        #: the msgid of the last message written
        self.last_msgid = 0

    def header(self) -> bytes:
        """The XML declaration and ``<channel version="1">``."""
        return HEADER

    def footer(self) -> bytes:
        """``</channel>``: nothing follows."""
        return FOOTER

    def encode(self, msg: Message) -> bytes:
        """``msg`` as one ``<message>`` element and a newline; sets ``msg.msgid`` if 0.

        Raises :class:`~shoal.errors.MessageProcessingError` for a field of the wrong
        type, a string XML cannot carry (control characters) or a payload that is not
        JSON-serializable, as it would be for a message received.
        """
        msgid = msg.msgid or self.last_msgid + 1
        if type(msgid) is not int or msgid <= self.last_msgid:
            raise MessageProcessingError(msgid, f"msgid must be above {self.last_msgid}")
        parts = [f'<message type="{msg.TYPE}" msgid="{msgid}"']
        body = b""
        for field in msg.fields[1:]:
            value = getattr(msg, field.name)
            if field.is_payload:
                body = self._payload(msgid, msg, value)
            elif not (value == field.default and not field.required):
                parts.append(f' {field.name}="{_attribute(msgid, field, value)}"')
        parts.append(">")
        msg.msgid = self.last_msgid = msgid
        return "".join(parts).encode("utf-8") + body + b"</message>\n"

    def _payload(self, msgid: int, msg: Message, value: Any) -> bytes:
        """The base64 lines of ``value``, a payload of ``msg``."""
        kind = msg.payload_kind()
        if kind == "bytes":
            if not isinstance(value, (bytes, bytearray)):
                raise MessageProcessingError(msgid, f"payload must be bytes, not "
                                                    f"{type(value).__name__}")
            raw = bytes(value)
        elif kind == "text":
            if not isinstance(value, str):
                raise MessageProcessingError(msgid, f"payload must be a str, not "
                                                    f"{type(value).__name__}")
            raw = _utf8(msgid, "payload", value)
        elif value is None:
            raw = b""
        else:
            try:
                text = json.dumps(value, ensure_ascii=False, allow_nan=False,
                                  separators=(",", ":"))
            except (TypeError, ValueError) as exc:
                raise MessageProcessingError(msgid, f"payload is not JSON: {exc}") from None
            raw = _utf8(msgid, "payload", text)
        encoded = base64.b64encode(raw)
        size = self.line_length
        return b"\n".join(encoded[i:i + size] for i in range(0, len(encoded), size))


def _utf8(msgid: int, what: str, text: str) -> bytes:
    """``text`` in UTF-8, refused if it holds a lone surrogate."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise MessageProcessingError(msgid, f"{what} holds a character UTF-8 cannot carry")\
            from None


def _attribute(msgid: int, field: Field, value: Any) -> str:
    """``value`` of attribute ``field``, checked and escaped for the wire."""
    if field.kind is int:
        if type(value) is not int:
            raise MessageProcessingError(msgid, f'attribute "{field.name}" must be an int, '
                                                f"not {type(value).__name__}")
        if not -_INT_LIMIT < value < _INT_LIMIT:
            raise MessageProcessingError(msgid, f'attribute "{field.name}" has more than '
                                                f"{_INT_DIGITS} digits")
        return str(value)
    if not isinstance(value, str):
        raise MessageProcessingError(msgid, f'attribute "{field.name}" must be a str, '
                                            f"not {type(value).__name__}")
    bad = _NOT_XML.search(value)
    if bad:
        raise MessageProcessingError(msgid, f'attribute "{field.name}" holds a character XML '
                                            f"cannot carry (U+{ord(bad.group()):04X})")
    return value.translate(_ESCAPES)


class _Fatal(Exception):
    """Raised inside an expat handler: stops the parser at once (DOCTYPE, entities...)."""


class _Draft:
    """A ``<message>`` being read: its class, converted attributes, payload so far, and
    the first fault found in it."""

    __slots__ = ("cls", "fault", "kind", "line", "msgid", "size", "text", "values")

    def __init__(self, msgid: int | None) -> None:
        self.msgid = msgid
        self.cls: type[Message] | None = None
        self.values: dict[str, Any] = {}
        self.kind: str | None = None
        self.text: list[str] = []
        self.size = 0
        self.line = 0
        self.fault: str | None = None

    def refuse(self, fault: str) -> None:
        """Mark the message bad (the first fault counts) and drop what it holds."""
        if self.fault is None:
            self.fault = fault
            self.text = []


class Decoder:
    """Reads one stream fed in chunks of any size: :meth:`feed`, then :meth:`close`.

    ``max_payload`` bounds a payload once decoded, ``max_attribute`` an attribute's length
    in characters, ``max_attributes`` their count per message, ``max_line`` a payload line.

    :meth:`feed` returns the messages completed so far, in order, up to the first fault,
    which it raises when it comes first; what follows a fault waits for the next call,
    so a caller that caught one calls ``feed(b"")`` until it returns ``[]``.
    """

    def __init__(self, *, max_payload: int = MAX_PAYLOAD, max_attribute: int = MAX_ATTRIBUTE,
                 max_attributes: int = MAX_ATTRIBUTES, max_line: int = LINE_LENGTH) -> None:
        self.max_payload = max_payload
        self.max_attribute = max_attribute
        self.max_attributes = max_attributes
        self.max_line = max_line
        #: the msgid of the last message read
        self.last_msgid = 0
        #: the ``<channel>`` element was opened
        self.opened = False
        #: the ``</channel>`` end tag was read: the stream is over
        self.finished = False
        self._closed = False
        self._max_text = (max_payload + 2) // 3 * 4
        self._results: deque[Message | MessageProcessingError] = deque()
        self._error: MessageProcessingError | None = None
        self._depth = 0
        self._draft: _Draft | None = None
        self._stray = False
        self._fed = 0
        self._mark = 0
        self._parser = parser = expat.ParserCreate("utf-8")
        parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        if hasattr(parser, "SetReparseDeferralEnabled"):  # expat >= 2.6: hand out each message
            parser.SetReparseDeferralEnabled(False)  # as soon as it is complete
        parser.XmlDeclHandler = self._declaration
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._text
        parser.ProcessingInstructionHandler = self._instruction
        parser.CommentHandler = self._comment
        for name in ("StartDoctypeDeclHandler", "EntityDeclHandler",
                     "UnparsedEntityDeclHandler", "NotationDeclHandler",
                     "ElementDeclHandler", "AttlistDeclHandler", "SkippedEntityHandler",
                     "ExternalEntityRefHandler"):
            setattr(parser, name, self._declared)

    @property
    def broken(self) -> bool:
        """Whether the stream can no longer be read (bad XML): every call raises."""
        return self._error is not None

    def feed(self, chunk: bytes) -> list[Message]:
        """Parse ``chunk`` and return the messages ready, raising the first fault found."""
        if self._closed and chunk and self._error is None:
            raise UsageError("Decoder.feed() after close()")
        if self._error is None:
            for start in range(0, len(chunk), _SLICE):
                if not self._parse(chunk[start:start + _SLICE], False):
                    break
        return self._deliver()

    def close(self) -> list[Message]:
        """End of input: the messages still due; raises if the stream was left unfinished."""
        if self._error is None and not self._closed:
            self._closed = True
            self._parse(b"", True)
            if not self.finished:
                self._break("the stream ended before </channel>")
        return self._deliver()

    def _deliver(self) -> list[Message]:
        ready: list[Message] = []
        while self._results:
            item = self._results[0]
            if isinstance(item, MessageProcessingError):
                if ready:
                    break
                self._results.popleft()
                raise item
            self._results.popleft()
            ready.append(item)
        if not ready and self._error is not None and not self._results:
            raise self._error
        return ready

    def _parse(self, data: bytes, final: bool) -> bool:
        """Feed expat; False once the stream is broken."""
        self._fed += len(data)
        try:
            self._parser.Parse(data, final)
        except _Fatal as exc:
            self._break(str(exc))
        except expat.ExpatError as exc:
            if final:
                self._break("the stream ended before </channel>")
                return False
            self._break(f"not well-formed XML ({expat.ErrorString(exc.code)}) at line "
                        f"{exc.lineno}, column {exc.offset}")
        else:
            if self._fed - self._mark > MAX_TOKEN:
                self._break(f"more than {MAX_TOKEN} bytes in one XML token")
        return self._error is None

    def _break(self, fault: str) -> None:
        if self._error is None:
            msgid = self._draft.msgid if self._draft else None
            self._error = MessageProcessingError(
                msgid, f"{fault} (the rest of the stream cannot be read)")
            self._results.append(self._error)

    def _here(self) -> None:
        """Note that expat got this far, for the :data:`MAX_TOKEN` check."""
        self._mark = self._parser.CurrentByteIndex

    def _refuse(self, fault: str) -> None:
        """A fault outside any message that leaves the stream readable."""
        self._results.append(MessageProcessingError(None, fault))

    # expat handlers: a fault of the stream raises _Fatal, which stops expat; a fault of
    # one message is noted in its draft, so that expat goes on to the next one.

    def _declaration(self, version: str, encoding: str | None, standalone: int) -> None:
        if version != "1.0" or (encoding or "utf-8").lower() != "utf-8":
            raise _Fatal(f'XML declaration version="{version}" encoding="{encoding}" '
                         '(version="1.0" encoding="utf-8" is the only one)')

    def _declared(self, *args: Any) -> None:
        raise _Fatal("DOCTYPE, entities and their declarations are refused")

    def _instruction(self, target: str, data: str) -> None:
        self._here()
        self._misplaced("a processing instruction")

    def _comment(self, data: str) -> None:
        self._here()
        self._misplaced("a comment")

    def _misplaced(self, what: str) -> None:
        if self._draft is not None:
            self._draft.refuse(f"{what} inside the message")
        else:
            self._refuse(f"{what} outside any message")

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        self._here()
        depth = self._depth = self._depth + 1
        if depth == 1:
            self._open(name, attributes)
        elif depth == 2:
            self._stray = False
            self._draft = self._begin(name, attributes)
        elif depth > _MAX_DEPTH:
            raise _Fatal(f"elements nested more than {_MAX_DEPTH} deep")
        elif self._draft is not None:
            self._draft.refuse(f"element <{_cut(name)}> inside the message")

    def _open(self, name: str, attributes: dict[str, str]) -> None:
        if name != "channel":
            raise _Fatal(f"the stream starts with <{_cut(name)}>, not <channel>")
        if attributes != {"version": FRAMING_VERSION}:
            shown = " ".join(f"{k}={_clip(v)}" for k, v in sorted(attributes.items()))
            raise _Fatal(f"<channel {shown}>: this side reads "
                         f'<channel version="{FRAMING_VERSION}"> only')
        self.opened = True

    def _begin(self, name: str, attributes: dict[str, str]) -> _Draft:
        """A draft for a ``<message>`` start tag, with its attributes checked."""
        raw_id = attributes.get("msgid", "")
        msgid = int(raw_id) if _INTEGER.match(raw_id) else None
        draft = _Draft(msgid if msgid is not None and msgid > 0 else None)
        if name != "message":
            draft.refuse(f"element <{_cut(name)}> where a <message> belongs")
            return draft
        if len(attributes) > self.max_attributes:
            draft.refuse(f"{len(attributes)} attributes (at most {self.max_attributes})")
            return draft
        for key, value in attributes.items():
            if len(value) > self.max_attribute:
                draft.refuse(f'attribute "{_cut(key)}" is longer than '
                             f"{self.max_attribute} characters")
                return draft
        if msgid is None or msgid < 1:  # the draft has no msgid
            draft.refuse("msgid is missing" if "msgid" not in attributes else
                         f"msgid is not a positive integer: {_clip(raw_id)}")
            return draft
        if msgid <= self.last_msgid:
            draft.refuse(f"msgid {msgid} does not follow msgid {self.last_msgid}")
            return draft
        self.last_msgid = msgid
        kind = attributes.get("type")
        cls = MESSAGE_TYPES.get(kind or "")
        if cls is None:
            draft.refuse("type is missing" if kind is None else f"unknown type {_clip(kind)}")
            return draft
        known = {"type"}
        for field in cls.fields[1:]:
            if field.is_payload:
                continue
            known.add(field.name)
            given = attributes.get(field.name)
            if given is None:
                if field.required:
                    draft.refuse(f'{cls.TYPE} without attribute "{field.name}"')
                    return draft
                draft.values[field.name] = field.default
            elif field.kind is int:
                if not _INTEGER.match(given):
                    draft.refuse(f'attribute "{field.name}" is not an integer: {_clip(given)}')
                    return draft
                draft.values[field.name] = int(given)
            else:
                draft.values[field.name] = given
        extra = sorted(set(attributes) - known - {"msgid"})
        if extra and cls is not STA:  # a later STA may say more: it must still be read
            draft.refuse(f'{cls.TYPE} has no attribute {_clip(extra[0])}')
            return draft
        draft.cls = cls
        draft.kind = cls.payload_kind_for(draft.values)
        return draft

    def _text(self, data: str) -> None:
        self._here()
        draft = self._draft
        if draft is None:
            if self._depth == 1 and not self._stray and data.strip():
                self._stray = True
                self._refuse(f"text outside any message: {_clip(data.strip(), 20)}")
            return
        if draft.fault is not None:
            return
        if draft.kind is None:
            draft.refuse(f"{draft.cls.TYPE if draft.cls else 'message'} has no payload, "
                         f"yet holds text")
            return
        lines = data.split("\n")
        for number, line in enumerate(lines):
            draft.line = (draft.line if number == 0 else 0) + len(line)
            if draft.line > self.max_line:
                draft.refuse(f"a payload line longer than {self.max_line} characters")
                return
            draft.size += len(line)
        if draft.size > self._max_text:
            draft.refuse(f"payload larger than {self.max_payload} bytes")
            return
        draft.text.extend(lines)

    def _end(self, name: str) -> None:
        self._here()
        depth, self._depth = self._depth, self._depth - 1
        if depth == 1:
            self.finished = True
        elif depth == 2 and self._draft is not None:
            draft, self._draft = self._draft, None
            self._results.append(self._finish(draft))

    def _finish(self, draft: _Draft) -> Message | MessageProcessingError:
        """The message of a complete draft, or the fault that spoilt it."""
        if draft.fault is None and draft.cls is not None:
            try:
                values = dict(draft.values)
                if draft.kind is not None:
                    values["data"] = self._decode(draft.kind, "".join(draft.text))
                return draft.cls(msgid=draft.msgid, **values)
            except _Refused as exc:
                draft.refuse(str(exc))
        return MessageProcessingError(draft.msgid, draft.fault or "unreadable message")

    def _decode(self, kind: str, text: str) -> Any:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise _Refused("payload is not valid base64") from None
        if len(raw) > self.max_payload:
            raise _Refused(f"payload larger than {self.max_payload} bytes")
        if kind == "bytes":
            return raw
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Refused(f"payload is not UTF-8 (byte {exc.start})") from None
        if kind == "text":
            return decoded
        if not decoded:
            return None
        try:
            return json.loads(decoded, parse_constant=_no_constant)
        except RecursionError:
            raise _Refused("payload JSON nests too deep") from None
        except ValueError as exc:
            raise _Refused(f"payload is not JSON: {exc}") from None


class _Refused(Exception):
    """A payload that cannot be decoded; the message says why."""


def _no_constant(name: str) -> Any:
    """JSON's ``NaN`` and ``Infinity`` are not JSON."""
    raise ValueError(f"{name} is not a JSON value")
