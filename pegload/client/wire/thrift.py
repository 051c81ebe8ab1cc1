"""Thrift binary protocol (strict) primitives and a struct compiler.

Structs are declared once as a table of ``(field id, name, kind, default)`` rows; ``compile_struct``
turns the table into a slotted class whose ``encode`` and ``_decode_at`` (behind ``from_bytes``)
are generated as straight-line Python, so the hot path does no per-field table lookups. The rDSN
placeholder types (blob, error_code, rpc_address, gpid, host_port) are declared with the STRUCT
type byte but carry a raw payload; they are decoded by field id, never by generic struct skipping
(protocol doc 2.2).
"""
from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # messages imports this module; the import is for annotations only
    from .messages import HostPort

_I8 = struct.Struct(">b")
_I16 = struct.Struct(">h")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_U16 = struct.Struct(">H")


class WireError(ValueError):
    """Malformed or truncated Thrift data."""


class TType:
    STOP = 0
    BOOL = 2
    BYTE = 3
    I16 = 6
    I32 = 8
    I64 = 10
    STRING = 11
    STRUCT = 12
    MAP = 13
    SET = 14
    LIST = 15


class Writer(bytearray):
    """The output buffer the generated ``encode`` methods append to (``w += bytes``,
    ``w.append(byte)``); a ``bytearray`` so a frame is built in place, header slot first."""


_FIXED = {TType.BOOL: 1, TType.BYTE: 1, TType.I16: 2, TType.I32: 4, TType.I64: 8}


def skip(buf: bytes, pos: int, ttype: int, depth: int = 0) -> int:
    """Return the position after a value of ``ttype`` starting at ``pos``."""
    if depth > 64:
        raise WireError("nesting too deep")
    n = len(buf)
    size = _FIXED.get(ttype)
    if size is not None:
        pos += size
    elif ttype == TType.STRING:
        if pos + 4 > n:
            raise WireError("truncated string length")
        ln = _I32.unpack_from(buf, pos)[0]
        if ln < 0:
            raise WireError(f"negative length {ln}")
        pos += 4 + ln
    elif ttype == TType.STRUCT:
        while True:
            if pos >= n:
                raise WireError("truncated struct")
            t = buf[pos]
            pos += 1
            if t == TType.STOP:
                break
            pos = skip(buf, pos + 2, t, depth + 1)
    elif ttype in (TType.LIST, TType.SET):
        if pos + 5 > n:
            raise WireError("truncated list header")
        et = buf[pos]
        cnt = _I32.unpack_from(buf, pos + 1)[0]
        pos += 5
        if cnt < 0:
            raise WireError(f"negative list size {cnt}")
        for _ in range(cnt):
            pos = skip(buf, pos, et, depth + 1)
    elif ttype == TType.MAP:
        if pos + 6 > n:
            raise WireError("truncated map header")
        kt, vt = buf[pos], buf[pos + 1]
        cnt = _I32.unpack_from(buf, pos + 2)[0]
        pos += 6
        for _ in range(max(cnt, 0)):
            pos = skip(buf, pos, kt, depth + 1)
            pos = skip(buf, pos, vt, depth + 1)
    else:
        raise WireError(f"unknown thrift type {ttype}")
    if pos > n:
        raise WireError("truncated value")
    return pos


# --------------------------------------------------------------------------------------------
# Struct compiler
#
# Field kinds and their wire form:
#   "bool" "byte" "i16" "i32" "i64"  plain Thrift scalars
#   "string"        STRING holding UTF-8 text (str in Python)
#   "binary"        STRING holding bytes
#   "blob"          rDSN blob: STRUCT type byte, payload i32 length + bytes
#   "error_code"    rDSN error_code: STRUCT type byte, payload a Thrift string (the error name)
#   "rpc_address"   rDSN rpc_address: STRUCT type byte, payload one i64
#   "gpid"          rDSN gpid: STRUCT type byte, payload one i64 (high 32 = partition, low 32 = app)
#   "host_port"     rDSN host_port: STRUCT type byte, payload string host, i16 port, byte type
#   ("struct", C)   a real Thrift struct of class C
#   ("list", kind)  LIST of the element kind (placeholder kinds use element type STRUCT)

_WIRE_TYPE = {
    "bool": TType.BOOL, "byte": TType.BYTE, "i16": TType.I16, "i32": TType.I32, "i64": TType.I64,
    "string": TType.STRING, "binary": TType.STRING, "blob": TType.STRUCT,
    "error_code": TType.STRUCT, "rpc_address": TType.STRUCT, "gpid": TType.STRUCT,
    "host_port": TType.STRUCT,
}

# A field kind of the table above: a name, or ("struct", class) / ("list", element kind).
Kind = str | tuple[str, Any]
# One row of a struct's field table: (field id, attribute name, kind, default).
Field = tuple[int, str, Kind, Any]


