"""Original-SMITP security layer, meter side: TMAC, MAC-then-encrypt, LMON
(docs/smitp_security.md)

    sec = Security(store, aca, keys, seconds, window=LMON_WINDOW)
    r = sec.open(lsdu, ecc)           # every DSAP-0 LSDU the MAC hands up, before the AL
    out = sec.seal(r, attr, apdu)     # the answer LSDU to an AUTH request (memoryview)
    sec.set_key("write" | "read", key16)
    sec.lmon

The Result and the memoryviews in it are reused: they are valid until the next open().
r.kind is PLAIN (ECC 0, a plain ATTR: the AL handles r.attr / r.apdu in clear), AUTH (a verified
authenticated request: r.apdu is the decrypted DATA, r.dt its DATE-TIME, r.key "read"/"write"),
ANSWER (send r.answer with ECC r.ecc_out and do not run the application: NACK-auth,
CHALLENGE.RESP or the cached answer of a byte-identical repeat) or DROP (send nothing).

`keys` = (K1 write, K2 read), 16 bytes each, from the config: copied into the store at first
boot only; afterwards the store's keys win. `seconds()` -> int seconds since 2000-01-01 UTC
(the RTC), written as DT into sealed answers.

LMON persistence: the store holds a ceiling C with "every MON ever accepted <= C". Accepting
MON > C first persists C = MON + window - 1, so one flash record covers `window` messages and
LMON restarts at C after a reset: it jumps forward, never back. open() returns AUTH only after
that record is durable.

The crypto path (decrypt, CRC, CMAC, compare, encrypt, NACK-auth, CHALLENGE.RESP, duplicate
check) works in buffers allocated here once. The memoryviews handed out are made once per
length and kept, so a verified request and its sealed answer allocate nothing once a length has
been seen (heap_lock test); only the LMON record (one per `window` messages) allocates.
"""

import micropython
import storekeys
from micropython import const

from smitp.crypto import Cmac, Ctr, Ecb, ct_equal_at
from smitp.tmac import crc32_put_be, crc32_start, crc32_update

PLAIN = const(0)
AUTH = const(1)
ANSWER = const(2)
DROP = const(3)

ATTR_CHL_REQ = const(112)
ATTR_CHL_RESP = const(113)
ATTR_NACK_AUTH = const(245)  # NACK A-node, authenticated
PAR1_AUTH = const(10)
ECC_ECB_READ = const(2)

LMON_WINDOW = const(32)  # messages covered by one persisted LMON ceiling record
_MAX_LSDU = const(128)
_MAX_DATA = const(111)  # DATA bytes of an authenticated LSDU: 1 + 111 + 8 + 8 = 128
_TAIL = const(16)  # DT(8) + TMAC(8)
_CHL_APDU = const(18)  # T(2) + N(16)
_IV_ANSWER = const(0x80)  # IV byte 14 of an answer [OUR choice]

# Every reason open() can give, preset so counting never inserts a dict key.
REASONS = (
    "plain",  # ECC 0, plain ATTR: handed to the AL
    "auth",  # verified authenticated request
    "dup",  # byte-identical repeat of the last authenticated request: cached answer
    "challenge",  # CHALLENGE.REQ answered
    "clear_auth",  # NACK-auth: authenticated ATTR sent with ECC 0
    "ecc_plain",  # NACK-auth: ECC != 0 on a plain ATTR (CHALLENGE.REQ included)
    "short",  # NACK-auth: fewer than 16 bytes after ATTR
    "ecb_len",  # NACK-auth: ECC 2/6 and the encrypted part is not exactly 16 bytes
    "chl_len",  # NACK-auth: CHALLENGE.REQ APDU is not 18 bytes
    "tmac",  # NACK-auth: TMAC mismatch (bit flip, wrong key, replay, reordered, MON != LMON+1)
    "lmon_end",  # NACK-auth: LMON is 2^64 - 1, no MON is left
    "empty",  # DROP: no ATTR
    "long",  # DROP: LSDU over 128 bytes
    "bad_ecc",  # DROP: ECC not 0, 1, 2, 5, 6
    "store_err",  # DROP: the LMON record could not be written (request not accepted)
)


def is_authenticated(attr):
    """102 <= ATTR < 247, except CHALLENGE.REQ 112 (facts §3)."""
    return 102 <= attr < 247 and attr != ATTR_CHL_REQ


# ---- byte helpers (viper: no allocation, no bytecode loops on the hot path) ---------------


@micropython.viper
def _copy(dst: ptr8, doff: int, src: ptr8, soff: int, n: int):
    i = 0
    while i < n:
        dst[doff + i] = src[soff + i]
        i += 1


@micropython.viper
def _copy_rev8(dst: ptr8, doff: int, src: ptr8):
    # dst[doff:doff+8] = src[0:8] reversed (big-endian LMON -> LSB-first field)
    i = 0
    while i < 8:
        dst[doff + i] = src[7 - i]
        i += 1


