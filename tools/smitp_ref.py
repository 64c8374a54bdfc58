"""Independent CPython codec of the Original-SMITP application layer, master side.

Written from docs/smitp.md, docs/smitp_security.md and docs/datamodel.md only; it shares no code
with firmware/ (AES and CMAC from the `cryptography` package, CRC-32 from zlib), so that the
firmware and this module check each other (host_tests/py/test_smitp_ref*.py runs every hex
example of the docs through it; tools/concentrator.py uses it on the wire).

Layers, bottom up:
  primitives   crc32, tmac, ctr_iv, CTR/ECB         (docs/smitp_security.md, "TMAC", "Encryption")
  sealing      seal()/open_sealed() of ATTR|DATA|DT|TMAC under ECC 1/2/5/6
  messages     request builders and answer parsers per ATTR (docs/smitp.md)
  Master       one meter's LMON, builds requests, checks answers, adopts NACK-auth/CHALLENGE
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import cmac as _cmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# --- ATTR codes (facts §3; docs/smitp.md) -------------------------------------------------------

READ_REQ, READ_RESP = 2, 3
WRITE_REQ = 4
READTAB_SEL_REQ, READTAB_SEL_RESP = 6, 7
READTAB_REQ, READTAB_RESP = 8, 9
WRITETAB_REQ = 10
SETTAB_REQ = 14
RESETTAB_REQ = 16
COMMAND_REQ = 18
DATASPONT = 20
BUFF_SELECT_REQ, BUFF_SELECT_RESP = 22, 23
GETTAB_REQ, GETTAB_RESP = 30, 31
SETIC_REQ = 40
WRITETABIC_REQ = 42
CHALLENGE_REQ, CHALLENGE_RESP = 112, 113
ACK_A, NACK_A = 253, 255
ACK_A_AUTH, NACK_A_AUTH = 243, 245
ACK_B, NACK_B = 251, 249
ACK_B_AUTH, NACK_B_AUTH = 241, 239
AUTH_OFFSET = 100

NACK_AUTH = 10  # PAR1 of NACK-auth (facts §3)

ECC_CLEAR, ECC_CTR_READ, ECC_ECB_READ, ECC_CTR_WRITE, ECC_ECB_WRITE = 0, 1, 2, 5, 6
VALID_ECC = (0, 1, 2, 5, 6)
DT_LEN = 8
TMAC_LEN = 8
LSDU_MAX = 128
AUTH_DATA_MAX = LSDU_MAX - 1 - DT_LEN - TMAC_LEN  # 111


class SmitpError(ValueError):
    """An answer this codec cannot accept (bad length, bad TMAC, unexpected ATTR...)."""


class AuthError(SmitpError):
    """TMAC or counter mismatch: the answer is not authentic."""


def is_authenticated(attr: int) -> bool:
    """102 <= ATTR < 247, except CHALLENGE.REQ 112 (facts §3)."""
    return 102 <= attr < 247 and attr != CHALLENGE_REQ


# --- primitives ---


def crc32(data: bytes) -> int:
    """Standard CRC-32 (reflected 0xEDB88320, init and xor-out 0xFFFFFFFF)."""
    return zlib.crc32(bytes(data)) & 0xFFFFFFFF


def cmac16(key: bytes, msg: bytes) -> bytes:
    c = _cmac.CMAC(algorithms.AES(bytes(key)))
    c.update(bytes(msg))
    return c.finalize()


def tmac_block(attr: int, aca: bytes, mon: int, crc: int) -> bytes:
    """M = ATTR(1) | ACA[0..2](3) | MON(8, BE) | CRC32(4, BE)."""
    return bytes([attr]) + bytes(aca[:3]) + struct.pack(">QI", mon, crc)


def tmac(key: bytes, attr: int, aca: bytes, mon: int, crc: int) -> bytes:
    return cmac16(key, tmac_block(attr, aca, mon, crc))[:TMAC_LEN]


IV_REQUEST, IV_ANSWER = 0x00, 0x80  # byte 14 of the CTR IV (docs/smitp_security.md §6)


def ctr_iv(aca: bytes, mon: int, answer: bool = False) -> bytes:
    """ACA(6) | MON(8, BE) | D | 01, D = 00 in a request and 80 in an answer; the whole block
    counts up by one per 16 bytes."""
    return bytes(aca) + struct.pack(">QBB", mon, IV_ANSWER if answer else IV_REQUEST, 1)


def ctr(key: bytes, iv: bytes, data: bytes) -> bytes:
    e = Cipher(algorithms.AES(bytes(key)), modes.CTR(bytes(iv))).encryptor()
    return e.update(bytes(data)) + e.finalize()


def ecb_encrypt(key: bytes, block: bytes) -> bytes:
    if len(block) != 16:
        raise ValueError("ECB works on exactly one 16-byte block here")
    e = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()
    return e.update(bytes(block)) + e.finalize()


def ecb_decrypt(key: bytes, block: bytes) -> bytes:
    if len(block) != 16:
        raise ValueError("ECB works on exactly one 16-byte block here")
    d = Cipher(algorithms.AES(bytes(key)), modes.ECB()).decryptor()
    return d.update(bytes(block)) + d.finalize()


# --- keys and ECC ---


@dataclass
class Keys:
    write: bytes  # K1
    read: bytes  # K2

    def for_ecc(self, ecc: int) -> bytes:
        return self.write if ecc & 4 else self.read

    @classmethod
    def from_hex(cls, key_write: str, key_read: str) -> Keys:
        kw, kr = bytes.fromhex(key_write), bytes.fromhex(key_read)
        if len(kw) != 16 or len(kr) != 16:
            raise ValueError("keys are 16 bytes (32 hex digits)")
        return cls(kw, kr)


def ecc_mode(ecc: int) -> str:
    """'clear', 'ctr' or 'ecb' (bits 0-1 of ECC)."""
    if ecc not in VALID_ECC:
        raise ValueError(f"ECC {ecc} is not one of {VALID_ECC}")
    return ("clear", "ctr", "ecb")[ecc & 3]


def _crypt(keys: Keys, ecc: int, aca: bytes, mon: int, data: bytes, answer, ecb) -> bytes:
    mode = ecc_mode(ecc)
    if mode == "clear":
        return bytes(data)
    k = keys.for_ecc(ecc)
    if mode == "ctr":  # CTR is its own inverse
        return ctr(k, ctr_iv(aca, mon, answer), data)
    if len(data) != 16:
        raise SmitpError(f"ECB part is {len(data)} bytes, not 16")
    return ecb(k, data)


def encrypt(keys: Keys, ecc: int, aca: bytes, mon: int, plain: bytes, answer=False) -> bytes:
    """Encrypt everything after ATTR as the ECC says (CTR: any length; ECB: exactly 16 bytes)."""
    return _crypt(keys, ecc, aca, mon, plain, answer, ecb_encrypt)


def decrypt(keys: Keys, ecc: int, aca: bytes, mon: int, cipher: bytes, answer=False) -> bytes:
    return _crypt(keys, ecc, aca, mon, cipher, answer, ecb_decrypt)


def random_bytes(n: int) -> bytes:
    return os.urandom(n)


# --- sealing: ATTR | DATA | DT | TMAC ------------------------------------------------------------


def seal(
    keys: Keys, ecc: int, attr: int, data: bytes, dt: bytes, aca: bytes, mon: int, answer=False
) -> bytes:
    """The authenticated LSDU as on air: ATTR, then DATA|DT|TMAC encrypted under the ECC
    (answer=True: the meter's direction, CTR IV byte 14 = 80)."""
    if len(dt) != DT_LEN:
        raise ValueError("DT is 8 bytes")
    if len(data) > AUTH_DATA_MAX:
        raise ValueError(f"authenticated DATA is at most {AUTH_DATA_MAX} bytes")
    if ecc == 0:
        raise ValueError("an authenticated LSDU needs ECC 1, 2, 5 or 6")
    k = keys.for_ecc(ecc)
    t = tmac(k, attr, aca, mon, crc32(bytes(aca) + bytes(data) + bytes(dt)))
    return bytes([attr]) + encrypt(keys, ecc, aca, mon, bytes(data) + bytes(dt) + t, answer)


@dataclass
class Opened:
    attr: int
    data: bytes
    dt: bytes
    tmac: bytes


def open_sealed(keys: Keys, ecc: int, lsdu: bytes, aca: bytes, mon: int, answer=False) -> Opened:
    """Decrypt and verify an authenticated LSDU; raise AuthError on a TMAC mismatch."""
    lsdu = bytes(lsdu)
    if len(lsdu) < 1 + DT_LEN + TMAC_LEN:
        raise SmitpError(f"authenticated LSDU of {len(lsdu)} bytes is too short")
    plain = decrypt(keys, ecc, aca, mon, lsdu[1:], answer)
    data, dt, t = plain[:-16], plain[-16:-8], plain[-8:]
    want = tmac(keys.for_ecc(ecc), lsdu[0], aca, mon, crc32(bytes(aca) + data + dt))
    if want != t:
        raise AuthError(f"TMAC {t.hex()} != {want.hex()} (MON {mon})")
    return Opened(lsdu[0], data, dt, t)


# --- worked examples in the docs ---


def parse_examples(markdown: str) -> list[dict]:
    """The worked examples of a markdown text as dicts of their `key: value` lines ('#' starts a
    comment; 'line' = where the example starts). Three forms are read:
    - every fenced block with info string `smitp-example` is one example;
    - a fenced block whose first line is `example: NAME` holds several, each starting at an
      `example:` line (the form docs/smitp_security.md generates);
    - a fenced block of `request (ECC e[, MON m], discipline 0xD)` / `answer (ECC e)` lines,
      each followed by its hex and an optional `plain: ...` line (ATTR + DATA), named by the
      heading above it (the form docs/smitp.md generates)."""
    out = []
    block = None
    heading = ""
    for no, line in enumerate(markdown.splitlines(), 1):
        s = line.strip()
        if block is None:
            if s.startswith("#"):
                heading = s.lstrip("#").strip()
            if s.startswith("```"):
                block = {"info": s[3:].strip(), "start": no, "lines": [], "heading": heading}
            continue
        if s.startswith("```"):
            out += _block_examples(block)
            block = None
            continue
        block["lines"].append((no, line))
    if block is not None:
        raise ValueError(f"code block at line {block['start']} is not closed")
    return out


def _kv(no, line):
    s = line.split("#", 1)[0].strip()
    if not s:
        return None
    k, sep, v = s.partition(":")
    if not sep:
        raise ValueError(f"line {no}: expected 'key: value', got {line!r}")
    return k.strip().lower(), v.strip()


def _block_examples(block) -> list[dict]:
    lines = [(no, ln) for no, ln in block["lines"] if ln.strip()]
    if block["info"] == "smitp-example":
        ex = {"line": block["start"]}
        for no, ln in lines:
            kv = _kv(no, ln)
            if kv:
                ex[kv[0]] = kv[1]
        return [ex]
    if lines and _SIDE_LINE.match(lines[0][1]):
        return [_side_block(block, lines)]
    if not lines or not lines[0][1].strip().startswith("example:"):
        return []
    out = []
    for no, ln in lines:
        kv = _kv(no, ln)
        if kv is None:
            continue
        if kv[0] == "example":
            out.append({"line": no, "name": kv[1]})
        else:
            out[-1][kv[0]] = kv[1]
    return out


_SIDE_LINE = re.compile(r"^\s*(request|answer)\s*\(([^)]*)\)\s*$")


def _side_block(block, lines) -> dict:
    ex = {"line": block["start"], "name": block["heading"]}
    side = None
    for no, ln in lines:
        m = _SIDE_LINE.match(ln)
        if m:
            side = m.group(1)
            for item in m.group(2).split(","):
                k, _, v = item.strip().partition(" ")
                key = {"ecc": "ecc", "mon": "mon", "discipline": "disc"}.get(k.lower())
                if key == "mon":
                    ex["mon"] = v.strip()
                elif key:
                    ex[f"{side}_{key}"] = v.strip()
            continue
        if side is None:
            raise ValueError(f"line {no}: hex before any request/answer line")
        text = ln.strip()
        if text.startswith("plain:"):
            ex[f"{side}_plain"] = text[6:].strip()
        else:
            ex[f"{side}_hex"] = (ex.get(f"{side}_hex", "") + " " + text).strip()
    return ex


def hexbytes(v: str) -> bytes:
    return bytes.fromhex(v.replace(" ", "").replace("|", ""))


def intval(v: str) -> int:
    return int(v.replace("_", ""), 0)


# --- messages (docs/smitp.md §5): APDU builders and parsers, plaintext ---------------------------
#
# Each request builder returns the plain APDU (the authenticated DATA is the same bytes). Parsers
# return a dict of named fields and raise SmitpError on a layout violation. All integers are
# big-endian; OBJ u16, TIME/RNO u32.

COMMANDS = {
    "billing_close": 0x01,
    "clock_set": 0x02,
    "clock_adjust": 0x03,
    "relay_disconnect": 0x04,
    "relay_reconnect_enable": 0x05,
    "relay_reconnect": 0x06,
    "event_log_clear": 0x07,
    "sync_freeze": 0x08,
    "max_demand_reset": 0x09,
    "bnode_update": 0x0A,
    "ic_cancel": 0x0B,
    "download_start": 0x18,
    "download_activate": 0x19,
    "download_abort": 0x1A,
    "download_relay": 0x1B,
    "display_special": 0x20,
    "display_special_clear": 0x21,
    "display_sw_id": 0x22,
}
# the other codes take no arguments; 0x18: ID(4) SIZE(4) BS(1) (docs/download.md §6);
# 0x1B download_relay: FROM(6) DELAY(2) (§5.4); display_special: DURATION_S, TEXT (16 ASCII,
# space padded)
COMMAND_ARGS = {0x02: ">I", 0x03: ">i", 0x18: ">4sIB", 0x19: ">I", 0x1B: ">6sH", 0x20: ">H16s"}

NACK_NAMES = {
    1: "unknown object",
    2: "access denied",
    3: "bad length",
    4: "not supported",
    5: "answer too long",
    6: "bad value",
    7: "busy",
    8: "sequence",
    9: "B-Node absent",
    10: "authentication",
    11: "not stored",
    20: "image tag",
    21: "image format",
    22: "image board",
    23: "downgrade",
    24: "block range",
    25: "no download",
    26: "download state",
}

SEL_RNO, SEL_TIME = 0, 1
WRITETAB_LAST = 0x01
TABLE_HEADER = struct.Struct(">HHBI")  # COUNT, CAPACITY, RECSIZE, END
BLOCK_HEADER = struct.Struct(">HIIB")  # OBJ, FIRST, END, N


def read_req(obj: int) -> bytes:
    return struct.pack(">H", obj)


def readtab_req(obj: int, rno: int) -> bytes:
    return struct.pack(">HI", obj, rno)


def readtab_sel_req(obj: int, sel: int, frm: int, to: int) -> bytes:
    return struct.pack(">HBII", obj, sel, frm, to)


buff_select_req = readtab_sel_req


def gettab_req(tab: int) -> bytes:
    return bytes([tab])


def settab_req(tab: int, objs) -> bytes:
    return bytes([tab]) + b"".join(struct.pack(">H", o) for o in objs)


def write_req(obj: int, value: bytes) -> bytes:
    return struct.pack(">H", obj) + bytes(value)


def writetab_req(obj: int, start: int, last: bool, records) -> bytes:
    flags = WRITETAB_LAST if last else 0
    return struct.pack(">HBB", obj, start, flags) + b"".join(bytes(r) for r in records)


def resettab_req(obj: int) -> bytes:
    return struct.pack(">H", obj)


def setic_req(time_s: int, obj: int, value: bytes) -> bytes:
    return struct.pack(">IH", time_s, obj) + bytes(value)


def writetabic_req(time_s: int, obj: int, start: int, last: bool, records) -> bytes:
    return struct.pack(">I", time_s) + writetab_req(obj, start, last, records)


def command_req(code: int | str, *args) -> bytes:
    if isinstance(code, str):
        code = COMMANDS[code]
    fmt = COMMAND_ARGS.get(code)
    if fmt is None:
        if args:
            raise ValueError(f"COMMAND {code:#04x} takes no arguments")
        return bytes([code])
    return bytes([code]) + struct.pack(fmt, *args)


def _need(apdu: bytes, n: int, what: str, exact=True):
    if (len(apdu) != n) if exact else (len(apdu) < n):
        raise SmitpError(f"{what}: {len(apdu)} bytes, {'' if exact else 'at least '}{n} expected")


def parse_request(attr: int, apdu: bytes) -> dict:
    """Fields of a plain request APDU (attr = the plain ATTR code, e.g. 2 for 102)."""
    a = bytes(apdu)
    if attr == READ_REQ or attr == RESETTAB_REQ:
        _need(a, 2, "OBJ")
        return {"obj": struct.unpack(">H", a)[0]}
    if attr == READTAB_REQ:
        _need(a, 6, "READTAB.REQ")
        obj, rno = struct.unpack(">HI", a)
        return {"obj": obj, "rno": rno}
    if attr in (READTAB_SEL_REQ, BUFF_SELECT_REQ):
        _need(a, 11, "selection")
        obj, sel, frm, to = struct.unpack(">HBII", a)
        return {"obj": obj, "sel": sel, "from": frm, "to": to}
    if attr == GETTAB_REQ:
        _need(a, 1, "GETTAB.REQ")
        return {"tab": a[0]}
    if attr == SETTAB_REQ:
        if len(a) < 1 or len(a) % 2 != 1:
            raise SmitpError("SETTAB.REQ is TAB + 2 bytes per OBJ")
        return {
            "tab": a[0],
            "objs": [struct.unpack_from(">H", a, i)[0] for i in range(1, len(a), 2)],
        }
    if attr == WRITE_REQ:
        _need(a, 2, "WRITE.REQ", exact=False)
        return {"obj": struct.unpack_from(">H", a)[0], "value": a[2:]}
    if attr == WRITETAB_REQ:
        _need(a, 4, "WRITETAB.REQ", exact=False)
        obj, start, flags = struct.unpack_from(">HBB", a)
        return {"obj": obj, "start": start, "flags": flags, "records": a[4:]}
    if attr == SETIC_REQ:
        _need(a, 6, "SETIC.REQ", exact=False)
        t, obj = struct.unpack_from(">IH", a)
        return {"time": t, "obj": obj, "value": a[6:]}
    if attr == WRITETABIC_REQ:
        _need(a, 8, "WRITETABIC.REQ", exact=False)
        t, obj, start, flags = struct.unpack_from(">IHBB", a)
        return {"time": t, "obj": obj, "start": start, "flags": flags, "records": a[8:]}
    if attr == COMMAND_REQ:
        _need(a, 1, "COMMAND.REQ", exact=False)
        out = {"code": a[0]}
        fmt = COMMAND_ARGS.get(a[0])
        if fmt:
            _need(a, 1 + struct.calcsize(fmt), "COMMAND args")
            out["arg"] = struct.unpack(fmt, a[1:])[0]
        elif len(a) != 1:
            raise SmitpError(f"COMMAND {a[0]:#04x} takes no arguments")
        return out
    raise SmitpError(f"no request layout for ATTR {attr}")


def build_request(attr: int, f: dict) -> bytes:
    """The inverse of parse_request (used to reproduce the docs' examples byte for byte)."""
    if attr in (READ_REQ, RESETTAB_REQ):
        return read_req(f["obj"])
    if attr == READTAB_REQ:
        return readtab_req(f["obj"], f["rno"])
    if attr in (READTAB_SEL_REQ, BUFF_SELECT_REQ):
        return readtab_sel_req(f["obj"], f["sel"], f["from"], f["to"])
    if attr == GETTAB_REQ:
        return gettab_req(f["tab"])
    if attr == SETTAB_REQ:
        return settab_req(f["tab"], f["objs"])
    if attr == WRITE_REQ:
        return write_req(f["obj"], f["value"])
    if attr == WRITETAB_REQ:
        return struct.pack(">HBB", f["obj"], f["start"], f["flags"]) + f["records"]
    if attr == SETIC_REQ:
        return setic_req(f["time"], f["obj"], f["value"])
    if attr == WRITETABIC_REQ:
        return struct.pack(">IHBB", f["time"], f["obj"], f["start"], f["flags"]) + f["records"]
    if attr == COMMAND_REQ:
        return command_req(f["code"], *([f["arg"]] if "arg" in f else []))
    raise SmitpError(f"no request layout for ATTR {attr}")


def parse_table_header(value: bytes) -> dict:
    """READ.RESP of a table object: COUNT(2) CAPACITY(2) RECSIZE(1) END(4)."""
    _need(value, TABLE_HEADER.size, "table header")
    count, cap, recsize, end = TABLE_HEADER.unpack(value)
    return {"count": count, "capacity": cap, "recsize": recsize, "end": end}


def parse_answer(attr: int, apdu: bytes) -> dict:
    """Fields of a plain answer APDU (attr = the plain ATTR code: 3, 9, 253, 255...)."""
    a = bytes(apdu)
    if attr == READ_RESP:
        return {"value": a}
    if attr in (READTAB_RESP, READTAB_SEL_RESP):
        _need(a, BLOCK_HEADER.size, "block answer", exact=False)
        obj, first, end, n = BLOCK_HEADER.unpack_from(a)
        body = a[BLOCK_HEADER.size :]
        if (n == 0 and body) or (n and len(body) % n):
            raise SmitpError(f"{len(body)} record bytes for N = {n}")
        size = len(body) // n if n else 0
        recs = [body[i * size : (i + 1) * size] for i in range(n)]
        return {"obj": obj, "first": first, "end": end, "n": n, "records": recs}
    if attr == BUFF_SELECT_RESP:
        _need(a, 11, "BUFF_SELECT.RESP")
        obj, first, end, recsize = struct.unpack(">HIIB", a)
        return {"obj": obj, "first": first, "end": end, "recsize": recsize}
    if attr == GETTAB_RESP:
        _need(a, 1, "GETTAB.RESP", exact=False)
        return {"tab": a[0], "values": a[1:]}
    if attr in (ACK_A, ACK_B):
        _need(a, 0, "ACK")
        return {}
    if attr in (NACK_A, NACK_B):
        _need(a, 1, "NACK")
        return {"par1": a[0], "reason": NACK_NAMES.get(a[0], "?")}
    raise SmitpError(f"no answer layout for ATTR {attr}")


def plain_attr(attr: int) -> int:
    """The plain code of an authenticated ATTR (102 -> 2, 243 -> 253, 245 -> 255...)."""
    if attr in (ACK_A_AUTH, NACK_A_AUTH, ACK_B_AUTH, NACK_B_AUTH):
        return attr + 10
    return attr - AUTH_OFFSET if is_authenticated(attr) else attr


def auth_attr(attr: int) -> int:
    """The authenticated code of a plain request ATTR (2 -> 102)."""
    if not 0 < attr < 100:
        raise ValueError(f"ATTR {attr} has no authenticated variant")
    return attr + AUTH_OFFSET


# --- the master: one meter's counter, requests and answers ---


@dataclass
class Request:
    attr: int  # ATTR on air (102 for an authenticated READ)
    apdu: bytes  # plaintext APDU (= authenticated DATA)
    ecc: int
    lsdu: bytes  # as on air
    mon: int | None = None  # MON it was sealed with (authenticated requests)
    dt: bytes | None = None
    nonce: bytes | None = None  # CHALLENGE.REQ: T + N


@dataclass
class Reply:
    attr: int  # ATTR as received
    code: int  # its plain code: 3 READ.RESP, 253 ACK, 255 NACK...
    apdu: bytes  # plaintext APDU / DATA
    authenticated: bool
    fields: dict
    dt: bytes | None = None
    lmon: int | None = None  # the meter's LMON (NACK-auth, CHALLENGE.RESP)

    @property
    def nack(self) -> int | None:
        return self.fields.get("par1") if self.code in (NACK_A, NACK_B) else None

    @property
    def ok(self) -> bool:
        return self.code not in (NACK_A, NACK_B)


def dt_encode(seconds: int) -> bytes:
    """DATE-TIME: u64 seconds since 2000-01-01 00:00:00 UTC, LSB first."""
    return struct.pack("<Q", seconds)


def dt_decode(dt: bytes) -> int:
    return struct.unpack("<Q", bytes(dt))[0]


# --- NACK-auth and CHALLENGE (docs/smitp_security.md §8, §9): ECC 2, clear prefix + one block ---

CHALLENGE_T_LEN, CHALLENGE_N_LEN = 2, 16


def etm(request_lsdu: bytes) -> bytes:
    """Etm*: the last 8 bytes of the refused request's LSDU as sent (all bytes after ATTR when
    there are fewer than 8)."""
    rest = bytes(request_lsdu)[1:]
    return rest[-8:] if len(rest) >= 8 else rest


def lmon_block(keys: Keys, attr: int, aca: bytes, lmon: int, crc_input: bytes) -> bytes:
    """The 16-byte plaintext LMON(8, LSB first) | TMAC(8) of NACK-auth and CHALLENGE.RESP."""
    t = tmac(keys.read, attr, aca, lmon, crc32(bytes(aca) + bytes(crc_input)))
    return struct.pack("<Q", lmon) + t


def _open_lmon_block(keys, attr, aca, block, crc_input) -> int:
    plain = ecb_decrypt(keys.read, block)
    lmon = struct.unpack_from("<Q", plain)[0]
    if lmon_block(keys, attr, aca, lmon, crc_input) != plain:
        raise AuthError(f"ATTR {attr}: TMAC of the LMON block does not verify")
    return lmon


def nack_auth(keys: Keys, aca: bytes, lmon: int, request_lsdu: bytes) -> bytes:
    """NACK-auth LSDU: F5 | 0A | ECB_K2(LMON LSB first | TMAC), sent with ECC 2."""
    par1 = bytes([NACK_AUTH])
    blk = lmon_block(keys, NACK_A_AUTH, aca, lmon, par1 + etm(request_lsdu))
    return bytes([NACK_A_AUTH]) + par1 + ecb_encrypt(keys.read, blk)


def open_nack_auth(keys: Keys, aca: bytes, lsdu: bytes, request_lsdu: bytes) -> int:
    """Verify a NACK-auth against the request it refuses; return the meter's LMON."""
    lsdu = bytes(lsdu)
    if len(lsdu) != 18 or lsdu[0] != NACK_A_AUTH or lsdu[1] != NACK_AUTH:
        raise SmitpError("not a NACK-auth (F5 0A + 16 bytes)")
    return _open_lmon_block(keys, NACK_A_AUTH, aca, lsdu[2:], lsdu[1:2] + etm(request_lsdu))


def challenge_req(t: bytes, n: bytes) -> bytes:
    """CHALLENGE.REQ LSDU (ECC 0): 70 | T(2) | N(16)."""
    if len(t) != CHALLENGE_T_LEN or len(n) != CHALLENGE_N_LEN:
        raise ValueError("T is 2 bytes, N 16")
    return bytes([CHALLENGE_REQ]) + bytes(t) + bytes(n)


def challenge_resp(keys: Keys, aca: bytes, lmon: int, t: bytes, n: bytes) -> bytes:
    """CHALLENGE.RESP LSDU (ECC 2): 71 | T | ECB_K2(LMON LSB first | TMAC over ACA|N)."""
    blk = lmon_block(keys, CHALLENGE_RESP, aca, lmon, n)
    return bytes([CHALLENGE_RESP]) + bytes(t) + ecb_encrypt(keys.read, blk)


def open_challenge_resp(keys: Keys, aca: bytes, lsdu: bytes, t: bytes, n: bytes) -> int:
    lsdu = bytes(lsdu)
    if len(lsdu) != 19 or lsdu[0] != CHALLENGE_RESP:
        raise SmitpError("not a CHALLENGE.RESP (71 + T + 16 bytes)")
    if lsdu[1:3] != bytes(t):
        raise SmitpError(f"CHALLENGE.RESP for T {lsdu[1:3].hex()}, sent {bytes(t).hex()}")
    return _open_lmon_block(keys, CHALLENGE_RESP, aca, lsdu[3:], n)


# --- the master ---


def wall_seconds() -> int:
    """Seconds since 2000-01-01 00:00:00 UTC from this computer's clock."""
    import time

    return int(time.time()) - 946684800


class Master:
    """The concentrator's side for one meter: its ACA, keys and LMON. request() builds the LSDU
    (an authenticated one with MON = LMON + 1 and DT = seconds()), reply() checks the answer
    against that request: a verified sealed answer moves LMON to the request's MON; a verified
    NACK-auth or CHALLENGE.RESP sets LMON to the meter's value (adopt)."""

    def __init__(self, aca: bytes, keys: Keys | None = None, lmon: int = 0, seconds=None):
        self.aca = bytes(aca)
        self.keys = keys
        self.lmon = lmon
        self.seconds = seconds or wall_seconds
        self.tag = 0

    def request(self, attr: int, apdu: bytes = b"", ecc: int = 0, dt: bytes | None = None):
        apdu = bytes(apdu)
        if ecc == 0:
            return Request(attr, apdu, 0, bytes([attr]) + apdu)
        if self.keys is None:
            raise SmitpError("authenticated request without keys")
        a = auth_attr(attr)
        mon = self.lmon + 1
        dt = dt if dt is not None else dt_encode(max(0, self.seconds()))
        lsdu = seal(self.keys, ecc, a, apdu, dt, self.aca, mon)
        return Request(a, apdu, ecc, lsdu, mon, dt)

    def challenge(self, n: bytes | None = None, t: bytes | None = None) -> Request:
        """CHALLENGE.REQ with a fresh random N (or n) and tag T (2 bytes; default a counter)."""
        if t is None:
            self.tag = (self.tag + 1) & 0xFFFF
            t = struct.pack(">H", self.tag)
        n = random_bytes(CHALLENGE_N_LEN) if n is None else bytes(n)
        return Request(CHALLENGE_REQ, t + n, 0, challenge_req(t, n), nonce=t + n)

    def reply(self, req: Request, lsdu: bytes, ecc: int) -> Reply:
        lsdu = bytes(lsdu)
        if not lsdu:
            raise SmitpError("empty answer")
        attr = lsdu[0]
        if attr == NACK_A_AUTH and ecc == ECC_ECB_READ and len(lsdu) == 18:
            if self.keys is None:
                raise SmitpError("NACK-auth received without keys to verify it")
            self.lmon = open_nack_auth(self.keys, self.aca, lsdu, req.lsdu)
            return Reply(
                attr, NACK_A, lsdu[1:2], True, parse_answer(NACK_A, lsdu[1:2]), None, self.lmon
            )
        if req.attr == CHALLENGE_REQ:
            if ecc != ECC_ECB_READ or self.keys is None:
                raise SmitpError(f"CHALLENGE answered with ATTR {attr}, ECC {ecc}")
            self.lmon = open_challenge_resp(
                self.keys, self.aca, lsdu, req.nonce[:2], req.nonce[2:]
            )
            return Reply(attr, CHALLENGE_RESP, b"", True, {"lmon": self.lmon}, None, self.lmon)
        if req.ecc == 0:
            if ecc != 0:
                raise SmitpError(f"plain request answered with ECC {ecc}")
            return Reply(attr, attr, lsdu[1:], False, parse_answer(attr, lsdu[1:]))
        allowed = (req.ecc, req.ecc - 1) if ecc_mode(req.ecc) == "ecb" else (req.ecc,)
        if ecc not in allowed:
            raise SmitpError(f"ECC {req.ecc} request answered with ECC {ecc}")
        o = open_sealed(self.keys, ecc, lsdu, self.aca, req.mon, answer=True)
        code = plain_attr(attr)
        if code not in (plain_attr(req.attr) + 1, ACK_A, NACK_A, ACK_B, NACK_B):
            raise SmitpError(f"ATTR {attr} does not answer ATTR {req.attr}")
        self.lmon = req.mon
        return Reply(attr, code, o.data, True, parse_answer(code, o.data), o.dt)
