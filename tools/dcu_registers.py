"""The register table as the concentrator knows it: read from docs/ only (never from firmware/).

Source, first found: docs/datamodel.json (written by `make docs`), else the markdown tables of
docs/datamodel.md whose header has an `id` and a `name` column (ids written 0x....). Status-word
flags come from the JSON's "status_bits" or from a markdown table with `bit` and `flag` (or
`name`) columns; when it has a `word` column, only the rows of word 0x003F.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
STATUS_WORD = 0x003F  # the public object id of the status word (facts §3)


@dataclass
class Register:
    id: int
    name: str
    size: int | None = None  # bytes; None = variable
    access: str = ""
    layout: str = ""
    extra: dict = field(default_factory=dict)


def _cells(line: str) -> list[str]:
    return [c.strip().strip("`").strip() for c in line.strip().strip("|").split("|")]


def _md_tables(text: str):
    """Yield (header, rows) for every pipe table in a markdown text (lower-cased header)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines) - 1:
        if lines[i].lstrip().startswith("|") and re.match(r"^\s*\|?[\s:|-]+\|?\s*$", lines[i + 1]):
            header = [h.lower() for h in _cells(lines[i])]
            rows = []
            i += 2
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            yield header, rows
        else:
            i += 1


def _int(v) -> int | None:
    if isinstance(v, int):
        return v
    m = re.match(r"^\s*(0x[0-9a-fA-F]+|\d+)", str(v))
    return int(m.group(1), 0) if m else None


class RegisterTable:
    def __init__(self, regs: list[Register], status_bits: dict[int, str] | None = None):
        self.regs = regs
        self.by_id = {r.id: r for r in regs}
        self.by_name = {r.name.lower(): r for r in regs}
        self.status_bits = status_bits or {}

    @classmethod
    def load(cls, docs: Path = DOCS) -> RegisterTable:
        js = docs / "datamodel.json"
        if js.exists():
            return cls.from_json(json.loads(js.read_text()))
        return cls.from_markdown((docs / "datamodel.md").read_text())

    @classmethod
    def from_json(cls, data) -> RegisterTable:
        rows = data["registers"] if isinstance(data, dict) else data
        regs = []
        for r in rows:
            known = {"id", "name", "size", "access", "layout"}
            regs.append(
                Register(
                    _int(r["id"]),
                    r["name"],
                    _int(r.get("size")) if r.get("size") is not None else None,
                    str(r.get("access", "")),
                    str(r.get("layout", "")),
                    {k: v for k, v in r.items() if k not in known},
                )
            )
        bits = {}
        if isinstance(data, dict):
            for b in data.get("status_bits", []):
                bits[_int(b["bit"])] = b.get("flag") or b.get("name")
        return cls(regs, bits)

    @classmethod
    def from_markdown(cls, text: str) -> RegisterTable:
        regs, bits = [], {}
        for header, rows in _md_tables(text):
            if "id" in header and "name" in header:
                col = {h: i for i, h in enumerate(header)}
                for row in rows:
                    rid = _int(row[col["id"]]) if len(row) > col["id"] else None
                    if rid is None:
                        continue

                    def get(name, row=row, col=col):
                        i = col.get(name)
                        return row[i] if i is not None and i < len(row) else ""

                    regs.append(
                        Register(
                            rid,
                            get("name"),
                            _int(get("size")),
                            get("access"),
                            get("layout") or get("type") or get("content"),
                            {h: get(h) for h in header},  # every column (rule, default, ...)
                        )
                    )
            elif "bit" in header and ("flag" in header or "name" in header):
                ci = header.index("bit")
                cn = header.index("flag") if "flag" in header else header.index("name")
                cw = header.index("word") if "word" in header else None
                for row in rows:
                    b = _int(row[ci].lower().removeprefix("bit"))
                    word = _int(row[cw]) if cw is not None else STATUS_WORD
                    if b is not None and word == STATUS_WORD:
                        bits[b] = row[cn]
        return cls(regs, bits)

    def find(self, ref: str | int) -> Register:
        """A register by name (case-insensitive), decimal id or 0x id."""
        if isinstance(ref, int):
            r = self.by_id.get(ref)
        else:
            r = self.by_name.get(ref.lower())
            if r is None and re.fullmatch(r"0x[0-9a-fA-F]+|\d+", ref):
                r = self.by_id.get(int(ref, 0))
        if r is None:
            raise KeyError(f"unknown register {ref!r} (see docs/datamodel.md)")
        return r

    def status_flags(self, word: bytes) -> list[str]:
        """Names of the flags set in a status word (big-endian integer; unnamed bits as bitN)."""
        v = int.from_bytes(word, "big")
        return [self.status_bits.get(b, f"bit{b}") for b in range(len(word) * 8) if v >> b & 1]


# --- values: text <-> bytes by the register's type (docs/datamodel.md type names) ---

EPOCH_2000 = 946684800  # Unix time of 2000-01-01 00:00:00 UTC
_INTS = {"u8": (1, False), "u16": (2, False), "u32": (4, False), "u64": (8, False)}
_INTS.update({"i16": (2, True), "i32": (4, True), "time": (4, False)})


def reg_type(reg: Register) -> str:
    """The first word of the layout/type column, lower case ('u32', 'ascii', 'table'...)."""
    m = re.match(r"\s*([A-Za-z]+\d*)", reg.layout or "")
    return m.group(1).lower() if m else ""


def parse_time(text: str) -> int:
    """Seconds since 2000 from an integer or an ISO date-time (UTC)."""
    import datetime as _dt

    if re.fullmatch(r"\d+", text):
        return int(text)
    t = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.timezone.utc)
    return int(t.timestamp()) - EPOCH_2000


def format_time(seconds: int) -> str:
    import datetime as _dt

    t = _dt.datetime.fromtimestamp(seconds + EPOCH_2000, _dt.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def encode_value(reg: Register, text: str, table: RegisterTable | None = None) -> bytes:
    """A command-line value for WRITE: 'hex:...' always works; else by the register's type."""
    if text.startswith("hex:"):
        return bytes.fromhex(text[4:])
    t = reg_type(reg)
    if t in _INTS:
        size, signed = _INTS[t]
        v = parse_time(text) if t == "time" else int(text, 0)
        return v.to_bytes(size, "big", signed=signed)
    if t == "ascii":
        b = text.encode("ascii")
        if reg.size is not None:
            if len(b) > reg.size:
                raise ValueError(f"{reg.name}: at most {reg.size} characters")
            b = b.ljust(reg.size, b" ")
        return b
    if t == "objlist" and table is not None:
        ids = [table.find(x.strip()).id for x in text.split(",") if x.strip()]
        return b"".join(i.to_bytes(2, "big") for i in ids)
    return bytes.fromhex(text)


def decode_value(reg: Register, value: bytes):
    """A JSON-friendly rendering of a register's bytes."""
    t = reg_type(reg)
    if t in _INTS and len(value) == _INTS[t][0]:
        v = int.from_bytes(value, "big", signed=_INTS[t][1])
        return {"value": v, "time": format_time(v)} if t == "time" else v
    if t == "ascii":
        try:
            return value.decode("ascii").rstrip(" ")
        except UnicodeDecodeError:
            pass
    if t == "objlist":
        return [int.from_bytes(value[i : i + 2], "big") for i in range(0, len(value) - 1, 2)]
    return value.hex()
