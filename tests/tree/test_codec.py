"""The codec: the stream written, read back, and every kind of fault refused."""

from __future__ import annotations

import base64
import json

import pytest

from shoal.errors import MessageProcessingError
from shoal.tree import messages as m
from shoal.tree.codec import FOOTER, HEADER, Decoder, Encoder


def b64(raw: bytes) -> str:
    """``raw`` in base64, in lines of 76 characters."""
    return base64.encodebytes(raw).decode()


def stream(*elements: str | bytes) -> bytes:
    """A stream with a header and ``elements`` (each a message element or raw text)."""
    return HEADER + b"".join(e.encode() if isinstance(e, str) else e for e in elements)


def read_all(data: bytes, decoder: Decoder | None = None) -> list[m.Message | str]:
    """Every message of ``data``, and every fault as the text of the error."""
    decoder = decoder or Decoder()
    out: list[m.Message | str] = []
    chunk = data
    while True:
        try:
            ready = decoder.feed(chunk)
        except MessageProcessingError as exc:
            out.append(str(exc))
            if decoder.broken:
                return out
            chunk = b""
            continue
        chunk = b""
        if not ready:
            return out
        out.extend(ready)


def test_written_stream_looks_as_the_protocol_says() -> None:
    enc = Encoder()
    data = (enc.header() + enc.encode(m.STA(protocol=1, shoal="0.1.0"))
            + enc.encode(m.CTL(job=1, action="shell", target="node[1-200]",
                               data={"command": "uname"}))
            + enc.encode(m.RET(job=1, nodes="n1", retcode=0))
            + enc.encode(m.ERR(reason='a "b" <c> & d\n', about=2))
            + enc.encode(m.END()) + enc.footer())
    assert data.decode().splitlines() == [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<channel version="1">',
        '<message type="STA" msgid="1" protocol="1" shoal="0.1.0"></message>',
        '<message type="CTL" msgid="2" job="1" action="shell" target="node[1-200]">'
        + base64.b64encode(b'{"command":"uname"}').decode() + "</message>",
        '<message type="RET" msgid="3" job="1" nodes="n1" retcode="0"></message>',
        '<message type="ERR" msgid="4" reason="a &quot;b&quot; &lt;c&gt; &amp; d&#10;" '
        'about="2"></message>',
        '<message type="END" msgid="5"></message>',
        "</channel>",
    ]
    decoder = Decoder()
    assert [x.TYPE for x in decoder.feed(data)] == ["STA", "CTL", "RET", "ERR", "END"]
    assert decoder.finished
    assert decoder.close() == []


def test_encoder_assigns_increasing_msgids_and_keeps_given_ones_above() -> None:
    enc = Encoder()
    first, second = m.HBT(), m.HBT(msgid=10)
    enc.encode(first)
    enc.encode(second)
    assert (first.msgid, second.msgid, enc.last_msgid) == (1, 10, 10)
    with pytest.raises(MessageProcessingError, match="message 5: msgid must be above 10"):
        enc.encode(m.HBT(msgid=5))


def test_payload_lines_are_wrapped() -> None:
    enc = Encoder(line_length=8)
    data = enc.encode(m.OUT(job=1, nodes="a", data=b"0123456789ab"))
    assert data.split(b">")[1].split(b"<")[0] == b"MDEyMzQ1\nNjc4OWFi"
    assert read_all(HEADER + data) == [m.OUT(msgid=1, job=1, nodes="a", data=b"0123456789ab")]


@pytest.mark.parametrize(("msg", "fault"), [
    pytest.param(m.ACK(ack="1"),  # type: ignore[arg-type]
                 'attribute "ack" must be an int, not str', id="str-for-int"),
    pytest.param(m.ACK(ack=True), 'attribute "ack" must be an int, not bool', id="bool"),
    pytest.param(m.TIM(job=1, nodes=None),  # type: ignore[arg-type]
                 'attribute "nodes" must be a str, not NoneType',
                 id="none-for-str"),
    pytest.param(m.ERR(reason="esc\x1b"), "holds a character XML cannot carry (U+001B)",
                 id="control-char"),
    pytest.param(m.OUT(job=1, nodes="a", data="text"),  # type: ignore[arg-type]
                 "payload must be bytes, not str",
                 id="str-for-bytes"),
    pytest.param(m.RET(job=1, nodes="a", retcode=0, data=b"x"),  # type: ignore[arg-type]
                 "payload must be a str",
                 id="bytes-for-text"),
    pytest.param(m.RET(job=1, nodes="a", retcode=0, data="\ud800"), "UTF-8 cannot carry",
                 id="surrogate"),
    pytest.param(m.CFG(gateway="g", data={"x": float("nan")}), "payload is not JSON",
                 id="nan"),
    pytest.param(m.CFG(gateway="g", data={"x": b""}), "payload is not JSON", id="bytes-in-json"),
])
def test_encoder_refuses_what_the_wire_cannot_carry(msg: m.Message, fault: str) -> None:
    enc = Encoder()
    with pytest.raises(MessageProcessingError, match="message 1: ") as info:
        enc.encode(msg)
    assert fault in info.value.fault
    assert (msg.msgid, enc.last_msgid) == (0, 0)


