"""Receiving an image into a slot: the download session, block writes, the persistent bitmap
(docs/download.md §3, §5).

    t = Transfer(slots, store, cmac_block, now_s, log)
    t.start(image_id, size, block_size)      -> 0 or a NACK code   (COMMAND download_start)
    t.block(image_id, n, data, tag)          -> 0 or a NACK code   (REPROG_LOCAL/BROADCAST)
    t.check()                                -> verify once complete (the dl task calls it)

The image goes straight into the download target slot's flash (never into RAM). Which blocks
are there is a bitmap in the slot's last 4 KiB, one bit per block, cleared (1 -> 0) after the
block's data is programmed: NOR flash programs bits to 0 without an erase, so marking a block
costs one 4-byte program and a power cut can only lose the mark of a block whose data may be
half-written (it is fetched again). Nothing is kept in RAM that flash does not already hold,
except the count of blocks received.
"""

import struct

import storekeys
from datamodel import events
from micropython import const

from dl import image

IDLE = const(0)
RECEIVING = const(1)
READY = const(2)  # complete and verified, waiting for activation
REFUSED = const(3)  # complete, verification failed (CODE says why); nothing activated
ACTIVATED = const(4)  # selector switched; the image runs on trial after the reset

E_RANGE = const(24)  # block number or length outside the announced image
E_SESSION = const(25)  # no download open for this image id
E_STATE = const(26)  # not now: a trial runs (no free slot), or nothing ready to activate
E_VALUE = const(6)
E_TAG = image.E_TAG

BITMAP_BYTES = const(4096)  # the slot's last 4 KiB: up to 32768 blocks
BLOCK_TAG = const(4)  # bytes of AES-CMAC each block carries (docs/download.md §5)
_SESSION = ">4sIBBBBI"  # IMAGE_ID SIZE BS SLOT STATE CODE ACT_TIME


