"""The codec under hypothesis: every message round-trips whatever the chunking, and the
reader, fed anything (mutated streams, random bytes, hostile XML), raises nothing but
MessageProcessingError, in bounded time and memory."""

from __future__ import annotations

import itertools
import time
import tracemalloc
from collections.abc import Iterable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shoal.errors import MessageProcessingError
from shoal.tree import messages as m
from shoal.tree.codec import FOOTER, HEADER, MAX_TOKEN, Decoder, Encoder

#: what an attribute may hold: any character XML carries (tab, CR and LF included)
XML_TEXT = st.text(st.characters(blacklist_categories=["Cs"],
                                 blacklist_characters="".join(
                                     chr(c) for c in range(32) if c not in (9, 10, 13))
                                 + "\ufffe\uffff"), max_size=60)
INTS = st.integers(min_value=-(10**19) + 1, max_value=10**19 - 1)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)
PAYLOADS = {"bytes": st.binary(max_size=300), "text": st.text(max_size=100), "json": JSON}
ACTIONS = st.sampled_from(["shell", "write", "eof", "abort", "copy", "rcopy"]) | XML_TEXT


@st.composite
def messages(draw: st.DrawFn, cls: type[m.Message]) -> m.Message:
    """Any message of class ``cls``: every field drawn from what its kind may hold."""
    values: dict[str, Any] = {}
    for field in cls.fields[1:]:
        if field.is_payload:
            continue
        strategy: st.SearchStrategy[Any] = (
            ACTIONS if field.name == "action" else INTS if field.kind is int else XML_TEXT)
        values[field.name] = draw(st.none() | strategy if field.default is None else strategy)
    payload = cls.payload_kind_for(values) if any(f.is_payload for f in cls.fields) else None
    if payload is None:
        return cls(**values)
    return cls(**values, data=draw(PAYLOADS[payload]))


ANY_MESSAGE = st.sampled_from([m.MESSAGE_TYPES[t] for t in sorted(m.MESSAGE_TYPES)]).flatmap(
    messages)


def chunks(data: bytes, cuts: Iterable[int]) -> Iterator[bytes]:
    """``data`` cut at the offsets ``cuts`` (taken modulo its length, in order)."""
    offsets = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(offsets):
        yield data[start:end]


def decode(pieces: Iterable[bytes], decoder: Decoder | None = None,
           close: bool = True) -> list[m.Message]:
    """Feed ``pieces`` (then close, unless told not to); every message, with faults only
    allowed as MessageProcessingError (anything else fails the test)."""
    decoder = decoder or Decoder()
    out: list[m.Message] = []

    def drain(chunk: bytes, final: bool = False) -> bool:
        while True:
            try:
                ready = decoder.close() if final else decoder.feed(chunk)
            except MessageProcessingError as exc:
                assert exc.fault and "\n" not in str(exc)
                if decoder.broken:
                    return False
                chunk = b""
                continue
            chunk = b""
            if not ready:
                return True
            out.extend(ready)

    for piece in pieces:
        if not drain(piece):
            return out
    if close:
        drain(b"", final=True)
    return out


def stream_of(msgs: list[m.Message]) -> bytes:
    encoder = Encoder()
    return encoder.header() + b"".join(encoder.encode(x) for x in msgs) + encoder.footer()


@pytest.mark.parametrize("cls", [m.MESSAGE_TYPES[t] for t in sorted(m.MESSAGE_TYPES)],
                         ids=sorted(m.MESSAGE_TYPES))
@given(data=st.data())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
def test_every_message_type_round_trips(cls: type[m.Message], data: st.DataObject) -> None:
    msgs = data.draw(st.lists(messages(cls), min_size=1, max_size=4))
    cuts = data.draw(st.lists(st.integers(min_value=0), max_size=20))
    wire = stream_of(msgs)
    assert decode(chunks(wire, cuts)) == msgs


@given(st.lists(ANY_MESSAGE, min_size=1, max_size=6))
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
def test_a_mixed_stream_round_trips_byte_by_byte(msgs: list[m.Message]) -> None:
    wire = stream_of(msgs)
    assert decode(wire[i:i + 1] for i in range(len(wire))) == msgs


def test_a_large_payload_round_trips_across_lines() -> None:
    blob = bytes(range(256)) * 4096 * 3  # 3 MiB: 64 lines of base64
    msgs: list[m.Message] = [m.OUT(job=1, nodes="n1", data=blob),
                             m.CTL(job=1, action="write", target="n1", data=blob)]
    wire = stream_of(msgs)
    assert wire.count(b"\n") > 64 * 2
    assert decode(chunks(wire, range(0, len(wire), 65000))) == msgs


def mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """``data`` with each edit (where, how many bytes to drop, what to put instead)."""
    for where, drop, put in edits:
        where %= len(data) + 1
        data = data[:where] + put + data[where + drop:]
    return data


NASTY = st.sampled_from([b"<", b">", b"&", b'"', b"</message>", b"<message>", b"\x00",
                         b"\xff", b"&amp;", b"&lt;", b"&#0;", b"&#xD800;", b"<!--", b"-->",
                         b"<?pi?>", b"<![CDATA[", b"]]>", b"=", b" msgid=\"1\"", b"\n"])


