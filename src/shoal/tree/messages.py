"""The messages of the tree protocol: one small class per type, declared as a schema.

Each class names its wire ``TYPE`` and lists its fields with :func:`attr` (an XML
attribute: ``int`` or ``str``) and :func:`payload` (the element's content). The schema
drives everything else: the keyword-only constructor, equality, ``repr`` and the codec
(:mod:`shoal.tree.codec`), which encodes and checks every type from the same table.

>>> OUT(job=1, nodes="node[1-3]", data=b"hello\\n")
OUT(msgid=0, job=1, nodes='node[1-3]', data=b'hello\\n')
>>> RET(job=1, nodes="node4", retcode=255, status="unreachable").data
''
>>> MESSAGE_TYPES["HBT"] is HBT
True

``msgid`` 0 means "not sent yet": the writer gives each message the next id of its
stream. Node sets travel as their folded text (``nodes``, ``target``).

Runs on the gateways: standard library only, Python 3.6 once annotations are stripped
(:mod:`shoal.tree.bundle`). Imports nothing from shoal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform

__all__ = [
    "ACK",
    "CFG",
    "CTL",
    "END",
    "ERR",
    "HBT",
    "MESSAGE_TYPES",
    "OUT",
    "PAYLOAD_KINDS",
    "PROTOCOL_VERSION",
    "RET",
    "SER",
    "STA",
    "TIM",
    "Field",
    "Message",
    "attr",
    "payload",
]

#: the version of the message set, which each side announces in its ``STA``
PROTOCOL_VERSION = 1

#: the payload kinds: a JSON value, raw bytes, UTF-8 text
PAYLOAD_KINDS = ("json", "bytes", "text")


class _Missing:
    """The default of a field that must be given."""

    def __repr__(self) -> str:
        return "MISSING"


_MISSING: Any = _Missing()


class Field:
    """One field of a message schema: an XML attribute or the payload.

    ``kind`` is ``int`` or ``str`` for an attribute, one of :data:`PAYLOAD_KINDS` for the
    payload; ``default`` is :data:`_MISSING` for a required field. An attribute equal to
    its default is left out of the wire (``ERR about``, ``RET status``).
    """

    __slots__ = ("default", "is_payload", "kind", "name")

    def __init__(self, kind: Any, default: Any, is_payload: bool) -> None:
        self.name = ""
        self.kind = kind
        self.default = default
        self.is_payload = is_payload

    @property
    def required(self) -> bool:
        """Whether the field has no default."""
        return self.default is _MISSING

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {getattr(self.kind, '__name__', self.kind)})"


def attr(kind: type[int] | type[str], *, default: Any = _MISSING) -> Any:
    """Declare an XML attribute of type ``kind`` (``int`` or ``str``)."""
    if kind not in (int, str):
        raise TypeError(f"an attribute is an int or a str, not {kind!r}")
    return Field(kind, default, False)


def payload(kind: str, *, default: Any = _MISSING) -> Any:
    """Declare the payload (the field ``data``) of kind ``"json"``, ``"bytes"`` or ``"text"``."""
    if kind not in PAYLOAD_KINDS:
        raise TypeError(f"a payload is one of {PAYLOAD_KINDS}, not {kind!r}")
    return Field(kind, default, True)


#: every message class by its wire type
MESSAGE_TYPES: dict[str, type[Message]] = {}

if TYPE_CHECKING:
    @dataclass_transform(kw_only_default=True, eq_default=True, field_specifiers=(attr, payload))
    class _Schema:
        """Lets type checkers see each message class's constructor (keyword-only fields)."""
else:
    _Schema = object


