"""The message classes: their schema, constructors, equality and repr."""

from __future__ import annotations

import pytest

from shoal.tree import messages as m


def test_every_type_of_the_protocol_has_a_class() -> None:
    assert sorted(m.MESSAGE_TYPES) == sorted(
        ["STA", "CFG", "CTL", "ACK", "ERR", "OUT", "SER", "RET", "TIM", "END", "HBT"])
    assert all(name == cls.TYPE for name, cls in m.MESSAGE_TYPES.items())


@pytest.mark.parametrize(("cls", "schema"), [
    pytest.param(m.STA, [("msgid", int), ("protocol", int), ("shoal", str), ("pid", int)],
                 id="STA"),
    pytest.param(m.CFG, [("msgid", int), ("gateway", str), ("data", "json")], id="CFG"),
    pytest.param(m.CTL, [("msgid", int), ("job", int), ("action", str), ("target", str),
                         ("data", "json")], id="CTL"),
    pytest.param(m.ACK, [("msgid", int), ("ack", int)], id="ACK"),
    pytest.param(m.ERR, [("msgid", int), ("reason", str), ("about", int)], id="ERR"),
    pytest.param(m.OUT, [("msgid", int), ("job", int), ("nodes", str), ("data", "bytes")],
                 id="OUT"),
    pytest.param(m.SER, [("msgid", int), ("job", int), ("nodes", str), ("data", "bytes")],
                 id="SER"),
    pytest.param(m.RET, [("msgid", int), ("job", int), ("nodes", str), ("retcode", int),
                         ("status", str), ("data", "text")], id="RET"),
    pytest.param(m.TIM, [("msgid", int), ("job", int), ("nodes", str)], id="TIM"),
    pytest.param(m.END, [("msgid", int)], id="END"),
    pytest.param(m.HBT, [("msgid", int)], id="HBT"),
])
def test_schema_follows_docs_tree_protocol(cls: type[m.Message],
                                           schema: list[tuple[str, object]]) -> None:
    assert [(f.name, f.kind) for f in cls.fields] == schema


def test_constructor_takes_fields_by_keyword_with_defaults() -> None:
    msg = m.RET(job=3, nodes="n[1-2]", retcode=1)
    assert (msg.msgid, msg.job, msg.nodes, msg.retcode, msg.status, msg.data) == (
        0, 3, "n[1-2]", 1, "ok", "")
    assert m.ERR(reason="x").about is None
    assert m.CTL(job=1, action="eof", target="n1").data is None


def test_constructor_refuses_missing_and_unknown_fields() -> None:
    with pytest.raises(TypeError, match=r"OUT\(\) needs nodes="):
        m.OUT(job=1, data=b"")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"HBT\(\) takes no colour"):
        m.HBT(colour="red")  # type: ignore[call-arg]


def test_equality_is_by_type_and_every_field() -> None:
    assert m.OUT(job=1, nodes="a", data=b"x") == m.OUT(job=1, nodes="a", data=b"x")
    assert m.OUT(job=1, nodes="a", data=b"x") != m.SER(job=1, nodes="a", data=b"x")
    assert m.OUT(job=1, nodes="a", data=b"x") != m.OUT(job=1, nodes="a", data=b"y")
    assert m.OUT(job=1, nodes="a", data=b"x") != m.OUT(msgid=2, job=1, nodes="a", data=b"x")
    assert m.END() != "END"


def test_repr_shows_every_field() -> None:
    assert repr(m.ERR(msgid=4, reason="bad", about=3)) == "ERR(msgid=4, reason='bad', about=3)"


def test_ctl_payload_is_bytes_for_write_json_otherwise() -> None:
    assert m.CTL(job=1, action="write", target="n1", data=b"").payload_kind() == "bytes"
    assert m.CTL(job=1, action="shell", target="n1", data={}).payload_kind() == "json"
    assert m.RET(job=1, nodes="n1", retcode=0).payload_kind() == "text"
    assert m.ACK(ack=1).payload_kind() is None


def test_a_schema_with_a_payload_not_called_data_is_refused() -> None:
    with pytest.raises(TypeError, match="the payload field is called data"):
        type("Bad", (m.Message,), {"body": m.payload("bytes")})