def element(type_: str, msgid: object = 1, body: str = "", **attributes: str) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attributes.items())
    return f'<message type="{type_}" msgid="{msgid}"{extra}>{body}</message>\n'


HBT = element("HBT", 9)


@pytest.mark.parametrize(("bad", "fault"), [
    pytest.param(element("XYZ"), 'message 1: unknown type "XYZ"', id="unknown-type"),
    pytest.param('<message msgid="1"></message>', "message 1: type is missing", id="no-type"),
    pytest.param('<message type="HBT"></message>', "message ?: msgid is missing", id="no-msgid"),
    pytest.param(element("HBT", "x"), 'message ?: msgid is not a positive integer: "x"',
                 id="msgid-not-int"),
    pytest.param(element("HBT", 0), 'message ?: msgid is not a positive integer: "0"',
                 id="msgid-0"),
    pytest.param(element("ACK"), 'message 1: ACK without attribute "ack"', id="missing-attr"),
    pytest.param(element("ACK", ack="1", colour="red"), 'message 1: ACK has no attribute '
                 '"colour"', id="extra-attr"),
    pytest.param(element("ACK", ack="1.5"), 'message 1: attribute "ack" is not an integer: '
                 '"1.5"', id="non-int-attr"),
    pytest.param(element("ACK", ack=" 1"), 'message 1: attribute "ack" is not an integer: " 1"',
                 id="spaced-int"),
    pytest.param(element("OUT", job="1", nodes="a", body="!!!!"),
                 "message 1: payload is not valid base64", id="bad-base64"),
    pytest.param(element("OUT", job="1", nodes="a", body="QQ"),
                 "message 1: payload is not valid base64", id="bad-padding"),
    pytest.param(element("OUT", job="1", nodes="a", body="QU FB"),
                 "message 1: payload is not valid base64", id="space-in-base64"),
    pytest.param(element("CFG", gateway="g", body=base64.b64encode(b"{bad").decode()),
                 "message 1: payload is not JSON", id="bad-json"),
    pytest.param(element("CFG", gateway="g", body=base64.b64encode(b"NaN").decode()),
                 "message 1: payload is not JSON: NaN is not a JSON value", id="json-nan"),
    pytest.param(element("CFG", gateway="g",
                         body=b64(b"[" * 100000 + b"]" * 100000)),
                 "message 1: payload JSON nests too deep", id="json-deep"),
    pytest.param(element("RET", job="1", nodes="a", retcode="0",
                         body=base64.b64encode(b"\xff").decode()),
                 "message 1: payload is not UTF-8 (byte 0)", id="bad-utf8-text"),
    pytest.param(element("HBT", body="QQ=="), "message 1: HBT has no payload, yet holds text",
                 id="text-in-hbt"),
    pytest.param('<message type="HBT" msgid="1"><b/></message>\n',
                 "message 1: element <b> inside the message", id="nested"),
    pytest.param('<message type="HBT" msgid="1"><?pi x?></message>\n',
                 "message 1: a processing instruction inside the message", id="pi"),
    pytest.param('<message type="HBT" msgid="1"><!-- c --></message>\n',
                 "message 1: a comment inside the message", id="comment"),
    pytest.param("<other/>\n", "message ?: element <other> where a <message> belongs",
                 id="not-message"),
    pytest.param("stray text\n", 'message ?: text outside any message: "stray text"',
                 id="stray-text"),
    pytest.param("<?pi x?>\n", "message ?: a processing instruction outside any message",
                 id="pi-outside"),
    pytest.param(element("ACK", ack="1", a="", b="", c="", d="", e="", f=""),
                 "message 1: 9 attributes (at most 8)", id="attribute-count"),
    pytest.param(element("ERR", reason="x" * 65537),
                 'message 1: attribute "reason" is longer than 65536 characters',
                 id="attribute-size"),
    pytest.param(element("OUT", job="1", nodes="a", body="QUFB" * 16385),
                 "message 1: a payload line longer than 65536 characters", id="long-line"),
])
def test_a_bad_message_is_refused_and_the_next_one_is_read(bad: str, fault: str) -> None:
    refused, after = read_all(stream(bad, HBT))
    assert isinstance(refused, str)
    assert refused.startswith(fault)
    assert after == m.HBT(msgid=9)


def test_sta_says_a_pid_and_a_later_peer_may_say_more() -> None:
    assert read_all(stream(element("STA", protocol="1", shoal="0.1", pid="42"),
                           element("STA", 2, protocol="2", shoal="9.0", host="gw1"))) == [
        m.STA(msgid=1, protocol=1, shoal="0.1", pid=42),
        m.STA(msgid=2, protocol=2, shoal="9.0")]