@micropython.viper
def _inc8(dst: ptr8, src: ptr8) -> int:
    # dst = src + 1 (8 bytes big-endian); returns 1 on overflow (src was 2^64 - 1).
    c = 1
    i = 7
    while i >= 0:
        c += src[i]
        dst[i] = c & 0xFF
        c >>= 8
        i -= 1
    return c


@micropython.viper
def _cmp8(a: ptr8, b: ptr8) -> int:
    # sign(a - b) of two 8-byte big-endian numbers
    i = 0
    while i < 8:
        if a[i] != b[i]:
            return 1 if a[i] > b[i] else -1
        i += 1
    return 0


def _be_int(b):
    v = 0
    for x in b:
        v = (v << 8) | x
    return v


class Result:
    """What open() decided; one instance per Security, reused for every request."""

    def __init__(self):
        self.kind = DROP
        self.reason = None
        self.attr = 0
        self.apdu = None
        self.dt = None
        self.key = None
        self.ecc = 0
        self.ecc_out = 0
        self.answer = None


class _Key:
    """The ciphers of one key. Holds no copy of the key bytes; no repr of secrets."""

    def __init__(self, name, key):
        if len(key) != 16:
            raise ValueError("key must be 16 bytes")
        self.name = name
        self.cmac = Cmac(key)
        self.ctr = Ctr(key)
        self.ecb = Ecb(key)

    def __repr__(self):
        return "<key %s>" % self.name


