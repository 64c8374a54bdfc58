"""Power-fail-safe key/value store on a NOR flash block device (docs/store.md).

Used by every layer for registers, counters (LMON, TCT) and small logs. Keys are ints 0..65535
named in one module, `storekeys` (const values), so layers never collide. Values are bytes of
0..256 bytes.

Device: MicroPython's extended block protocol (interfaces.BlockDevice), as esp32.Partition,
drivers.stm32_flash.Stm32Bank2Flash and drivers.sim.flash.SimFlash provide:
readblocks(block, buf, offset), writeblocks(block, buf, offset) (program only, bits can only be
cleared), ioctl(4) block count, ioctl(5) block size, ioctl(6, block) erase.

Layout: a ring of n_blocks >= 2 erase blocks; exactly one, the sealed block with the highest
generation, is active. It is an append-only log of records; each record is written header+data+
CRC-32 first and an 8-byte commit marker last, so put() is atomic: a torn record lacks a valid
CRC or the marker and is ignored at mount. When the active block is full (or has a torn tail),
the live records are copied to the next block of the ring (erased first), the new value is
appended, the block is sealed (its commit point) and the old block erased. Everything is written
in 8-byte aligned units, each programmed once, so flash with ECC words (STM32L4 double-words,
ESP32) is fine.
"""

import struct

from crc import crc32 as _crc32
from micropython import const

_ALIGN = const(8)  # program unit: every write covers whole, erased 8-byte units
_MAX_VALUE = const(256)

# Block header: MAGIC(4) GEN(4, BE) CRC32(MAGIC|GEN)(4) FF*4 | SEAL(4) FF*4
_BLK_MAGIC = b"SKV1"
_SEAL = b"SEAL\xff\xff\xff\xff"
_SEAL_OFF = const(16)
_BLK_HDR = const(24)  # first record offset

# Record: MAGIC(2) KEY(2) SEQ(4) LEN(2) FLAGS(1) 00(1) | DATA(LEN) | CRC32(4) | FF pad to 8
#         | COMMIT(8)   -- CRC over header+data; commit marker in its own aligned unit
_REC_FMT = ">HHIHBB"
_REC_MAGIC = const(0x5AC3)
_REC_HDR = const(12)
_FLAG_DEL = const(1)
_COMMIT = b"\xc0\x33\x17\xed\x5a\xc3\x00\x01"
_COMMIT_LEN = const(8)

_ENOSPC = const(28)
_EINVAL = const(22)


def _footprint(n):
    return ((_REC_HDR + n + 4 + _ALIGN - 1) & ~(_ALIGN - 1)) + _COMMIT_LEN