def test_msgids_must_increase() -> None:
    assert read_all(stream(element("HBT", 3), element("HBT", 3), element("HBT", 2),
                           element("HBT", 4))) == [
        m.HBT(msgid=3), "message 3: msgid 3 does not follow msgid 3",
        "message 2: msgid 2 does not follow msgid 3", m.HBT(msgid=4)]


def test_payload_size_is_bounded() -> None:
    decoder = Decoder(max_payload=6)
    good = element("OUT", 1, base64.b64encode(b"123456").decode(), job="1", nodes="a")
    bad = element("OUT", 2, base64.b64encode(b"1234567").decode(), job="1", nodes="a")
    assert read_all(stream(good, bad, HBT), decoder) == [
        m.OUT(msgid=1, job=1, nodes="a", data=b"123456"),
        "message 2: payload larger than 6 bytes", m.HBT(msgid=9)]


@pytest.mark.parametrize(("data", "fault"), [
    pytest.param(b'<?xml version="1.0"?>\n<!DOCTYPE channel [<!ENTITY a "b">]>\n'
                 b'<channel version="1">', "DOCTYPE, entities and their declarations are "
                 "refused", id="doctype"),
    pytest.param(stream(element("ERR", reason="&ext;")), "undefined entity", id="entity-ref"),
    pytest.param(b'<channel version="2">', '<channel version="2">: this side reads '
                 '<channel version="1"> only', id="version"),
    pytest.param(b"<channel>", "<channel >: this side reads", id="no-version"),
    pytest.param(b'<other version="1">', "the stream starts with <other>, not <channel>",
                 id="root"),
    pytest.param(b'<?xml version="1.0" encoding="latin-1"?><channel version="1">',
                 'XML declaration version="1.0" encoding="latin-1"', id="encoding"),
    pytest.param(stream("<message type='HBT' msgid='1'>"), "the stream ended before </channel>",
                 id="unclosed-then-eof"),
    pytest.param(stream(element("HBT"), "</oops>"), "not well-formed XML (mismatched tag) at "
                 "line 4, column 2", id="mismatched"),
    pytest.param(stream("<message>" * 9), "elements nested more than 8 deep", id="deep"),
    pytest.param(stream(b"\xff"), "not well-formed XML", id="bad-utf8"),
    pytest.param(stream(element("ERR", reason="x" * (3 * 1024 * 1024))),
                 "more than 2097152 bytes in one XML token", id="huge-tag"),
])
def test_broken_xml_breaks_the_stream_for_good(data: bytes, fault: str) -> None:
    decoder = Decoder()
    with pytest.raises(MessageProcessingError) as info:
        decoder.feed(data)
        decoder.close()
    assert fault in info.value.fault
    assert info.value.fault.endswith("(the rest of the stream cannot be read)")
    assert decoder.broken
    with pytest.raises(MessageProcessingError) as again:
        decoder.feed(stream(HBT))
    assert again.value is info.value


def test_messages_before_a_fault_in_the_same_chunk_come_first() -> None:
    decoder = Decoder()
    data = stream(element("HBT", 1), element("ACK", 2), element("HBT", 3))
    assert decoder.feed(data) == [m.HBT(msgid=1)]
    with pytest.raises(MessageProcessingError, match='ACK without attribute "ack"'):
        decoder.feed(b"")
    assert decoder.feed(b"") == [m.HBT(msgid=3)]
    assert decoder.feed(b"") == []


def test_end_of_input_before_the_footer_is_a_fault() -> None:
    decoder = Decoder()
    assert decoder.feed(stream(element("HBT", 1))) == [m.HBT(msgid=1)]
    with pytest.raises(MessageProcessingError, match="ended before </channel>"):
        decoder.close()


def test_a_message_arrives_as_soon_as_its_end_tag_does() -> None:
    decoder = Decoder()
    data = stream(element("OUT", 1, b64(b"AAA" * 40000), job="1", nodes="a"))
    assert decoder.feed(data[:-12]) == []
    assert decoder.feed(data[-12:]) == [m.OUT(msgid=1, job=1, nodes="a", data=b"AAA" * 40000)]


def test_footer_ends_the_stream() -> None:
    decoder = Decoder()
    assert decoder.feed(stream(element("END"), FOOTER)) == [m.END(msgid=1)]
    assert decoder.finished
    with pytest.raises(MessageProcessingError, match="junk after document element"):
        decoder.feed(b"<message/>")


def test_json_payloads_read_back_as_values() -> None:
    payload = {"topology": {"gw": ["n[1-3]"]}, "settings": {"gather_delay": 0.25, "ok": True}}
    enc = Encoder()
    msg = m.CFG(gateway="gw1", data=payload)
    [back] = Decoder().feed(enc.header() + enc.encode(msg))
    assert isinstance(back, m.CFG)
    assert back.data == payload == json.loads(json.dumps(payload))
