"""store.Store / store.Counter64 on RAM NOR flash with power cuts at every byte, and on
drivers.sim.flash.SimFlash (file-backed)."""

import os
import unittest

import micropython
import store
from drivers.sim.flash import SimFlash


class PowerCut(Exception):
    pass


class RamFlash:
    """NOR flash in RAM with the extended block protocol. `budget` = bytes that may still be
    programmed or erased before a power cut (a partial write/erase, then PowerCut)."""

    def __init__(self, block_size=512, n_blocks=3, unit=8):
        self.bs = block_size
        self.nb = n_blocks
        self.unit = unit
        self.mem = bytearray(b"\xff" * (block_size * n_blocks))
        self.budget = -1
        self.erases = [0] * n_blocks
        self.programmed = 0

    def _spend(self):
        if self.budget == 0:
            raise PowerCut()
        if self.budget > 0:
            self.budget -= 1

    def readblocks(self, block, buf, offset=0):
        p = block * self.bs + offset
        assert 0 <= p and p + len(buf) <= len(self.mem)
        for i in range(len(buf)):
            buf[i] = self.mem[p + i]

    def writeblocks(self, block, buf, offset):
        assert offset + len(buf) <= self.bs, "program crosses a block"
        assert offset % self.unit == 0 and len(buf) % self.unit == 0, "unaligned program"
        p = block * self.bs + offset
        for i in range(len(buf)):
            assert self.mem[p + i - i % self.unit : p + i - i % self.unit + self.unit] == (
                b"\xff" * self.unit
            ) or (i % self.unit), "unit programmed twice"
        for i in range(len(buf)):
            self._spend()
            self.mem[p + i] &= buf[i]
            self.programmed += 1

    def ioctl(self, op, arg):
        if op == 4:
            return self.nb
        if op == 5:
            return self.bs
        if op == 6:
            p = arg * self.bs
            for i in range(0, self.bs, 16):  # torn erases leave the block half old, half erased
                self._spend()
                self.mem[p + i : p + i + 16] = b"\xff" * 16
            self.erases[arg] += 1
            return 0
        return None

    def snapshot(self):
        return bytearray(self.mem)

    def restore(self, snap):
        self.mem[:] = snap
        self.budget = -1


def fill(s, n, nkeys=4, tag=b""):
    for i in range(n):
        s.put(i % nkeys, tag + b"%d:" % i + bytes([i & 0xFF]) * (i % 23))


class TestBasics(unittest.TestCase):
    def setUp(self):
        self.f = RamFlash()
        self.s = store.Store(self.f)

    def test_empty_device(self):
        self.assertEqual(self.s.keys(), [])
        self.assertIsNone(self.s.get(1))
        self.assertEqual(self.s.get(1, b"d"), b"d")
        self.assertEqual(self.s.stats()["active"], -1)
        self.assertEqual(self.f.programmed, 0)  # mounting never writes

    def test_put_get_overwrite_delete(self):
        s = self.s
        s.put(1, b"one")
        s.put(2, bytearray(b"two"))
        s.put(65535, memoryview(b"xmax")[1:])
        s.put(0, b"")
        self.assertEqual(s.get(1), b"one")
        self.assertEqual(s.get(2), b"two")
        self.assertEqual(s.get(65535), b"max")
        self.assertEqual(s.get(0), b"")
        s.put(1, b"uno")
        self.assertEqual(s.get(1), b"uno")
        self.assertTrue(s.delete(2))
        self.assertFalse(s.delete(2))
        self.assertIsNone(s.get(2))
        self.assertEqual(s.keys(), [0, 1, 65535])
        self.assertIn(1, s)
        self.assertNotIn(2, s)
        r = store.Store(self.f)
        self.assertEqual(r.keys(), [0, 1, 65535])
        self.assertEqual(r.get(1), b"uno")
        self.assertEqual(r.get(0), b"")

    def test_limits(self):
        self.s.put(5, bytes(range(256)))
        self.assertEqual(self.s.get(5), bytes(range(256)))
        with self.assertRaises(ValueError):
            self.s.put(5, bytes(257))
        with self.assertRaises(ValueError):
            self.s.put(65536, b"x")
        with self.assertRaises(ValueError):
            self.s.put(-1, b"x")
        with self.assertRaises(ValueError):
            store.Store(RamFlash(n_blocks=1))

    def test_full_store_raises_and_stays_consistent(self):
        s = self.s
        s.put(0, bytes(200))
        with self.assertRaises(OSError):
            s.put(1, bytes(256))  # 24 + 224 + 280 > 512
        self.assertEqual(s.get(0), bytes(200))
        self.assertIsNone(s.get(1))
        s.put(0, bytes(256))  # replacing fits
        self.assertEqual(store.Store(self.f).get(0), bytes(256))

    def test_get_into(self):
        s = self.s
        s.put(3, b"12345678")
        buf = bytearray(8)
        big = bytearray(20)
        self.assertEqual(s.get_into(3, buf), 8)
        self.assertEqual(buf, b"12345678")
        self.assertEqual(s.get_into(3, big), 8)
        self.assertEqual(big[:8], b"12345678")
        self.assertEqual(s.get_into(4, buf), -1)
        with self.assertRaises(ValueError):
            s.get_into(3, bytearray(4))

    def test_get_into_allocates_nothing(self):
        path = _tmp("mp_test_store_alloc.bin")
        f = SimFlash(path, block_size=256, n_blocks=2)
        s = store.Store(f)
        s.put(3, b"12345678")
        buf = bytearray(8)
        s.get_into(3, buf)
        micropython.heap_lock()
        try:
            n = s.get_into(3, buf)
        finally:
            micropython.heap_unlock()
        self.assertEqual(n, 8)
        f.close()
        os.remove(path)