@given(msgs=st.lists(ANY_MESSAGE, min_size=1, max_size=4),
       edits=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 8),
                                NASTY | st.binary(max_size=8)), min_size=1, max_size=6),
       cuts=st.lists(st.integers(min_value=0), max_size=10))
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_a_mutated_stream_raises_nothing_but_message_processing_error(
        msgs: list[m.Message], edits: list[tuple[int, int, bytes]], cuts: list[int]) -> None:
    decode(chunks(mutate(stream_of(msgs), edits), cuts))


@given(st.binary(max_size=400), st.booleans())
@settings(max_examples=200)
def test_random_bytes_raise_nothing_but_message_processing_error(junk: bytes,
                                                                   framed: bool) -> None:
    decode([HEADER + junk if framed else junk])


@given(st.lists(st.sampled_from([
    '<message type="{t}" msgid="{i}">', "</message>", "<message>", "<x/>", "text",
    'job="{i}"', "QUFB", "====", "\n", "&amp;", "<!-- c -->", "<?pi?>", "</channel>",
    '<channel version="1">', '<message type="{t}" msgid="{i}" job="1" nodes="n" retcode="0">',
]), max_size=30), st.sampled_from(sorted(m.MESSAGE_TYPES)), st.integers(-2, 5))
@settings(max_examples=300)
def test_xml_shaped_garbage_raises_nothing_but_message_processing_error(
        parts: list[str], type_: str, msgid: int) -> None:
    decode([HEADER + "".join(p.format(t=type_, i=msgid) for p in parts).encode()])


def refused(pieces: Iterable[bytes]) -> str:
    """Feed ``pieces`` until the decoder breaks; the fault that broke it."""
    decoder = Decoder()
    for piece in pieces:
        try:
            decoder.feed(piece)
        except MessageProcessingError as exc:
            if decoder.broken:
                return exc.fault
    raise AssertionError("the decoder read it all")


def repeat(head: bytes, body: bytes, times: int) -> Iterator[bytes]:
    """``head`` then ``body`` ``times`` times, as chunks: a hostile stream never held whole."""
    yield head
    for _ in range(times):
        yield body


BILLION_LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1)) * 10
                                                        if i > 1 else b"&lol;" * 10)
                             for i in range(1, 10))
                  + b']>\n<channel version="1"><message type="ERR" msgid="1" '
                    b'reason="&lol9;"></message>')


@pytest.mark.parametrize(("pieces", "fault"), [
    pytest.param(lambda: [BILLION_LAUGHS], "DOCTYPE", id="billion-laughs"),
    pytest.param(lambda: [b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x SYSTEM '
                          b'"file:///etc/passwd">]><channel version="1"><message type="ERR" '
                          b'msgid="1" reason="&x;"></message>'], "DOCTYPE", id="external-entity"),
    pytest.param(lambda: [b'<?xml version="1.0"?><!DOCTYPE c SYSTEM "http://127.0.0.1/x.dtd">'
                          b'<channel version="1">'], "DOCTYPE", id="external-dtd"),
    pytest.param(lambda: [HEADER + b'<message type="ERR" msgid="1" reason="&x;"></message>'],
                 "undefined entity", id="undeclared-entity"),
    pytest.param(lambda: repeat(HEADER + b'<message type="HBT" msgid="1">', b"<a>" * 4096,
                                10_000), "nested more than 8 deep", id="deep-nesting"),
    pytest.param(lambda: repeat(HEADER + b'<message type="ERR" msgid="1" reason="',
                                b"x" * 65536, 1024), f"more than {MAX_TOKEN} bytes",
                 id="huge-attribute"),
    pytest.param(lambda: repeat(HEADER + b'<message type="ERR" msgid="1" ',
                                b'a="" ' * 10000, 1024), f"more than {MAX_TOKEN} bytes",
                 id="endless-start-tag"),
    pytest.param(lambda: repeat(HEADER + b"<!--", b"c" * 65536, 1024),
                 f"more than {MAX_TOKEN} bytes", id="endless-comment"),
    pytest.param(lambda: repeat(HEADER + b"<", b"m" * 65536, 1024),
                 f"more than {MAX_TOKEN} bytes", id="endless-name"),
])
def test_hostile_xml_is_refused_in_bounded_time_and_memory(pieces: Any, fault: str) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        found = refused(pieces())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fault in found
    assert time.monotonic() - started < 10
    assert peak < 32 * 1024 * 1024


@pytest.mark.parametrize("body", [
    pytest.param(b"QUFB" * 16384, id="one-endless-line"),
    pytest.param(b"QUFB" * 16384 + b"\n", id="endless-lines"),
])
def test_an_endless_payload_costs_bounded_memory_and_the_reader_goes_on(body: bytes) -> None:
    decoder = Decoder(max_payload=1024 * 1024)
    tracemalloc.start()
    try:
        out = decode(repeat(HEADER + b'<message type="OUT" msgid="1" job="1" nodes="n">', body,
                            1500), decoder, close=False)  # about 100 MB
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out == []
    assert peak < 32 * 1024 * 1024
    tail = b'</message>\n<message type="HBT" msgid="2"></message>\n' + FOOTER
    assert decode([tail], decoder) == [m.HBT(msgid=2)]