class Message(_Schema):
    """Base of the message classes; a subclass with a ``TYPE`` joins :data:`MESSAGE_TYPES`.

    ``fields`` is the schema: ``msgid`` first, then the attributes in wire order, then
    the payload ``data`` if the type has one.
    """

    TYPE: ClassVar[str] = ""
    fields: ClassVar[tuple[Field, ...]] = ()

    msgid: int = attr(int, default=0)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _declare(cls)

    def __init__(self, **values: Any) -> None:
        for field in self.fields:
            value = values.pop(field.name, field.default)
            if value is _MISSING:
                raise TypeError(f"{type(self).__name__}() needs {field.name}=")
            setattr(self, field.name, value)
        if values:
            raise TypeError(f"{type(self).__name__}() takes no {', '.join(sorted(values))}")

    def payload_kind(self) -> str | None:
        """How this message's payload is encoded: ``"json"``, ``"bytes"``, ``"text"`` or
        ``None`` (no payload)."""
        return self.payload_kind_for({f.name: getattr(self, f.name) for f in self.fields
                                      if not f.is_payload})

    @classmethod
    def payload_kind_for(cls, attributes: dict[str, Any]) -> str | None:
        """The payload kind of a message of this class with these attributes."""
        for field in cls.fields:
            if field.is_payload:
                return str(field.kind)
        return None

    def values(self) -> tuple[Any, ...]:
        """The fields' values, in schema order."""
        return tuple(getattr(self, f.name) for f in self.fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Message)
        return self.values() == other.values()

    __hash__ = None  # type: ignore[assignment]  # mutable: the writer sets msgid

    def __repr__(self) -> str:
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in self.fields)
        return f"{type(self).__name__}({shown})"


def _declare(cls: type[Message]) -> None:
    """Turn the :class:`Field` class attributes of ``cls`` into its schema ``fields``
    (inherited ones first, the payload last) and register its ``TYPE``."""
    fields = {f.name: f for f in cls.fields}
    for name, value in list(vars(cls).items()):
        if isinstance(value, Field):
            value.name = name
            fields[name] = value
            delattr(cls, name)
    cls.fields = tuple(sorted(fields.values(), key=lambda f: f.is_payload))
    payloads = [f.name for f in cls.fields if f.is_payload]
    if payloads not in ([], ["data"]):
        raise TypeError(f"{cls.__name__}: the payload field is called data, not {payloads}")
    if cls.TYPE:
        MESSAGE_TYPES[cls.TYPE] = cls


_declare(Message)


class STA(Message):
    """Start of a stream, the first message each way: the sender's versions, and the
    sender's process id where it says it (gateways do: diagnostics and tests find a
    gateway by it). A reader takes attributes of ``STA`` it does not know as absent, so
    that a later peer is always told apart by its versions."""

    TYPE = "STA"
    protocol: int = attr(int)
    shoal: str = attr(str)
    pid: int | None = attr(int, default=None)


class CFG(Message):
    """Configuration, root to gateway: ``{"topology": ..., "settings": {...}}``."""

    TYPE = "CFG"
    gateway: str = attr(str)
    data: Any = payload("json")


class CTL(Message):
    """A job's action on ``target`` (a node set); the payload is JSON, raw bytes for ``write``."""

    TYPE = "CTL"
    job: int = attr(int)
    action: str = attr(str)
    target: str = attr(str)
    data: Any = payload("json", default=None)

    @classmethod
    def payload_kind_for(cls, attributes: dict[str, Any]) -> str | None:
        return "bytes" if attributes.get("action") == "write" else "json"


class ACK(Message):
    """Acknowledges the message whose msgid is ``ack``."""

    TYPE = "ACK"
    ack: int = attr(int)


class ERR(Message):
    """A fault, with the msgid it is ``about`` when there is one."""

    TYPE = "ERR"
    reason: str = attr(str)
    about: int | None = attr(int, default=None)


class OUT(Message):
    """Standard output shared by ``nodes`` of a job."""

    TYPE = "OUT"
    job: int = attr(int)
    nodes: str = attr(str)
    data: bytes = payload("bytes")


class SER(Message):
    """Standard error shared by ``nodes`` of a job."""

    TYPE = "SER"
    job: int = attr(int)
    nodes: str = attr(str)
    data: bytes = payload("bytes")


class RET(Message):
    """``nodes`` of a job ended with ``retcode`` (``status`` other than ok: why, in ``data``)."""

    TYPE = "RET"
    job: int = attr(int)
    nodes: str = attr(str)
    retcode: int = attr(int)
    status: str = attr(str, default="ok")
    data: str = payload("text", default="")


class TIM(Message):
    """``nodes`` of a job timed out."""

    TYPE = "TIM"
    job: int = attr(int)
    nodes: str = attr(str)


class END(Message):
    """End of a stream, the last message each way."""

    TYPE = "END"


class HBT(Message):
    """Heartbeat: the sender is alive."""

    TYPE = "HBT"
