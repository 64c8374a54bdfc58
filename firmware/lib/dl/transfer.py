"""Receiving an image into a slot: the download session, block writes, the persistent bitmap
(docs/download.md §3, §5).

    t = Transfer(slots, store, cmac_block, log)
    t.start(image_id, size, block_size, version)  -> 0 or a NACK code (download_start)
    t.erase_step()                           -> the dl task erases the slot, one unit a call
    t.block(image_id, n, data, tag)          -> 0 or a NACK code   (REPROG_LOCAL/BROADCAST)
    t.check()                                -> verify once complete (the dl task calls it)

The image goes straight into the download target slot's flash (never into RAM). Which blocks
are there is a bitmap in the slot's last 4 KiB, one bit per block, cleared (1 -> 0) after the
block's data is programmed: NOR flash programs bits to 0 without an erase, so marking a block
costs one 4-byte program and a power cut can only lose the mark of a block whose data may be
half-written (it is fetched again). Nothing is kept in RAM that flash does not already hold,
except the count of blocks received and how far the erase got.

download_start only records the session (state ERASING); the download task then erases the
erase units the image and the bitmap need, one per call, the bitmap's unit first and then the
data units upwards (docs/download.md §3, §5.3). A block is stored only once its unit is erased
(else NACK 27). A restart during the erase finds the session ERASING and erases again from
the bitmap's unit: the marks of blocks taken meanwhile go first, so no mark ever names data in
an unerased region.
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
ERASING = const(5)  # download_start taken; the dl task erases the slot (blocks: NACK 27)

E_RANGE = const(24)  # block number or length outside the announced image
E_SESSION = const(25)  # no download open for this image id
E_STATE = const(26)  # not now: a trial runs (no free slot), or nothing ready to activate
E_ERASING = const(27)  # the block's flash is not erased yet: send it again later
E_VALUE = const(6)
E_TAG = image.E_TAG

BITMAP_BYTES = const(4096)  # the slot's last 4 KiB: up to 32768 blocks
BLOCK_TAG = const(4)  # bytes of AES-CMAC each block carries (docs/download.md §5)
_SESSION = ">4sIBBBBII"  # IMAGE_ID SIZE BS SLOT STATE CODE ACT_TIME VERSION
_SESSION_V1 = const(16)  # the record before VERSION (read as VERSION 0)
_FIELDS = ("image_id", "size", "bs", "slot", "state", "code", "act_time", "version")


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
        self.early = 0  # blocks refused because their unit was not erased yet
        self.manifest = None
        self.erased = 0  # erase units done of an ERASING session (RAM: a restart erases again)
        self._ebs = 0  # erase unit of the session's slot (bytes), 0 = not looked up yet
        self._load()

    # --- session record -------------------------------------------------------------------------

    def _load(self):
        v = self.store.get(storekeys.DL_SESSION)
        if v is not None and len(v) == _SESSION_V1:
            v = bytes(v) + bytes(4)
        if v is None or len(v) != struct.calcsize(_SESSION):
            self.image_id, self.size, self.bs, self.slot = bytes(4), 0, 0, 0
            self.state, self.code, self.act_time, self.version = IDLE, 0, 0, 0
            self.received = 0
            return
        for name, x in zip(_FIELDS, struct.unpack(_SESSION, v)):
            setattr(self, name, x)
        if self.state == ERASING:
            self.received = 0  # the erase starts again with the bitmap's unit
        else:
            self.received = self._count() if self.state == RECEIVING else self.nblocks()

    def _save(self):
        self.store.put(
            storekeys.DL_SESSION, struct.pack(_SESSION, *[getattr(self, n) for n in _FIELDS])
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

    def marks_valid(self):
        """True when the slot's bitmap holds this session's marks (its unit is erased)."""
        return self.state == RECEIVING or (self.state == ERASING and self.erased > 0)

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
                if not self.marks_valid() or not self.has(b):
                    v |= 0x80 >> j
            out[i] = v

    # --- requests -------------------------------------------------------------------------------

    def start(self, image_id, size, bs, version=0):
        """Open a download: one store record (state ERASING) forgets any earlier session; the
        dl task then erases the slot (erase_step). `version`: the release a broadcast start
        announced (the manifest must carry it), 0 = opened by the sealed COMMAND."""
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
        self.image_id, self.size, self.bs, self.slot = bytes(image_id), size, bs, target
        self.code, self.act_time, self.received, self.version = 0, 0, 0, version
        self.manifest = None
        self.erased = 0
        self._ebs = 0
        self.set_state(ERASING)
        self._log(events.DL_STARTED, nb)
        return 0

    # --- the erase, one unit per call (docs/download.md §3) ----------------------------------

    def _units(self):
        # (erase unit bytes, the bitmap's unit, units to erase: the bitmap's + the data's)
        if not self._ebs:
            self._ebs = self._dev().ioctl(5, 0)
        bu = self._bitmap_at() // self._ebs
        data = (self.size + self._ebs - 1) // self._ebs
        return self._ebs, bu, 1 + min(data, bu)

    def erase_step(self):
        """Erase the next unit of an ERASING session: the bitmap's unit first, then the data
        units from 0 up. The last one turns the session RECEIVING. -> units still to erase."""
        if self.state != ERASING:
            return 0
        _ebs, bu, total = self._units()
        k = self.erased
        self._dev().ioctl(6, bu if k == 0 else k - 1)
        self.erased = k + 1
        if self.erased >= total:
            self.set_state(RECEIVING)
        return total - self.erased

    def _erased(self, off, n):
        # bytes off .. off+n-1 of the slot lie in erased units
        if self.state != ERASING:
            return True
        ebs, bu, _total = self._units()
        for u in (off // ebs, (off + n - 1) // ebs):
            if self.erased == 0 or (u != bu and u >= self.erased - 1):
                return False
        return True

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
        off = n * self.bs
        if not self._erased(off, len(data)):
            self.early += 1
            return E_ERASING
        if not self.marks_valid() or self.has(n):
            self.dup += 1
            return 0
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
        if code == image.OK and self.version and m.version != self.version:
            code = image.E_FORMAT  # not the version its broadcast start announced
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