class TestCompaction(unittest.TestCase):
    def test_many_updates_rotate_blocks(self):
        f = RamFlash(block_size=512, n_blocks=4)
        s = store.Store(f)
        fill(s, 600, nkeys=5)
        st = s.stats()
        self.assertGreater(st["compactions"], 40)
        self.assertEqual(st["generation"], st["compactions"])
        self.assertEqual(sum(f.erases), sum(st["erases"]))
        # Round-robin wear: every block erased, counts within one of each other.
        self.assertGreater(min(f.erases), 10)
        self.assertLessEqual(max(f.erases) - min(f.erases), 1)
        r = store.Store(f)
        for k in range(5):
            i = 595 + k
            self.assertEqual(r.get(k), b"%d:" % i + bytes([i & 0xFF]) * (i % 23))

    def test_delete_is_dropped_by_compaction(self):
        f = RamFlash()
        s = store.Store(f)
        s.put(1, b"a")
        s.put(2, b"b")
        s.delete(1)
        fill(s, 60, nkeys=1, tag=b"zz")  # key 0 churns; 1 stays deleted, 2 stays
        r = store.Store(f)
        self.assertIsNone(r.get(1))
        self.assertEqual(r.get(2), b"b")
        self.assertEqual(r.keys(), [0, 2])

    def test_two_blocks_suffice(self):
        f = RamFlash(block_size=256, n_blocks=2)
        s = store.Store(f)
        for i in range(300):
            s.put(7, b"%d" % i)
        self.assertEqual(store.Store(f).get(7), b"299")
        self.assertLessEqual(abs(f.erases[0] - f.erases[1]), 1)


class TestPowerCuts(unittest.TestCase):
    def check_every_cut(self, prepare, op, expect_old, expect_new):
        """Cut power at every byte of op (after prepare); the remounted store must hold either
        the whole old or the whole new state and must keep working."""
        f = RamFlash(block_size=256, n_blocks=3)
        s = store.Store(f)
        prepare(s)
        snap = f.snapshot()
        before = f.programmed
        op(s)
        total = f.programmed - before + 16 * 16 * 2  # programs plus up to two erases
        self.assertEqual(dict((k, s.get(k)) for k in s.keys()), expect_new)
        saw = set()
        for cut in range(total + 1):
            f.restore(snap)
            s = store.Store(f)
            f.budget = cut
            try:
                op(s)
                done = True
            except PowerCut:
                done = False
            f.budget = -1
            r = store.Store(f)
            state = dict((k, r.get(k)) for k in r.keys())
            if done:
                self.assertEqual(state, expect_new, "cut %d after completion" % cut)
            else:
                self.assertIn(state, (expect_old, expect_new), "cut %d" % cut)
            saw.add(state == expect_new)
            # The remounted store keeps working: one more write, then a clean remount.
            r.put(99, b"after")
            again = store.Store(f)
            self.assertEqual(again.get(99), b"after")
            for k, v in state.items():
                self.assertEqual(again.get(k), v)
        self.assertEqual(saw, {False, True})

    def test_cut_during_append(self):
        def prep(s):
            s.put(1, b"old")
            s.put(2, b"keep")

        self.check_every_cut(
            prep,
            lambda s: s.put(1, b"new value"),
            {1: b"old", 2: b"keep"},
            {1: b"new value", 2: b"keep"},
        )

    def test_cut_during_compaction(self):
        def prep(s):
            for i in range(5):
                s.put(1, b"v%d" % i + bytes(30))
            s.put(2, b"keep")
            while s.stats()["free"] >= 56:
                s.put(3, b"filler")

        old = {1: b"v4" + bytes(30), 2: b"keep", 3: b"filler"}

        def op(s):
            self.assertLess(s.stats()["free"], 56)  # this put must compact
            s.put(1, b"new" + bytes(20))

        self.check_every_cut(prep, op, old, {1: b"new" + bytes(20), 2: b"keep", 3: b"filler"})

    def test_cut_during_delete(self):
        def prep(s):
            s.put(1, b"a")
            s.put(2, b"b")

        self.check_every_cut(prep, lambda s: s.delete(1), {1: b"a", 2: b"b"}, {2: b"b"})

    def test_cut_during_first_format(self):
        self.check_every_cut(lambda s: None, lambda s: s.put(5, b"first"), {}, {5: b"first"})