class Security:
    def __init__(self, store, aca, keys, seconds, window=LMON_WINDOW):
        if len(aca) != 6:
            raise ValueError("aca must be 6 bytes")
        if window < 1:
            raise ValueError("window >= 1")
        self._store = store
        self._aca = bytes(aca)
        self._seconds = seconds
        self._window = window
        self._kw = _Key("write", self._provision(storekeys.KEY_WRITE, keys[0]))
        self._kr = _Key("read", self._provision(storekeys.KEY_READ, keys[1]))
        self._ceil = bytearray(8)
        v = store.get(storekeys.LMON)
        if v is not None and len(v) == 8:
            self._ceil[:] = v
        self._lmon = bytearray(self._ceil)  # big-endian; restarts at the ceiling
        self._mon = bytearray(8)
        self._r = Result()
        self._rkey = None
        self._w = bytearray(_MAX_LSDU)  # the request, decrypted in place after ATTR
        self._wmv = memoryview(self._w)
        self._w16 = self._wmv[1:17]
        self._ans = bytearray(_MAX_LSDU)  # the sealed answer, kept for duplicates
        self._amv = memoryview(self._ans)
        self._a16 = self._amv[1:17]
        self._req = bytearray(_MAX_LSDU)  # the last accepted authenticated request
        self._req_n = 0
        self._req_ecc = 0
        self._ans_n = 0  # 0: no valid cached answer
        self._ans_ecc = 0
        self._ans_view = None
        self._nk = bytearray(19)  # NACK-auth (18 bytes) / CHALLENGE.RESP (19 bytes)
        nmv = memoryview(self._nk)
        self._nack_view = nmv[:18]
        self._nack16 = nmv[2:18]
        self._chl_view = nmv[:19]
        self._chl16 = nmv[3:19]
        self._m = bytearray(16)  # CMAC input M
        self._tag = bytearray(16)
        self._iv = bytearray(16)
        self._crc = bytearray(4)
        self._write_ok = False  # set_key allowed: inside a request verified with the write key
        # views by length, made on first use (bounded: <= 129 each): APDU, DT, answer
        self._v_apdu = [None] * (_MAX_LSDU + 1)
        self._v_dt = [None] * (_MAX_LSDU + 1)
        self._v_ans = [None] * (_MAX_LSDU + 1)
        self.stats = {}
        for k in REASONS:
            self.stats[k] = 0
        self.stats["key_changes"] = 0
        self.stats["lmon_writes"] = 0

    def _provision(self, skey, cfg_key):
        v = self._store.get(skey)
        if v is not None and len(v) == 16:
            return v
        if cfg_key is None or len(cfg_key) != 16:
            raise ValueError("config key must be 16 bytes")
        self._store.put(skey, bytes(cfg_key))
        return cfg_key

    def __repr__(self):
        return "<Security lmon=%d>" % self.lmon

    # ---- public ---------------------------------------------------------------------------

    @property
    def lmon(self):
        return _be_int(self._lmon)

    def status(self):
        """Counters and LMON for meter.status(); never a key."""
        return {"lmon": self.lmon, "lmon_ceiling": _be_int(self._ceil), "stats": self.stats}

    def open(self, lsdu, ecc):
        """Classify and, for an authenticated request, verify and decrypt it. Never raises on
        input content; see REASONS for every outcome."""
        self._write_ok = False
        r = self._r
        r.apdu = None
        r.dt = None
        r.key = None
        r.answer = None
        r.ecc = ecc
        r.ecc_out = 0
        n = len(lsdu)
        if n < 1:
            return self._drop("empty")
        if n > _MAX_LSDU:
            return self._drop("long")
        attr = lsdu[0]
        r.attr = attr
        if ecc == 0:
            if attr == ATTR_CHL_REQ:
                return self._challenge(lsdu, n)
            if is_authenticated(attr):
                return self._nack(lsdu, n, "clear_auth")
            r.kind = PLAIN
            r.reason = "plain"
            self.stats["plain"] += 1
            r.apdu = memoryview(lsdu)[1:]
            return r
        if ecc != 1 and ecc != 2 and ecc != 5 and ecc != 6:
            return self._drop("bad_ecc")
        if not is_authenticated(attr):
            return self._nack(lsdu, n, "ecc_plain")
        if (
            self._ans_n
            and n == self._req_n
            and ecc == self._req_ecc
            and ct_equal_at(lsdu, 0, self._req, 0, n)
        ):
            r.kind = ANSWER
            r.reason = "dup"
            self.stats["dup"] += 1
            r.answer = self._ans_view
            r.ecc_out = self._ans_ecc
            return r
        m = n - 1
        if m < _TAIL:
            return self._nack(lsdu, n, "short")
        ecb = (ecc & 3) == 2
        if ecb and m != _TAIL:
            return self._nack(lsdu, n, "ecb_len")
        if _inc8(self._mon, self._lmon):
            return self._nack(lsdu, n, "lmon_end")
        key = self._kw if ecc & 4 else self._kr
        w = self._w
        _copy(w, 0, lsdu, 0, n)
        if ecb:
            key.ecb.decrypt_into(self._w16, self._w16)
        else:
            self._set_iv(self._mon, 0)
            key.ctr.ctr_inplace(w, 1, m, self._iv)
        dlen = m - _TAIL
        self._tmac(key, attr, self._mon, w, 1, dlen + 8)
        if not ct_equal_at(self._tag, 0, w, 1 + dlen + 8, 8):
            return self._nack(lsdu, n, "tmac")
        if _cmp8(self._mon, self._ceil) > 0:
            try:
                self._reserve()
            except OSError:
                return self._drop("store_err")
        _copy(self._lmon, 0, self._mon, 0, 8)
        _copy(self._req, 0, lsdu, 0, n)
        self._req_n = n
        self._req_ecc = ecc
        self._ans_n = 0
        self._write_ok = key is self._kw
        self._rkey = key  # seal() answers with this key even if set_key() replaced it since
        r.kind = AUTH
        r.reason = "auth"
        self.stats["auth"] += 1
        r.key = key.name
        r.ecc_out = ecc
        v = self._v_apdu[dlen]
        if v is None:
            v = self._v_apdu[dlen] = self._wmv[1 : 1 + dlen]
        r.apdu = v
        v = self._v_dt[dlen]
        if v is None:
            v = self._v_dt[dlen] = self._wmv[1 + dlen : 1 + dlen + 8]
        r.dt = v
        return r

    def seal(self, r, attr_out, apdu_out):
        """The answer LSDU to the AUTH request r: ATTR | E(DATA | DT | TMAC) with MON = LMON,
        the request's key and the answer IV (byte 14 = 80). ECC stays the request's, except
        that an ECB request whose answer DATA is not empty is answered in CTR with the same key
        (r.ecc_out says which)."""
        if r is not self._r or r.kind != AUTH:
            raise ValueError("seal needs the AUTH result of the last open()")
        dlen = len(apdu_out)
        if dlen > _MAX_DATA:
            raise ValueError("answer DATA over 111 bytes")
        key = self._rkey
        a = self._ans
        a[0] = attr_out
        _copy(a, 1, apdu_out, 0, dlen)
        t = self._seconds() if self._seconds is not None else 0
        p = 1 + dlen
        end = p + 8
        while p < end:  # DT: seconds since 2000-01-01 UTC, LSB first
            a[p] = t & 0xFF
            t >>= 8
            p += 1
        self._tmac(key, attr_out, self._lmon, a, 1, dlen + 8)
        _copy(a, end, self._tag, 0, 8)
        n = end + 8
        ecc = r.ecc
        if (ecc & 3) == 2 and dlen != 0:
            ecc = (ecc & 4) | 1
        if (ecc & 3) == 2:
            key.ecb.encrypt_into(self._a16, self._a16)
        else:
            self._set_iv(self._lmon, _IV_ANSWER)
            key.ctr.ctr_inplace(a, 1, n - 1, self._iv)
        self._ans_n = n
        self._ans_ecc = ecc
        v = self._v_ans[n]
        if v is None:
            v = self._v_ans[n] = self._amv[:n]
        self._ans_view = v
        self._write_ok = False
        r.kind = ANSWER
        r.ecc_out = ecc
        r.answer = self._ans_view
        return self._ans_view

    def set_key(self, which, key):
        """Replace K1 ("write") or K2 ("read"): only while handling a request verified with the
        current write key. Persisted before it takes effect; the answer to that request is
        still sealed with the key that request used."""
        if not self._write_ok:
            raise ValueError("a key change needs a request verified with the write key")
        if which == "write":
            skey = storekeys.KEY_WRITE
        elif which == "read":
            skey = storekeys.KEY_READ
        else:
            raise ValueError("which: 'write' or 'read'")
        k = _Key(which, key)
        self._store.put(skey, bytes(key))
        if which == "write":
            self._kw = k
        else:
            self._kr = k
        self.stats["key_changes"] += 1

    # ---- internals ------------------------------------------------------------------------

    def _drop(self, reason):
        r = self._r
        r.kind = DROP
        r.reason = reason
        self.stats[reason] += 1
        return r

    def _set_iv(self, mon, direction):
        # ACA(6) | MON(8 BE) | direction | 01: 00 for requests, 80 for answers (see the doc:
        # request and answer share MON and key, so equal IVs would reuse the keystream)
        iv = self._iv
        _copy(iv, 0, self._aca, 0, 6)
        _copy(iv, 6, mon, 0, 8)
        iv[14] = direction
        iv[15] = 1

    def _tmac(self, key, attr, mon, buf, off, n):
        # tag = CMAC(K, ATTR | ACA[0..2] | MON(8 BE) | CRC32(ACA | buf[off:off+n]) BE)
        st = self._crc
        crc32_start(st)
        crc32_update(st, self._aca, 0, 6)
        crc32_update(st, buf, off, n)
        self._tmac_m(key, attr, mon)

    def _tmac_m(self, key, attr, mon):
        m = self._m
        m[0] = attr
        _copy(m, 1, self._aca, 0, 3)
        _copy(m, 4, mon, 0, 8)
        crc32_put_be(self._crc, m, 12)
        key.cmac.cmac_into(self._tag, m)

    def _nack(self, lsdu, n, reason):
        # 245 | PAR1=10 | ECB_K2(LMON(8, LSB first) | TMAC(8)); CRC over ACA | PAR1 | Etm*,
        # Etm* = the last (up to) 8 bytes after ATTR of the refused request, as received.
        b = self._nk
        b[0] = ATTR_NACK_AUTH
        b[1] = PAR1_AUTH
        _copy_rev8(b, 2, self._lmon)
        e = n - 1
        if e > 8:
            e = 8
        st = self._crc
        crc32_start(st)
        crc32_update(st, self._aca, 0, 6)
        crc32_update(st, b, 1, 1)
        crc32_update(st, lsdu, n - e, e)
        key = self._kr
        self._tmac_m(key, ATTR_NACK_AUTH, self._lmon)
        _copy(b, 10, self._tag, 0, 8)
        key.ecb.encrypt_into(self._nack16, self._nack16)
        return self._answer(self._nack_view, reason)

    def _challenge(self, lsdu, n):
        if n - 1 != _CHL_APDU:
            return self._nack(lsdu, n, "chl_len")
        # 113 | T(2, echoed, clear) | ECB_K2(LMON(8, LSB first) | TMAC(8)); CRC over ACA | N
        b = self._nk
        b[0] = ATTR_CHL_RESP
        b[1] = lsdu[1]
        b[2] = lsdu[2]
        _copy_rev8(b, 3, self._lmon)
        st = self._crc
        crc32_start(st)
        crc32_update(st, self._aca, 0, 6)
        crc32_update(st, lsdu, 3, 16)
        key = self._kr
        self._tmac_m(key, ATTR_CHL_RESP, self._lmon)
        _copy(b, 11, self._tag, 0, 8)
        key.ecb.encrypt_into(self._chl16, self._chl16)
        return self._answer(self._chl_view, "challenge")

    def _answer(self, view, reason):
        r = self._r
        r.kind = ANSWER
        r.reason = reason
        r.answer = view
        r.ecc_out = ECC_ECB_READ
        self.stats[reason] += 1
        return r

    def _reserve(self):
        v = _be_int(self._mon) + self._window - 1
        if v >= 1 << 64:
            v = (1 << 64) - 1
        b = bytearray(8)
        i = 7
        while i >= 0:
            b[i] = v & 0xFF
            v >>= 8
            i -= 1
        self._store.put(storekeys.LMON, b)  # durable when it returns (store.put contract)
        self._ceil[:] = b
        self.stats["lmon_writes"] += 1
