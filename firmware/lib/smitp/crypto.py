"""AES-128 primitives for SMITP on MicroPython's `cryptolib` (ECB only in our builds).

- `cmac(key, msg)` / `Cmac(key)`: AES-CMAC, RFC 4493 (NIST SP 800-38B).
- `ctr(key, iv, data)` / `Ctr(key)`: AES-CTR, NIST SP 800-38A; the 16-byte counter block is
  incremented as one 128-bit big-endian integer (carry across all bytes), any data length.
- `ecb_encrypt` / `ecb_decrypt`: one 16-byte block; `Ecb(key)`: the same with ciphers kept.
- `ct_equal(a, b)` / `ct_equal_at(a, aoff, b, boff, n)`: constant-time comparison for MACs.

Hot paths: keep a `Cmac`/`Ctr`/`Ecb` object per key; `cmac_into`, `ctr_into`, `ctr_inplace`,
`Ecb.*_into` allocate nothing (checked with micropython.heap_lock() in
host_tests/mp/test_crypto.py). See docs/crypto.md.
"""

import cryptolib
import micropython
from micropython import const

_ECB = const(1)
_CTR_BLOCKS = const(8)  # keystream blocks produced per cryptolib call in Ctr


# ---- viper helpers: byte loops that would be slow in bytecode --------------------------------


@micropython.viper
def _dbl(out: ptr8, inp: ptr8):
    # out = inp * x in GF(2^128) (RFC 4493 subkey step): shift left one bit, reduce with 0x87.
    # Branch-free on the secret top bit.
    msb = inp[0] >> 7
    i = 0
    while i < 15:
        out[i] = ((inp[i] << 1) | (inp[i + 1] >> 7)) & 0xFF
        i += 1
    out[15] = ((inp[15] << 1) & 0xFF) ^ ((0 - msb) & 0x87)


@micropython.viper
def _xor_at(x: ptr8, msg: ptr8, off: int):
    # x[0:16] ^= msg[off:off+16]
    i = 0
    while i < 16:
        x[i] ^= msg[off + i]
        i += 1


@micropython.viper
def _last(x: ptr8, msg: ptr8, off: int, rem: int, k: ptr8):
    # x ^= K ^ pad(msg[off:off+rem]); rem == 16 is a complete block (K1), else 10* padding (K2).
    i = 0
    while i < 16:
        v = x[i] ^ k[i]
        if i < rem:
            v ^= msg[off + i]
        elif i == rem:
            v ^= 0x80
        x[i] = v
        i += 1


@micropython.viper
def _zero16(x: ptr8):
    i = 0
    while i < 16:
        x[i] = 0
        i += 1


@micropython.viper
def _copy16(dst: ptr8, src: ptr8):
    i = 0
    while i < 16:
        dst[i] = src[i]
        i += 1


@micropython.viper
def _fill_ctr(buf: ptr8, cb: ptr8, nblk: int):
    # Write nblk successive counter blocks into buf, starting at cb; leave cb at the next value.
    # The increment is one 128-bit big-endian +1 with the carry run over all 16 bytes.
    p = 0
    end = nblk << 4
    while p < end:
        i = 0
        while i < 16:
            buf[p + i] = cb[i]
            i += 1
        c = 1
        i = 15
        while i >= 0:
            c += cb[i]
            cb[i] = c & 0xFF
            c >>= 8
            i -= 1
        p += 16


@micropython.viper
def _xor_ks(out: ptr8, data: ptr8, ks: ptr8, off: int, n: int):
    # out[off:off+n] = data[off:off+n] ^ ks[0:n]   (out may be data: in place)
    i = 0
    while i < n:
        out[off + i] = data[off + i] ^ ks[i]
        i += 1


@micropython.viper
def _diff(a: ptr8, b: ptr8, n: int) -> int:
    # OR of all byte differences: no data-dependent branch, no early exit.
    acc = 0
    i = 0
    while i < n:
        acc |= a[i] ^ b[i]
        i += 1
    return acc


@micropython.viper
def _diff_at(a: ptr8, aoff: int, b: ptr8, boff: int, n: int) -> int:
    acc = 0
    i = 0
    while i < n:
        acc |= a[aoff + i] ^ b[boff + i]
        i += 1
    return acc


# ---- CMAC ---------------------------------------------------------------------------------


class Cmac:
    """AES-128-CMAC with the key schedule and subkeys K1/K2 computed once.

    `cmac_into(out, msg)` writes the 16-byte tag into a caller buffer and allocates nothing;
    `cmac(msg)` allocates only the 16-byte result. `msg` is any buffer (bytes, bytearray,
    memoryview) of any length.
    """

    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("key")
        self._enc = cryptolib.aes(key, _ECB).encrypt
        self._k1 = bytearray(16)
        self._k2 = bytearray(16)
        self._x = bytearray(16)
        ell = bytearray(16)
        self._enc(ell, ell)  # L = AES(K, 0^128)
        _dbl(self._k1, ell)
        _dbl(self._k2, self._k1)
        _zero16(ell)

    def cmac_into(self, out, msg):
        enc = self._enc
        x = self._x
        _zero16(x)
        n = len(msg)
        off = 0
        while n - off > 16:  # every block but the last one (which may be empty when n == 0)
            _xor_at(x, msg, off)
            enc(x, x)
            off += 16
        rem = n - off
        _last(x, msg, off, rem, self._k1 if rem == 16 else self._k2)
        enc(x, out)
        _zero16(x)
        return out

    def cmac(self, msg):
        return self.cmac_into(bytearray(16), msg)