class TestDamage(unittest.TestCase):
    def test_crc_corruption_is_ignored(self):
        f = RamFlash()
        s = store.Store(f)
        s.put(1, b"aaaa")
        s.put(1, b"bbbb")
        s.put(2, b"cccc")
        p = f.mem.find(b"bbbb")
        f.mem[p] &= 0xFD  # a bit flips in a committed record
        r = store.Store(f)
        self.assertEqual(r.stats()["corrupt"], 1)
        self.assertEqual(r.get(1), b"aaaa")  # previous record of the key
        self.assertEqual(r.get(2), b"cccc")  # records after the damaged one survive
        r.put(3, b"dddd")
        self.assertEqual(store.Store(f).get(3), b"dddd")

    def test_garbage_device_is_treated_as_empty(self):
        f = RamFlash()
        for i in range(len(f.mem)):
            f.mem[i] = (i * 37 + 11) & 0xFF
        s = store.Store(f)
        self.assertEqual(s.keys(), [])
        s.put(1, b"x")  # formats: erases the garbage block first
        self.assertEqual(store.Store(f).get(1), b"x")

    def test_interrupted_compaction_block_is_ignored(self):
        f = RamFlash()
        s = store.Store(f)
        s.put(1, b"live")
        active = s.stats()["active"]
        tgt = (active + 1) % 3
        # A later-generation header without a seal (compaction cut before its commit point).
        base = tgt * f.bs
        import binascii

        hdr = b"SKV1" + (s.stats()["generation"] + 5).to_bytes(4, "big")
        hdr += binascii.crc32(hdr).to_bytes(4, "big") + b"\xff" * 4
        f.mem[base : base + 16] = hdr
        r = store.Store(f)
        self.assertEqual(r.stats()["active"], active)
        self.assertEqual(r.get(1), b"live")
        fill(r, 40)  # compaction reuses (erases) that block
        self.assertEqual(store.Store(f).get(3), fill_value(39))

    def test_stale_sealed_block_loses_to_newer_generation(self):
        f = RamFlash()
        s = store.Store(f)
        s.put(1, b"old")
        old_block = s.stats()["active"]
        saved = bytes(f.mem[old_block * f.bs : (old_block + 1) * f.bs])
        fill(s, 30)
        s.put(1, b"new")
        # Restore the old sealed block somewhere else in the ring (as if its erase was lost).
        other = [i for i in range(3) if i != s.stats()["active"]][0]
        f.mem[other * f.bs : (other + 1) * f.bs] = saved
        self.assertEqual(store.Store(f).get(1), b"new")

    def test_torn_tail_then_compaction(self):
        f = RamFlash()
        s = store.Store(f)
        s.put(1, b"one")
        f.budget = 7
        with self.assertRaises(PowerCut):
            s.put(2, b"two")
        f.budget = -1
        r = store.Store(f)
        self.assertTrue(r.stats()["dirty"])
        self.assertEqual(r.keys(), [1])
        r.put(2, b"two")  # repairs by compaction into the next block
        st = r.stats()
        self.assertFalse(st["dirty"])
        self.assertEqual(st["compactions"], 1)
        self.assertEqual(store.Store(f).keys(), [1, 2])


def fill_value(i):
    return b"%d:" % i + bytes([i & 0xFF]) * (i % 23)