def wire_type(kind: Kind) -> int:
    if isinstance(kind, tuple):
        return TType.STRUCT if kind[0] == "struct" else TType.LIST
    return _WIRE_TYPE[kind]


class _Codegen:
    """Emits Python source for one value of a kind (encode into ``w``, decode from ``b``/``p``)."""

    def __init__(self) -> None:
        self.env: dict[str, Any] = {
            "_I16": _I16, "_I32": _I32, "_I64": _I64, "_I8": _I8, "_U16": _U16,
            "WireError": WireError, "skip": skip, "_read_str": _read_str,
            "_read_host_port": _read_host_port, "_write_host_port": _write_host_port,
            "Gpid": None, "_MISSING": EMPTY_LIST}
        self.n = 0

    def name(self, prefix: str, value: object) -> str:
        self.n += 1
        key = f"_{prefix}{self.n}"
        self.env[key] = value
        return key

    def enc(self, kind: Kind, v: str, ind: str) -> list[str]:
        if kind == "bool":
            return [f"{ind}w.append(1 if {v} else 0)"]
        if kind == "byte":
            return [f"{ind}w += _I8.pack({v})"]
        if kind == "i16":
            return [f"{ind}w += _I16.pack({v})"]
        if kind == "i32":
            return [f"{ind}w += _I32.pack({v})"]
        if kind in ("i64", "rpc_address"):
            return [f"{ind}w += _I64.pack({v})"]
        if kind == "gpid":
            return [f"{ind}w += _I32.pack({v}[1]); w += _I32.pack({v}[0])"]
        if kind in ("binary", "blob"):
            return [f"{ind}w += _I32.pack(len({v})); w += {v}"]
        if kind in ("string", "error_code"):
            return [f"{ind}_s = {v}.encode(); w += _I32.pack(len(_s)); w += _s"]
        if kind == "host_port":
            return [f"{ind}_write_host_port(w, {v})"]
        if kind[0] == "struct":
            return [f"{ind}{v}.encode(w)"]
        if kind[0] == "list":
            ek = kind[1]
            et = wire_type(ek)
            lines = [f"{ind}w.append({et}); w += _I32.pack(len({v}))", f"{ind}for _e in {v}:"]
            lines += self.enc(ek, "_e", ind + "    ")
            return lines
        raise ValueError(f"unknown kind {kind!r}")

    def dec(self, kind: Kind, target: str, ind: str) -> list[str]:
        """Lines reading one value at ``p`` from ``b`` into ``target`` (``p`` advanced)."""
        if kind == "bool":
            return [f"{ind}{target} = b[p] != 0; p += 1"]
        if kind == "byte":
            return [f"{ind}{target} = _I8.unpack_from(b, p)[0]; p += 1"]
        if kind == "i16":
            return [f"{ind}{target} = _I16.unpack_from(b, p)[0]; p += 2"]
        if kind == "i32":
            return [f"{ind}{target} = _I32.unpack_from(b, p)[0]; p += 4"]
        if kind in ("i64", "rpc_address"):
            return [f"{ind}{target} = _I64.unpack_from(b, p)[0]; p += 8"]
        if kind == "gpid":
            return [f"{ind}{target} = Gpid(_I32.unpack_from(b, p + 4)[0], _I32.unpack_from(b, p)[0]); p += 8"]
        if kind in ("binary", "blob"):
            return [f"{ind}_n = _I32.unpack_from(b, p)[0]; p += 4",
                    f"{ind}if _n < 0 or p + _n > len(b): raise WireError('bad binary length %d at %d' % (_n, p - 4))",
                    f"{ind}{target} = b[p:p + _n]; p += _n"]
        if kind in ("string", "error_code"):
            return [f"{ind}{target}, p = _read_str(b, p)"]
        if kind == "host_port":
            return [f"{ind}{target}, p = _read_host_port(b, p)"]
        if kind[0] == "struct":
            cls = self.name("C", kind[1])
            return [f"{ind}{target}, p = {cls}._decode_at(b, p)"]
        if kind[0] == "list":
            ek = kind[1]
            lines = [f"{ind}_n = _I32.unpack_from(b, p + 1)[0]; p += 5",
                     f"{ind}if _n < 0 or _n > len(b): raise WireError('bad list size %d' % _n)",
                     f"{ind}_l = []",
                     f"{ind}for _ in range(_n):"]
            lines += self.dec(ek, "_x", ind + "    ")
            lines.append(f"{ind}    _l.append(_x)")
            lines.append(f"{ind}{target} = _l")
            return lines
        raise ValueError(f"unknown kind {kind!r}")