class CmacStream:
    """AES-128-CMAC over a message fed in pieces (`update(buf)` any number of times, then
    `final_into(out)`), for messages too large to hold in RAM (a software image's manifest,
    docs/download.md). One 16-byte block is held back until more data or the end shows whether
    it is the last one. Reuse: `reset()`. Allocates only the short slices `update` copies."""

    def __init__(self, key):
        self._c = Cmac(key)
        self._pend = bytearray(16)
        self.reset()

    def reset(self):
        _zero16(self._c._x)
        self._n = 0  # bytes held in _pend (0..16)

    def update(self, buf):
        c = self._c
        x = c._x
        pend = self._pend
        i = 0
        n = len(buf)
        while i < n:
            if self._n == 16:  # more data follows: the held block is not the last one
                _xor_at(x, pend, 0)
                c._enc(x, x)
                self._n = 0
            k = min(16 - self._n, n - i)
            pend[self._n : self._n + k] = buf[i : i + k]
            self._n += k
            i += k

    def final_into(self, out):
        c = self._c
        rem = self._n
        _last(c._x, self._pend, 0, rem, c._k1 if rem == 16 else c._k2)
        c._enc(c._x, out)
        self.reset()
        return out


def cmac(key, msg):
    """AES-128-CMAC(key, msg) -> 16 bytes (RFC 4493)."""
    return bytes(Cmac(key).cmac_into(bytearray(16), msg))


# ---- CTR ----------------------------------------------------------------------------------


class Ctr:
    """AES-128-CTR with preallocated counter/keystream buffers (NIST SP 800-38A, 6.5).

    `ctr_into(out, iv, data)` encrypts or decrypts `data` into `out` (which may be `data`
    itself for in-place work; len(out) >= len(data)) and allocates nothing.
    """

    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("key")
        self._enc = cryptolib.aes(key, _ECB).encrypt
        self._cb = bytearray(16)
        cbuf = bytearray(16 * _CTR_BLOCKS)
        kbuf = bytearray(16 * _CTR_BLOCKS)
        self._cbuf = cbuf
        self._kbuf = kbuf
        mc = memoryview(cbuf)
        mk = memoryview(kbuf)
        # Views of 1.._CTR_BLOCKS blocks, made once, so the hot loop never slices.
        self._vc = [mc[: 16 * i] for i in range(1, _CTR_BLOCKS + 1)]
        self._vk = [mk[: 16 * i] for i in range(1, _CTR_BLOCKS + 1)]

    def ctr_into(self, out, iv, data):
        n = len(data)
        if len(out) < n:
            raise ValueError("out")
        return self._run(out, data, 0, n, iv)

    def ctr_inplace(self, buf, start, n, iv):
        """Encrypt or decrypt buf[start:start+n] in place (no slicing, nothing allocated)."""
        if start < 0 or n < 0 or start + n > len(buf):
            raise ValueError("range")
        return self._run(buf, buf, start, n, iv)

    def _run(self, out, data, start, n, iv):
        if len(iv) != 16:
            raise ValueError("iv")
        enc = self._enc
        cb = self._cb
        cbuf = self._cbuf
        _copy16(cb, iv)
        off = 0
        while off < n:
            m = n - off
            nb = (m + 15) >> 4
            if nb > _CTR_BLOCKS:
                nb = _CTR_BLOCKS
                m = 16 * _CTR_BLOCKS
            _fill_ctr(cbuf, cb, nb)
            ks = self._vk[nb - 1]
            enc(self._vc[nb - 1], ks)
            _xor_ks(out, data, ks, start + off, m)
            off += m
        return out

    def ctr(self, iv, data):
        return self.ctr_into(bytearray(len(data)), iv, data)


def ctr(key, iv, data):
    """AES-128-CTR(key, iv) applied to data -> bytes of the same length (encrypt == decrypt)."""
    return bytes(Ctr(key).ctr(iv, data))


# ---- ECB, compare -------------------------------------------------------------------------


def ecb_encrypt(key, block):
    """AES-128 encryption of exactly one 16-byte block."""
    if len(block) != 16:
        raise ValueError("block")
    out = bytearray(16)
    cryptolib.aes(key, _ECB).encrypt(block, out)
    return bytes(out)


def ecb_decrypt(key, block):
    """AES-128 decryption of exactly one 16-byte block."""
    if len(block) != 16:
        raise ValueError("block")
    out = bytearray(16)
    cryptolib.aes(key, _ECB).decrypt(block, out)
    return bytes(out)


class Ecb:
    """Single-block AES-128 with both ciphers kept (cryptolib objects are one-way: an object
    that has encrypted cannot decrypt). `block` and `out` are exactly 16-byte buffers, may be
    the same buffer; nothing is allocated."""

    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("key")
        self._enc = cryptolib.aes(key, _ECB).encrypt
        self._dec = cryptolib.aes(key, _ECB).decrypt

    def encrypt_into(self, out, block):
        self._enc(block, out)
        return out

    def decrypt_into(self, out, block):
        self._dec(block, out)
        return out


def ct_equal_at(a, aoff, b, boff, n):
    """True if a[aoff:aoff+n] == b[boff:boff+n]; no early exit, nothing allocated. The caller
    keeps both ranges inside their buffers (checked here)."""
    if aoff < 0 or boff < 0 or n < 0 or aoff + n > len(a) or boff + n > len(b):
        raise ValueError("range")
    return _diff_at(a, aoff, b, boff, n) == 0


def ct_equal(a, b):
    """True if a == b, in time that depends only on the length (lengths are not secret)."""
    n = len(a)
    if n != len(b):
        return False
    return _diff(a, b, n) == 0
