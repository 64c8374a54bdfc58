"""Independent CPython model of docs/smitp_security.md, written from that document: AES from the
`cryptography` package, CRC-32 from zlib. Shares no code with firmware/ (a test helper, not a
pytest module). The concentrator side: seals requests, opens and verifies answers."""

import os
import zlib

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

# The example inputs of docs/smitp_security.md §14 (also sec_worker.py's meter).
ACA = bytes.fromhex("010203040506")
KW = bytes(range(0x00, 0x10))
KR = bytes(range(0x10, 0x20))
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sec_worker.py")

ATTR_CHL_REQ = 112
ATTR_CHL_RESP = 113
ATTR_NACK = 245


class AuthError(Exception):
    pass


def cmac(key, msg):
    c = CMAC(algorithms.AES(key))
    c.update(msg)
    return c.finalize()


def ctr(key, iv, data):
    e = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    return e.update(data) + e.finalize()


def ecb(key, block, decrypt=False):
    c = Cipher(algorithms.AES(key), modes.ECB())
    x = c.decryptor() if decrypt else c.encryptor()
    return x.update(block) + x.finalize()


def tmac(key, attr, aca, mon, crc_input):
    m = bytes([attr]) + aca[:3] + mon.to_bytes(8, "big") + zlib.crc32(crc_input).to_bytes(4, "big")
    return cmac(key, m)[:8]


def ctr_iv(aca, mon, answer=False):
    return aca + mon.to_bytes(8, "big") + (b"\x80\x01" if answer else b"\x00\x01")


def key_of(ecc, kw, kr):
    return kw if ecc & 4 else kr


def seal(ecc, attr, aca, mon, data, dt, kw, kr, answer=False):
    """ATTR | E(DATA | DT | TMAC): a request (concentrator) or, answer=True, a meter's answer."""
    key = key_of(ecc, kw, kr)
    plain = data + dt + tmac(key, attr, aca, mon, aca + data + dt)
    if ecc & 3 == 2:
        if len(plain) != 16:
            raise ValueError("ECB needs exactly 16 bytes")
        return bytes([attr]) + ecb(key, plain)
    return bytes([attr]) + ctr(key, ctr_iv(aca, mon, answer), plain)


def open_sealed(ecc, aca, mon, lsdu, kw, kr, answer=False):
    """-> (attr, data, dt) of a sealed LSDU; AuthError if the TMAC does not verify."""
    key = key_of(ecc, kw, kr)
    attr, body = lsdu[0], bytes(lsdu[1:])
    if len(body) < 16:
        raise AuthError("short")
    if ecc & 3 == 2:
        plain = ecb(key, body, decrypt=True)
    else:
        plain = ctr(key, ctr_iv(aca, mon, answer), body)
    data, dt, t = plain[:-16], plain[-16:-8], plain[-8:]
    if tmac(key, attr, aca, mon, aca + data + dt) != t:
        raise AuthError("tmac")
    return attr, data, dt


def open_nack_auth(aca, request, lsdu, kr):
    """-> LMON carried by a NACK-auth answering `request` (the LSDU as sent); verifies it."""
    if len(lsdu) != 18 or lsdu[0] != ATTR_NACK:
        raise AuthError("not a NACK-auth")
    par1 = lsdu[1]
    plain = ecb(kr, bytes(lsdu[2:18]), decrypt=True)
    lmon = int.from_bytes(plain[:8], "little")
    etm = bytes(request[1:])[-8:]
    if tmac(kr, ATTR_NACK, aca, lmon, aca + bytes([par1]) + etm) != plain[8:]:
        raise AuthError("tmac")
    return par1, lmon


def challenge_request(tag, nonce):
    return bytes([ATTR_CHL_REQ]) + tag + nonce


def open_challenge_response(aca, request, lsdu, kr):
    """-> (T, LMON) of a CHALLENGE.RESP to `request`; verifies the TMAC over the nonce."""
    if len(lsdu) != 19 or lsdu[0] != ATTR_CHL_RESP:
        raise AuthError("not a CHALLENGE.RESP")
    plain = ecb(kr, bytes(lsdu[3:19]), decrypt=True)
    lmon = int.from_bytes(plain[:8], "little")
    nonce = bytes(request[3:19])
    if tmac(kr, ATTR_CHL_RESP, aca, lmon, aca + nonce) != plain[8:]:
        raise AuthError("tmac")
    return bytes(lsdu[1:3]), lmon


def dt_bytes(seconds):
    """DATE-TIME: u64 seconds since 2000-01-01 00:00:00 UTC, LSB first."""
    return seconds.to_bytes(8, "little")


def is_authenticated(attr):
    return 102 <= attr < 247 and attr != ATTR_CHL_REQ


class MeterModel:
    """What docs/smitp_security.md says a meter does with one request, given its LMON and its
    last accepted request: -> (outcome, detail). outcome: 'accept', 'dup', 'nack' (detail =
    reason), 'challenge', 'plain', 'drop' (detail = reason). Answers are not built here: the
    tests verify the answers with open_sealed / open_nack_auth / open_challenge_response."""

    def __init__(self, aca, kw, kr, lmon=0):
        self.aca, self.kw, self.kr, self.lmon = aca, kw, kr, lmon
        self.last = None  # (lsdu, ecc) of the last accepted request with an answer

    def expect(self, lsdu, ecc):
        n = len(lsdu)
        if n == 0:
            return "drop", "empty"
        if n > 128:
            return "drop", "long"
        attr = lsdu[0]
        if ecc == 0:
            if attr == ATTR_CHL_REQ:
                return ("challenge", None) if n == 19 else ("nack", "chl_len")
            if is_authenticated(attr):
                return "nack", "clear_auth"
            return "plain", None
        if ecc not in (1, 2, 5, 6):
            return "drop", "bad_ecc"
        if not is_authenticated(attr):
            return "nack", "ecc_plain"
        if self.last == (bytes(lsdu), ecc):
            return "dup", None
        if n - 1 < 16:
            return "nack", "short"
        if ecc & 3 == 2 and n - 1 != 16:
            return "nack", "ecb_len"
        if self.lmon == (1 << 64) - 1:
            return "nack", "lmon_end"
        try:
            open_sealed(ecc, self.aca, self.lmon + 1, lsdu, self.kw, self.kr)
        except AuthError:
            return "nack", "tmac"
        return "accept", None

    def accepted(self, lsdu, ecc):
        self.lmon += 1
        self.last = (bytes(lsdu), ecc)