class Transfer:
    def __init__(self, slots, store, block_cmac, log):
        self.slots = slots
        self.store = store
        self._cmac = block_cmac  # fn(msg) -> 16-byte AES-CMAC under the download key
        self._log = log  # fn(event code, data)
        self._word = bytearray(4)
        self._hdr = bytearray(7)
        self.blocks_in = 0  # blocks accepted (stats)
        self.dup = 0
        self.bad_tag = 0
        self.manifest = None
        self._load()

    # --- session record -------------------------------------------------------------------------

    def _load(self):
        v = self.store.get(storekeys.DL_SESSION)
        if v is None or len(v) != struct.calcsize(_SESSION):
            self.image_id, self.size, self.bs, self.slot = bytes(4), 0, 0, 0
            self.state, self.code, self.act_time = IDLE, 0, 0
            self.received = 0
            return
        (self.image_id, self.size, self.bs, self.slot, self.state, self.code, self.act_time) = (
            struct.unpack(_SESSION, v)
        )
        self.received = self._count() if self.state == RECEIVING else self.nblocks()

    def _save(self):
        self.store.put(
            storekeys.DL_SESSION,
            struct.pack(
                _SESSION,
                self.image_id,
                self.size,
                self.bs,
                self.slot,
                self.state,
                self.code,
                self.act_time,
            ),
        )

    def set_state(self, state, code=0):
        self.state = state
        self.code = code
        self._save()

    def nblocks(self):
        return (self.size + self.bs - 1) // self.bs if self.bs else 0

    # --- slot geometry --------------------------------------------------------------------------

    def _dev(self):
        return self.slots.devs[self.slot]

    def data_capacity(self, slot):
        return self.slots.capacity(slot) - BITMAP_BYTES

    def _bitmap_at(self):
        return self.slots.capacity(self.slot) - BITMAP_BYTES

    def _program(self, off, data):
        # program data at byte `off` of the slot, split at erase-block boundaries
        d = self._dev()
        fbs = d.ioctl(5, 0)
        mv = memoryview(data)
        i = 0
        while i < len(mv):
            k = min(len(mv) - i, fbs - (off + i) % fbs)
            d.writeblocks((off + i) // fbs, mv[i : i + k], (off + i) % fbs)
            i += k

    def has(self, n):
        w = self._word
        self.slots.reader(self.slot)(self._bitmap_at() + (n >> 3), memoryview(w)[:1])
        return not (w[0] >> (7 - (n & 7))) & 1

    def _mark(self, n):
        # clear bit n: one aligned 4-byte program whose other bits are 1 (they stay as they are)
        byte = n >> 3
        at = self._bitmap_at() + (byte & ~3)
        w = self._word
        for i in range(4):
            w[i] = 0xFF
        w[byte & 3] = 0xFF ^ (1 << (7 - (n & 7)))
        self._program(at, w)

    def _count(self):
        got = 0
        nb = self.nblocks()
        buf = bytearray(64)
        rd = self.slots.reader(self.slot)
        base = self._bitmap_at()
        for first in range(0, (nb + 7) >> 3, 64):
            k = min(64, ((nb + 7) >> 3) - first)
            rd(base + first, memoryview(buf)[:k])
            for i in range(k):
                inv = ~buf[i] & 0xFF
                while inv:
                    got += inv & 1
                    inv >>= 1
        return got

    def missing_bits(self, first, out, n):
        """Fill out[0:n] with the missing-block bitmap from block `first` (bit 7 of out[0] =
        block first; 1 = missing; blocks past the end read as 0)."""
        nb = self.nblocks()
        for i in range(n):
            v = 0
            for j in range(8):
                b = first + 8 * i + j
                if b >= nb or self.state in (READY, ACTIVATED):
                    continue
                if self.state != RECEIVING or not self.has(b):
                    v |= 0x80 >> j
            out[i] = v

    # --- requests -------------------------------------------------------------------------------

    def start(self, image_id, size, bs):
        """Open a download: erase the target slot, forget any earlier session."""
        if not 16 <= bs <= 112 or bs & 7:
            return E_VALUE
        target = self.slots.download_target()
        if target is None:
            return E_STATE
        nb = (size + bs - 1) // bs
        if (
            size < image.HDR + image.TAG
            or size > self.data_capacity(target)
            or nb > 8 * BITMAP_BYTES
        ):
            return E_RANGE
        self.state = IDLE
        self._save()  # an earlier session is gone before its slot is erased
        d = self.slots.devs[target]
        for b in range(d.ioctl(4, 0)):
            d.ioctl(6, b)
        self.image_id, self.size, self.bs, self.slot = bytes(image_id), size, bs, target
        self.code, self.act_time, self.received = 0, 0, 0
        self.manifest = None
        self.set_state(RECEIVING)
        self._log(events.DL_STARTED, nb)
        return 0

    def block_tag_ok(self, image_id, n, data, tag):
        h = self._hdr
        h[0:4] = image_id
        h[4] = n >> 8
        h[5] = n & 0xFF
        h[6] = len(data)
        t = self._cmac(bytes(h) + bytes(data))
        diff = 0
        for i in range(BLOCK_TAG):
            diff |= t[i] ^ tag[i]
        return diff == 0

    def block(self, image_id, n, data, tag):
        """One block of the open download -> 0 (stored or already there) or a NACK code."""
        if self.state == IDLE or bytes(image_id) != self.image_id:
            return E_SESSION
        nb = self.nblocks()
        want = self.bs if n < nb - 1 else self.size - (nb - 1) * self.bs
        if n >= nb or len(data) != want:
            return E_RANGE
        if not self.block_tag_ok(image_id, n, data, tag):
            self.bad_tag += 1
            return E_TAG
        if self.state != RECEIVING or self.has(n):
            self.dup += 1
            return 0
        off = n * self.bs
        pad = (-len(data)) & 3  # word-programming flash: fill the tail with erased bytes
        self._program(off, bytes(data) + b"\xff" * pad if pad else data)
        self._mark(n)
        self.received += 1
        self.blocks_in += 1
        return 0

    def complete(self):
        return self.state == RECEIVING and self.received >= self.nblocks()

    def check(self, board_version):
        """Verify a complete download in its slot: READY, or REFUSED with the code (the
        concentrator then starts the download again, which erases the slot)."""
        code, m = self.slots.verify(self.slot, board_version, self.size)
        if code == image.OK and m.image_id() != self.image_id:
            code = image.E_TAG  # a valid image, but not the one announced
        self.manifest = m
        if code == image.OK:
            self.set_state(READY)
            self._log(events.DL_COMPLETE, m.version)
        else:
            self.set_state(REFUSED, code)
            self._log(events.DL_REFUSED, code)
        return code

    def abort(self):
        self.set_state(IDLE)
        self._log(events.DL_ABORTED, 0)
