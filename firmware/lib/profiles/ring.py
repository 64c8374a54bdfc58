"""A ring of fixed-size records on its own erase blocks of a NOR block device (docs/profiles.md).

Profiles are too deep for the key/value store (its live set must fit one erase block), so each
profile gets `n` blocks of the board's profile flash for itself:

    block:  HEADER(16) | SLOT 1 | SLOT 2 | ... (per = block_size // slot - 1 slots)
    HEADER: MAGIC "PRF1" | FIRST_RNO(4, BE) | CRC-32 of the 8 bytes before (4, BE) | FF x4
    SLOT:   RECORD(recsize) | CRC-16/CCITT-FALSE of RECORD (2, BE) | FF pad to 8 bytes

Record number (RNO) r lives in the block whose header says FIRST_RNO <= r < FIRST_RNO + per, at
slot r - FIRST_RNO + 1. Appending programs one erased slot (never a slot twice); when the head
block is full the next block of the ring is erased and given its header first, which drops the
oldest `per` records. So at least (n - 1) * per records are always kept.

Power cuts: a torn slot fails its CRC and reads back as a lost record (`LOST` status, zeros);
its RNO stays used, the next append takes the next slot. A torn erase or header leaves a block
without a valid header: it is not part of the ring and is erased again before use. Mount reads
the n headers and scans the head block only.

The read side is the LogTable interface of datamodel.logtable (recsize, capacity, first(), end,
count(), record(rno), last(), time_range(t0, t1), snapshot()), so the application layer's
READTAB / READTAB-sel / BUFF_SELECT serve it as they serve the RAM tables.
"""

import struct

from crc import crc16_ccitt, crc32
from datamodel.logtable import time_range
from micropython import const

_MAGIC = b"PRF1"
_HDR = const(16)


def slot_size(recsize):
    return (recsize + 2 + 7) & ~7


class FlashRing:
    def __init__(self, bdev, first_block, n_blocks, recsize, lost):
        """lost(buf, rno): fill buf (recsize bytes) with the record shown for a torn slot."""
        if n_blocks < 2:
            raise ValueError("ring needs 2 blocks")
        self.bdev = bdev
        self.b0 = first_block
        self.n = n_blocks
        self.recsize = recsize
        self.bs = bdev.ioctl(5, 0)
        self.slot = slot_size(recsize)
        self.per = self.bs // self.slot - (_HDR + self.slot - 1) // self.slot
        self.capacity = (n_blocks - 1) * self.per  # the newest `capacity` records are present
        self._lost = lost
        self._buf = bytearray(self.slot)
        self._rec = memoryview(self._buf)[:recsize]
        self._hdr = bytearray(_HDR)
        self.lost = 0  # torn slots met by record() since mount
        self.mount()

    # --- mount ----------------------------------------------------------------------------------

    def _header(self, i):
        """FIRST_RNO of ring block i, or -1 if it has no valid header."""
        h = self._hdr
        self.bdev.readblocks(self.b0 + i, h, 0)
        if h[0:4] != _MAGIC or struct.unpack_from(">I", h, 8)[0] != crc32(h[:8]):
            return -1
        return struct.unpack_from(">I", h, 4)[0]

    def _slot_off(self, k):
        # byte offset of slot k (0-based) in a block; slots start after the header's slots
        return (k + (_HDR + self.slot - 1) // self.slot) * self.slot

    def _blank(self, i, k):
        b = self._buf
        self.bdev.readblocks(self.b0 + i, b, self._slot_off(k))
        for x in b:
            if x != 0xFF:
                return False
        return True

    def mount(self):
        firsts = [self._header(i) for i in range(self.n)]
        head = -1
        for i in range(self.n):
            if firsts[i] >= 0 and (head < 0 or firsts[i] > firsts[head]):
                head = i
        if head < 0:
            self.head = -1  # nothing written yet: the first append starts block 0 at RNO 0
            self.head_first = 0
            self.end = 0
            self._first = 0
            return
        self.head = head
        self.head_first = firsts[head]
        k = 0
        while k < self.per and not self._blank(head, k):
            k += 1
        self.end = self.head_first + k
        # older blocks count while they hold the RNOs right before, in ring order
        first = self.head_first
        for back in range(1, self.n):
            i = (head - back) % self.n
            if firsts[i] != first - self.per or firsts[i] < 0:
                break
            first = firsts[i]
        self._first = max(first, self.end - self.capacity)

    # --- reading --------------------------------------------------------------------------------

    base = 0

    def first(self):
        return self._first

    def count(self):
        return self.end - self._first

    def _locate(self, rno):
        d = rno - self.head_first
        return (self.head + d // self.per) % self.n, d % self.per

    def record(self, rno):
        """Record rno (must be present) as a memoryview of a scratch buffer, valid until the
        next call; a torn slot gives the `lost` record."""
        i, k = self._locate(rno)
        b = self._buf
        rs = self.recsize
        self.bdev.readblocks(self.b0 + i, b, self._slot_off(k))
        if crc16_ccitt(b, rs) != (b[rs] << 8 | b[rs + 1]):
            self.lost += 1
            self._lost(b, rno)
        return self._rec

    def last(self):
        return None if self.end == self._first else bytes(self.record(self.end - 1))

    def time_range(self, t0, t1):
        return time_range(self, t0, t1)  # every record: after a clock set back times repeat

    # --- writing --------------------------------------------------------------------------------

    def _start_block(self, i, first):
        dev = self.bdev
        dev.ioctl(6, self.b0 + i)
        h = self._hdr
        h[0:4] = _MAGIC
        struct.pack_into(">I", h, 4, first)
        struct.pack_into(">I", h, 8, crc32(h[:8]))
        h[12:16] = b"\xff\xff\xff\xff"
        dev.writeblocks(self.b0 + i, h, 0)

    def append(self, rec):
        """Program rec as record `end`; returns its RNO. Durable on return."""
        rs = self.recsize
        if len(rec) != rs:
            raise ValueError("record size")
        if self.head < 0 or self.end - self.head_first >= self.per:
            i = 0 if self.head < 0 else (self.head + 1) % self.n
            self._start_block(i, self.end)
            self.head = i
            self.head_first = self.end
        b = self._buf
        b[:rs] = rec
        c = crc16_ccitt(b, rs)
        b[rs] = c >> 8
        b[rs + 1] = c & 0xFF
        for j in range(rs + 2, self.slot):
            b[j] = 0xFF
        k = self.end - self.head_first
        rno = self.end
        self.end += 1  # a torn program still uses the slot: its RNO reads back as lost
        if self.end - self._first > self.capacity:
            self._first = self.end - self.capacity
        self.bdev.writeblocks(self.b0 + self.head, b, self._slot_off(k))
        return rno

    def snapshot(self):
        return (self._first, self.end, self.head, self.head_first)