def _read_str(b: bytes, p: int) -> tuple[str, int]:
    n = _I32.unpack_from(b, p)[0]
    p += 4
    if n < 0 or p + n > len(b):
        raise WireError(f"bad string length {n} at {p - 4}")
    try:
        return b[p : p + n].decode(), p + n
    except UnicodeDecodeError as e:
        raise WireError(f"string is not UTF-8: {e}") from None


def _read_host_port(b: bytes, p: int) -> tuple[HostPort, int]:
    from .messages import HostPort

    host, p = _read_str(b, p)
    port = _U16.unpack_from(b, p)[0]
    kind = b[p + 2]
    return HostPort(host, port, kind), p + 3


def _write_host_port(w: bytearray, hp: HostPort) -> None:
    h = hp.host.encode()
    w += _I32.pack(len(h))
    w += h
    w += _U16.pack(hp.port)
    w.append(hp.type)


class _Unset:
    """Marker default meaning 'a fresh empty list' (explicit None still means 'leave it off')."""


EMPTY_LIST = _Unset()


def compile_struct(name: str, fields: list[Field], doc: str = "",
                   env_extra: dict[str, Any] | None = None) -> tuple[type[Any], dict[str, Any]]:
    """Build a slotted message class from ``[(fid, attr, kind, default), ...]``.

    Fields whose value is ``None`` are not written (that is how optional fields, and fields a
    particular client omits, stay off the wire). Decoding starts from the defaults, so a peer may
    omit any field; unknown field ids are skipped generically.
    """
    cg = _Codegen()
    if env_extra:
        cg.env.update(env_extra)
    attrs = [f[1] for f in fields]
    # __init__
    params = []
    body = []
    for _fid, attr, _kind, default in fields:
        if default is EMPTY_LIST:
            params.append(f"{attr}=_MISSING")
            body.append(f"    self.{attr} = [] if {attr} is _MISSING else {attr}")
        else:
            params.append(f"{attr}={cg.name('D', default)}")
            body.append(f"    self.{attr} = {attr}")
    src = [f"def __init__(self, {', '.join(params)}):"] + (body or ["    pass"])
    # encode: the struct's fields then STOP
    src.append("def encode(self, w):")
    for fid, attr, kind, _default in sorted(fields):
        hdr = cg.name("H", bytes((wire_type(kind),)) + _I16.pack(fid))
        src.append(f"    v = self.{attr}")
        src.append("    if v is not None:")
        src.append(f"        w += {hdr}")
        src += cg.enc(kind, "v", "        ")
    src.append("    w.append(0)")
    # decode
    src.append("def _decode_at(cls, b, p):")
    for _fid, attr, _kind, default in fields:
        if default is EMPTY_LIST:
            src.append(f"    f_{attr} = []")
        else:
            src.append(f"    f_{attr} = {cg.name('D', default)}")
    src.append("    try:")
    src.append("        while True:")
    src.append("            t = b[p]; p += 1")
    src.append("            if t == 0: break")
    src.append("            fid = _I16.unpack_from(b, p)[0]; p += 2")
    first = True
    for fid, attr, kind, _default in fields:
        kw = "if" if first else "elif"
        first = False
        src.append(f"            {kw} fid == {fid} and t == {wire_type(kind)}:")
        src += cg.dec(kind, f"f_{attr}", "                ")
    if fields:
        src.append("            else:")
        src.append("                p = skip(b, p, t)")
    else:
        src.append("            p = skip(b, p, t)")
    src.append("    except (IndexError, __import__('struct').error) as e:")
    src.append(f"        raise WireError('truncated {name}: %s' % e) from None")
    src.append(f"    return cls({', '.join('f_' + a for a in attrs)}), p")
    src.append("def __eq__(self, other):")
    src.append("    return type(self) is type(other) and all("
               "getattr(self, a) == getattr(other, a) for a in self.__slots__)")
    src.append("def __repr__(self):")
    src.append(f"    return '{name}(' + ', '.join('%s=%r' % (a, getattr(self, a)) for a in self.__slots__) + ')'")
    ns: dict[str, Any] = {}
    exec(compile("\n".join(src), f"<wire struct {name}>", "exec"), cg.env, ns)

    def from_bytes(cls: type[Any], data: bytes) -> Any:
        obj, _ = cls._decode_at(bytes(data), 0)
        return obj

    def to_bytes(self: Any) -> bytes:
        w = Writer()
        self.encode(w)
        return bytes(w)

    cls = type(name, (), {
        "__slots__": tuple(attrs), "__doc__": doc, "__init__": ns["__init__"],
        "encode": ns["encode"], "_decode_at": classmethod(ns["_decode_at"]),
        "from_bytes": classmethod(from_bytes),
        "to_bytes": to_bytes, "__eq__": ns["__eq__"], "__repr__": ns["__repr__"], "__hash__": None,
        "FIELDS": tuple(fields),
    })
    cg.env[f"_self_{name}"] = cls
    return cls, cg.env