class TestCounter64(unittest.TestCase):
    def test_increment_persists(self):
        f = RamFlash()
        s = store.Store(f)
        c = store.Counter64(s, 3)
        self.assertEqual(c.value, 0)
        for i in range(1, 60):
            self.assertEqual(c.increment(), i)
        self.assertEqual(store.Counter64(store.Store(f), 3).value, 59)
        self.assertEqual(s.get(3), (59).to_bytes(8, "big"))

    def test_64_bit_range(self):
        s = store.Store(RamFlash())
        c = store.Counter64(s, 3, default=5)
        self.assertEqual(c.value, 5)
        c.set((1 << 64) - 2)
        c.increment()
        self.assertEqual(store.Counter64(s, 3).value, (1 << 64) - 1)
        with self.assertRaises(ValueError):
            c.increment()
        self.assertEqual(c.value, (1 << 64) - 1)

    def test_torn_increment_is_old_or_new(self):
        f = RamFlash()
        s = store.Store(f)
        c = store.Counter64(s, 3)
        c.set(41)
        snap = f.snapshot()
        for cut in range(0, 40):
            f.restore(snap)
            c = store.Counter64(store.Store(f), 3)
            f.budget = cut
            try:
                c.increment()
            except PowerCut:
                self.assertEqual(c.value, 41)  # RAM never ahead of flash
            f.budget = -1
            self.assertIn(store.Counter64(store.Store(f), 3).value, (41, 42))


def _tmp(name):
    try:
        os.stat("/tmp")
        return "/tmp/%s.%d" % (name, os.getpid() if hasattr(os, "getpid") else 0)
    except OSError:
        return name


class TestSimFlash(unittest.TestCase):
    def setUp(self):
        self.path = _tmp("mp_test_simflash.bin")
        try:
            os.remove(self.path)
        except OSError:
            pass

    def tearDown(self):
        try:
            os.remove(self.path)
        except OSError:
            pass

    def test_nor_semantics(self):
        f = SimFlash(self.path, block_size=256, n_blocks=4)
        self.assertEqual(f.ioctl(4, 0), 4)
        self.assertEqual(f.ioctl(5, 0), 256)
        buf = bytearray(8)
        f.readblocks(2, buf, 100)
        self.assertEqual(buf, b"\xff" * 8)  # created erased
        f.writeblocks(2, b"\xf0\x0f\xaa\x55", 100)
        f.writeblocks(2, b"\x3c\x3c\xff\x00", 100)  # programming can only clear bits
        f.readblocks(2, buf, 100)
        self.assertEqual(buf, b"\x30\x0c\xaa\x00\xff\xff\xff\xff")
        with self.assertRaises(OSError):
            f.writeblocks(2, b"12345678", 252)  # beyond the block
        with self.assertRaises(OSError):
            f.readblocks(3, bytearray(8), 252)  # beyond the device
        f.ioctl(6, 2)
        f.readblocks(2, buf, 100)
        self.assertEqual(buf, b"\xff" * 8)
        self.assertEqual(f.erase_counts, [0, 0, 1, 0])
        f.close()
        g = SimFlash(self.path, block_size=256, n_blocks=4)  # contents persist in the file
        g.writeblocks(0, b"abcd", 0)
        g.close()
        h = SimFlash(self.path, block_size=256, n_blocks=4)
        h.readblocks(0, buf, 0)
        self.assertEqual(buf[:4], b"abcd")
        h.close()

    def test_program_unit_enforced(self):
        f = SimFlash(self.path, block_size=256, n_blocks=2, program_unit=8)
        f.writeblocks(0, b"12345678", 8)
        with self.assertRaises(OSError):
            f.writeblocks(0, b"12345678", 8)  # same ECC word twice
        with self.assertRaises(OSError):
            f.writeblocks(0, b"1234", 16)  # unaligned length
        f.close()

    def test_basic_protocol_erases(self):
        f = SimFlash(self.path, block_size=256, n_blocks=2)
        f.writeblocks(1, b"\x00" * 256, 0)
        f.writeblocks(1, b"\x5a" * 256)  # no offset: erase + program
        buf = bytearray(256)
        f.readblocks(1, buf)
        self.assertEqual(buf, b"\x5a" * 256)
        f.close()

    def test_store_on_sim_flash(self):
        f = SimFlash(self.path, block_size=512, n_blocks=3, program_unit=8)
        s = store.Store(f)
        fill(s, 100, nkeys=6)
        f.close()
        g = SimFlash(self.path, block_size=512, n_blocks=3)
        r = store.Store(g)
        for k in range(6):
            self.assertEqual(r.get(k), fill_value(max(i for i in range(100) if i % 6 == k)))
        g.close()
