"""Firmware slots and the boot selector (docs/download.md §3).

A board has the factory tree (slot 0: what `make deploy` copied, the fallback) and two download
slots (1 and 2), each a raw flash region (a block device) holding one packed image that runs in
place through dl.imgvfs. Which one runs is the **boot selector**, one store record written
atomically (store.put is atomic), read by main.py before anything of the application is
imported:

    ACTIVE(1) PREV(1) STATE(1) TRIES(1) NOTE(1)     (absent = factory, confirmed)

STATE 0 confirmed, 1 on trial. A trial image must confirm (Slots.confirm: selftest passed and
the concentrator was heard) within MAX_TRIAL_BOOTS boots; the boot that would exceed it selects
PREV instead (roll-back). NOTE tells the application what to log once (activated, rolled back,
fell back after a failed check). Every boot verifies the image it is about to run (tag and every
file hash); an image that fails falls back to PREV, then to the factory tree: a boot never runs
a partly written or mixed image.
"""

import storekeys
from micropython import const

from dl import image

FACTORY = const(0)
N_SLOTS = const(3)  # 0 factory, 1 and 2 download slots
CONFIRMED = const(0)
TRIAL = const(1)
MAX_TRIAL_BOOTS = const(3)
NOTE_NONE = const(0)
NOTE_ACTIVATED = const(1)
NOTE_ROLLED_BACK = const(2)
NOTE_FELL_BACK = const(3)  # the selected image failed its boot check
MOUNT = "/mmslot%d"


class Slots:
    """The selector and the slot devices. `devs[i]` is slot i's block device (None for 0)."""

    def __init__(self, store, devs, board, mpy, key_default, sha256):
        self.store = store
        self.devs = devs
        self.board = board
        self.mpy = mpy
        self._key_default = key_default
        self.sha256 = sha256

    # --- selector record -----------------------------------------------------------------------

    def selector(self):
        """(active, prev, state, tries, note)."""
        v = self.store.get(storekeys.DL_SELECTOR)
        if v is None or len(v) != 5:
            return (FACTORY, FACTORY, CONFIRMED, 0, NOTE_NONE)
        return tuple(v)

    def _put(self, active, prev, state, tries, note):
        self.store.put(storekeys.DL_SELECTOR, bytes((active, prev, state, tries, note)))

    def key(self):
        k = self.store.get(storekeys.DL_KEY)
        return k if k is not None and len(k) == 16 else self._key_default

    # --- slot contents --------------------------------------------------------------------------

    def capacity(self, i):
        d = self.devs[i]
        return d.ioctl(4, 0) * d.ioctl(5, 0)

    def reader(self, i):
        d = self.devs[i]
        bs = d.ioctl(5, 0)

        def read_at(off, buf):
            d.readblocks(off // bs, buf, off % bs)

        return read_at

    def verify(self, i, version=-1, total=None):
        """Check slot i's image -> (code, Manifest or None). `total`: the expected length (a
        download knows it); None takes it from the header, bounded by the slot."""
        from smitp.crypto import CmacStream

        rd = self.reader(i)
        cap = self.capacity(i)
        if total is None:
            m = image.header(rd, cap)
            if m is None or m.total() > cap:
                return image.E_FORMAT, m
            total = m.total()
        if total > cap:
            return image.E_FORMAT, None
        return image.verify(
            rd, total, CmacStream(self.key()), self.sha256, self.board, self.mpy, version
        )

    def info(self, i):
        """(version, legal_id, legal_crc) of slot i's image header, or None (factory/empty)."""
        if i == FACTORY:
            return None
        m = image.header(self.reader(i), self.capacity(i))
        return None if m is None else (m.version, m.legal_id, m.legal_crc)

    # --- boot ----------------------------------------------------------------------------------

    def choose(self):
        """Run once per boot before the application: count a trial boot or roll back, verify the
        selected image; -> (slot, Manifest or None for the factory tree)."""
        active, prev, state, tries, note = self.selector()
        if state == TRIAL:
            if tries >= MAX_TRIAL_BOOTS:
                self._put(prev, active, CONFIRMED, 0, NOTE_ROLLED_BACK)
                active, prev, note = prev, active, NOTE_ROLLED_BACK
            else:
                self._put(active, prev, TRIAL, tries + 1, note)
        for cand in (active, prev):
            if cand == FACTORY:
                break
            code, m = self.verify(cand)
            if code == image.OK:
                if cand != active:
                    self._put(cand, FACTORY, CONFIRMED, 0, NOTE_FELL_BACK)
                return cand, m
        if active != FACTORY:
            self._put(FACTORY, FACTORY, CONFIRMED, 0, NOTE_FELL_BACK)
        return FACTORY, None

    def activate(self, target):
        """Select `target` (verified by the caller) for the next boot, on trial."""
        active = self.selector()[0]
        self._put(target, active, TRIAL, 0, NOTE_ACTIVATED)

    def confirm(self):
        """The trial image passed: keep it. Returns True if there was a trial to confirm."""
        active, prev, state, tries, note = self.selector()
        if state != TRIAL:
            return False
        self._put(active, prev, CONFIRMED, 0, note)
        return True

    def take_note(self):
        """The NOTE of the selector, cleared (the caller logs it once)."""
        active, prev, state, tries, note = self.selector()
        if note != NOTE_NONE:
            self._put(active, prev, state, tries, NOTE_NONE)
        return note

    def download_target(self):
        """The slot a download may overwrite: neither the running one nor, during a trial, the
        one to roll back to. None when there is none (a trial of slot 1 with 2 as PREV)."""
        active, prev, state = self.selector()[:3]
        for i in (1, 2):
            if i != active and not (state == TRIAL and i == prev):
                return i
        return None


def port_mpy():
    import sys

    v = sys.implementation._mpy
    return (v & 0xFF, v >> 8 & 0xFF)


def boot(store_dev, slot_devs, board, key_default):
    """main.py's step before the application: choose and verify the slot, mount it and put it
    first on sys.path, and forget every module imported so far so the slot's own ones load.
    Returns the slot number (0 = the factory tree already on the path)."""
    import hashlib
    import sys

    from store import Store

    s = Slots(Store(store_dev), slot_devs, board, port_mpy(), key_default, hashlib.sha256)
    slot, m = s.choose()
    if slot == FACTORY:
        return slot
    import vfs

    from dl.imgvfs import ImageVfs

    where = MOUNT % slot
    vfs.mount(ImageVfs(s.reader(slot), m), where)
    for p in (where, where + "/lib"):
        sys.path.insert(0, p)
    _forget_modules(sys.modules)
    return slot


def _forget_modules(mods):
    """Drop every module loaded from a file (the factory tree's), so the slot's own load next.
    Frozen modules of the port (asyncio...) stay: their __file__ names no real file, and a
    second copy of asyncio beside the running one would break the loop."""
    import os

    for name in list(mods):
        f = getattr(mods[name], "__file__", None)
        if name == "__main__" or not f:
            continue
        try:
            os.stat(f)
        except OSError:
            continue
        del mods[name]