class Store:
    def __init__(self, bdev, first_block=0, n_blocks=None):
        self._bdev = bdev
        self._bsize = bdev.ioctl(5, 0)
        if n_blocks is None:
            n_blocks = bdev.ioctl(4, 0) - first_block
        if n_blocks < 2:
            raise ValueError("n_blocks < 2")
        self._first = first_block
        self._n = n_blocks
        self._buf = bytearray(_footprint(_MAX_VALUE))  # record scratch
        self._mv = memoryview(self._buf)
        self._ff = b"\xff" * 64
        self._chk = bytearray(64)
        self._erases = [0] * n_blocks
        self._compactions = 0
        self.mount()

    # ---- mount / recovery -------------------------------------------------------------------

    def mount(self):
        """(Re)build the RAM index from flash. Never writes: a torn tail is only repaired
        (by compaction) on the next put/delete."""
        self._active = -1  # ring index of the active block, -1: nothing sealed yet
        self._gen = 0
        hdr = self._mv[:_BLK_HDR]
        for i in range(self._n):
            self._read(i, hdr, 0)
            if bytes(self._buf[:4]) != _BLK_MAGIC or bytes(self._buf[16:24]) != _SEAL:
                continue
            gen = struct.unpack_from(">I", self._buf, 4)[0]
            if gen == 0xFFFFFFFF or struct.unpack_from(">I", self._buf, 8)[0] != _crc32(
                self._mv[:8]
            ):
                continue
            if gen > self._gen:
                self._gen = gen
                self._active = i
        self._index = {}  # key -> pos << 9 | len, in the active block
        self._seq = 0
        self._wp = _BLK_HDR
        self._dirty = False
        self._corrupt = 0
        if self._active < 0:
            return
        seqs = {}
        pos = _BLK_HDR
        bs = self._bsize
        buf = self._buf
        while pos + _REC_HDR <= bs:
            self._read(self._active, self._mv[:_REC_HDR], pos)
            magic, key, seq, n, flags, _ = struct.unpack_from(_REC_FMT, buf, 0)
            if magic != _REC_MAGIC:
                break  # end of log (or a torn header: the blank check below tells)
            fp = _footprint(n)
            if n > _MAX_VALUE or pos + fp > bs:
                break
            self._read(self._active, self._mv[:fp], pos)
            end = _REC_HDR + n
            crc = struct.unpack_from(">I", buf, end)[0]
            body = (end + 4 + _ALIGN - 1) & ~(_ALIGN - 1)
            if bytes(buf[body:fp]) != _COMMIT:
                break  # torn record (no commit marker): it and anything after it is ignored
            at = pos
            pos += fp
            if crc != _crc32(self._mv[:end]):
                self._corrupt += 1  # committed once, damaged since: skip it, keep scanning
                continue
            if seq >= seqs.get(key, -1):
                seqs[key] = seq
                if flags & _FLAG_DEL:
                    self._index.pop(key, None)
                else:
                    self._index[key] = at << 9 | n
            if seq >= self._seq:
                self._seq = seq + 1
        self._wp = pos
        self._dirty = not self._blank(self._active, pos)

    def _read(self, i, buf, offset):
        self._bdev.readblocks(self._first + i, buf, offset)

    def _blank(self, i, start=0):
        # True if bytes [start, block end) of ring block i are all erased.
        pos = start
        bs = self._bsize
        chk = self._chk
        while pos < bs:
            n = bs - pos
            if n >= 64:
                self._read(i, chk, pos)
                if chk != self._ff:
                    return False
            else:
                tail = bytearray(n)
                self._read(i, tail, pos)
                if tail != self._ff[:n]:
                    return False
            pos += 64
        return True

    def _erase(self, i):
        self._bdev.ioctl(6, self._first + i)
        self._erases[i] += 1

    # ---- writing ----------------------------------------------------------------------------

    def _write_record(self, i, pos, key, value, flags):
        n = len(value)
        buf = self._buf
        struct.pack_into(_REC_FMT, buf, 0, _REC_MAGIC, key, self._seq, n, flags, 0)
        buf[_REC_HDR : _REC_HDR + n] = value
        end = _REC_HDR + n
        struct.pack_into(">I", buf, end, _crc32(self._mv[:end]))
        body = (end + 4 + _ALIGN - 1) & ~(_ALIGN - 1)
        for j in range(end + 4, body):
            buf[j] = 0xFF
        dev = self._bdev
        dev.writeblocks(self._first + i, self._mv[:body], pos)
        dev.writeblocks(self._first + i, _COMMIT, pos + body)  # commit point
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return body + _COMMIT_LEN

    def _check_key(self, key):
        if not 0 <= key <= 0xFFFF:
            raise ValueError("key")

    def put(self, key, value):
        """Store value (bytes-like, <= 256 bytes) under key; atomic; durable on return."""
        self._check_key(key)
        n = len(value)
        if n > _MAX_VALUE:
            raise ValueError("value too long")
        if self._dirty or self._active < 0 or self._wp + _footprint(n) > self._bsize:
            self._compact(key, value, 0)
            return
        self._dirty = True  # until the record is complete: never append over a torn one
        self._wp += self._write_record(self._active, self._wp, key, value, 0)
        self._index[key] = (self._wp - _footprint(n)) << 9 | n
        self._dirty = False

    def delete(self, key):
        """Remove key (a tombstone record); returns False if it was not there."""
        self._check_key(key)
        if key not in self._index:
            return False
        if self._dirty or self._wp + _footprint(0) > self._bsize:
            self._compact(key, None, 0)
            return True
        self._dirty = True
        self._wp += self._write_record(self._active, self._wp, key, b"", _FLAG_DEL)
        del self._index[key]
        self._dirty = False
        return True

    def ensure_free(self, nbytes):
        """Compact now if the active block has fewer than nbytes free (or a torn tail), so the
        next puts up to nbytes are plain appends: the power-fail savers call put() inside the
        hold-up budget, where a compaction's copy and erase would not fit (docs/metering.md
        §5). Returns True if it compacted."""
        if self._active >= 0 and not self._dirty and self._bsize - self._wp >= nbytes:
            return False
        self._compact(-1, None, 0)  # key -1 matches no record: every live record is kept
        return True

    def _compact(self, key, value, flags):
        # Copy live records (except `key`) to the next ring block, add `value` for key (None:
        # dropped), seal. The seal is the commit point for the whole operation.
        need = _BLK_HDR
        for k, p in self._index.items():
            if k != key:
                need += _footprint(p & 0x1FF)
        if value is not None:
            need += _footprint(len(value))
        if need > self._bsize:
            raise OSError(_ENOSPC)
        src = self._active
        tgt = (src + 1) % self._n if src >= 0 else 0
        if not self._blank(tgt):
            self._erase(tgt)
        gen = self._gen + 1
        dev = self._bdev
        buf = self._buf
        buf[0:4] = _BLK_MAGIC
        struct.pack_into(">I", buf, 4, gen)
        struct.pack_into(">I", buf, 8, _crc32(self._mv[:8]))
        buf[12:16] = b"\xff\xff\xff\xff"
        dev.writeblocks(self._first + tgt, self._mv[:16], 0)
        pos = _BLK_HDR
        index = {}
        for k, p in self._index.items():
            if k == key:
                continue
            fp = _footprint(p & 0x1FF)
            self._read(src, self._mv[:fp], p >> 9)
            dev.writeblocks(self._first + tgt, self._mv[:fp], pos)
            index[k] = pos << 9 | (p & 0x1FF)
            pos += fp
        if value is not None:
            index[key] = pos << 9 | len(value)
            pos += self._write_record(tgt, pos, key, value, flags)
        dev.writeblocks(self._first + tgt, _SEAL, _SEAL_OFF)  # commit point
        self._active = tgt
        self._gen = gen
        self._index = index
        self._wp = pos
        self._dirty = False
        self._compactions += 1
        if src >= 0:
            self._erase(src)  # stale now; erased again before reuse if this is torn

    # ---- reading ----------------------------------------------------------------------------

    def get(self, key, default=None):
        p = self._index.get(key)
        if p is None:
            return default
        out = bytearray(p & 0x1FF)
        self._read(self._active, out, (p >> 9) + _REC_HDR)
        return bytes(out)

    def get_into(self, key, buf):
        """Read key's value into buf; returns its length, or -1 if absent. With len(buf) equal
        to the value length nothing is allocated."""
        p = self._index.get(key)
        if p is None:
            return -1
        n = p & 0x1FF
        if len(buf) < n:
            raise ValueError("buf too small")
        self._read(self._active, buf if len(buf) == n else memoryview(buf)[:n], (p >> 9) + 12)
        return n

    def __contains__(self, key):
        return key in self._index

    def keys(self):
        return sorted(self._index)

    def stats(self):
        live = _BLK_HDR
        for p in self._index.values():
            live += _footprint(p & 0x1FF)
        return {
            "block_size": self._bsize,
            "n_blocks": self._n,
            "active": self._active,
            "generation": self._gen,
            "keys": len(self._index),
            "used": self._wp,
            "live": live,
            "free": self._bsize - self._wp,
            "dirty": self._dirty,
            "corrupt": self._corrupt,
            "seq": self._seq,
            "compactions": self._compactions,
            "erases": list(self._erases),
        }


class Counter64:
    """A persistent 64-bit counter (e.g. the SMITP LMON): `value`, `increment()`, `set(v)`.

    Stored as 8 bytes big-endian. Every change writes one 32-byte record before returning, so
    the value in RAM is never ahead of flash. Wear: a 4 KiB block holds 127 such records, so
    each block of an N-block ring is erased once per ~127*N increments (docs/store.md).
    """

    def __init__(self, store, key, default=0):
        self._store = store
        self._key = key
        self._buf = bytearray(8)
        if store.get_into(key, self._buf) == 8:
            v = 0
            for b in self._buf:
                v = (v << 8) | b
            self.value = v
        else:
            self.value = default

    def set(self, v):
        if not 0 <= v < (1 << 64):
            raise ValueError("counter")
        x = v
        for i in range(7, -1, -1):
            self._buf[i] = x & 0xFF
            x >>= 8
        self._store.put(self._key, self._buf)
        self.value = v

    def increment(self, n=1):
        self.set(self.value + n)
        return self.value
