"""Profiles (docs/profiles.md): the flash ring (wrap, remount, power cuts at every byte), load
and measurand profiles and daily snapshots on a real meter fed by a stand-in energy engine,
read back through the application layer's READTAB / READTAB-sel."""

import struct
import unittest

import alfix
import civiltime
import micropython
from datamodel import metering as mt
from datamodel import registers as r
from drivers.sim.flash import SimFlash
from profiles import layout
from profiles.record import CAD, DNV, ERR, LP_SIZE, PAR, PDN, lost
from profiles.ring import FlashRing
from test_store import PowerCut, RamFlash

T0 = civiltime.seconds(2026, 12, 8, 10, 0, 0)  # a 15-minute boundary, winter (CET = UTC+1)


class Energy:
    """Stand-in for meter.energy (Seam D): integer totals the test moves."""

    def __init__(self):
        self.t = [0, 0, 0, 0, 0, 0]
        self.tar = [0, 0, 0, 0]

    def totals(self):
        return tuple(self.t)

    def tariff_wh(self, k):
        return self.tar[k - 1]

    def add(self, a_plus=0, a_minus=0, q1=0, q4=0, tariff=1):
        self.t[0] += a_plus
        self.t[1] += a_minus
        self.t[2] += q1
        self.t[5] += q4
        self.tar[tariff - 1] += a_plus


def rec(i):
    return struct.pack(">IB9s", 1000 + i, 0, bytes(9))


class TestRing(unittest.TestCase):
    def test_append_wrap_remount(self):
        f = RamFlash(256, 4)
        g = FlashRing(f, 0, 4, LP_SIZE, lost)
        self.assertEqual(g.per, 15)  # 256 / 16 slots, one for the header
        self.assertEqual(g.capacity, 45)
        for i in range(100):
            self.assertEqual(g.append(rec(i)), i)
            self.assertEqual(g.count(), min(i + 1, 45))
        self.assertEqual((g.first(), g.end), (55, 100))
        for rno in range(55, 100):
            self.assertEqual(bytes(g.record(rno)), rec(rno))
        h = FlashRing(f, 0, 4, LP_SIZE, lost)
        self.assertEqual((h.first(), h.end), (55, 100))
        self.assertEqual(bytes(h.record(99)), rec(99))
        h.append(rec(100))
        self.assertEqual(bytes(FlashRing(f, 0, 4, LP_SIZE, lost).record(100)), rec(100))
        self.assertEqual(h.time_range(1060, 1070), (60, 71))
        self.assertEqual(h.time_range(5, 6), (101, 101))
        self.assertEqual(max(f.erases) - min(f.erases), 1)  # round robin

    def test_power_cut_at_every_byte(self):
        # a cut anywhere in an append (erase, header, slot) loses at most that record; the
        # ring mounts, every earlier record is intact, and appends go on
        base = RamFlash(128, 3)
        g = FlashRing(base, 0, 3, LP_SIZE, lost)
        for i in range(6):  # 7 records per block: the 8th append starts a new block
            g.append(rec(i))
        snap = bytes(base.mem)
        budget = 0
        while True:
            f = RamFlash(128, 3)
            f.mem[:] = snap
            g = FlashRing(f, 0, 3, LP_SIZE, lost)
            f.budget = budget
            done = True
            try:
                for i in range(6, 9):
                    g.append(rec(i))
            except PowerCut:
                done = False
            f.budget = -1
            h = FlashRing(f, 0, 3, LP_SIZE, lost)
            self.assertGreaterEqual(h.end, 6)
            for rno in range(h.first(), h.end):
                got = bytes(h.record(rno))
                if got != rec(rno):
                    self.assertEqual(rno, h.end - 1)  # only the record being written
                    self.assertEqual(got[4], ERR | DNV)
            n = h.end
            h.append(rec(50))
            self.assertEqual(bytes(FlashRing(f, 0, 3, LP_SIZE, lost).record(n)), rec(50))
            if done:
                break
            budget += 1
        self.assertGreater(budget, 20)

    def test_layout(self):
        self.assertEqual(layout(44), ((0, 24), (24, 18), (42, 2)))
        with self.assertRaises(ValueError):
            layout(5)


class TestDocVectors(unittest.TestCase):
    """The hex examples of docs/profiles.md, built by the firmware."""

    def test_load_profile_record_and_slot(self):
        from profiles.load import LoadProfile

        f = RamFlash(4096, 4)
        g = FlashRing(f, 0, 4, LP_SIZE, lost)
        e = Energy()
        t = 850000500

        class Env:
            def dst(self, t):
                return False

            def clock_valid(self):
                return True

        lp = LoadProfile(g, LP_SIZE, 900, 15, e.totals)
        lp.tick(t - 900, False, 900, 15, Env())
        e.add(a_plus=125, q1=31, q4=2)
        lp.count = 899  # 900 counted seconds: the tick below is the last
        lp.tick(t, False, 900, 15, Env())
        want = bytes.fromhex("32a9fa74000f007d0000001f0002")
        self.assertEqual(bytes(g.record(0)), want)
        slot = bytearray(16)
        f.readblocks(0, slot, 16)
        self.assertEqual(bytes(slot), want + bytes.fromhex("b2c8"))

    def test_block_header(self):
        f = RamFlash(256, 2)
        g = FlashRing(f, 0, 2, LP_SIZE, lost)
        g.end = 765
        g.append(rec(0))
        h = bytearray(16)
        f.readblocks(0, h, 0)
        self.assertEqual(bytes(h), bytes.fromhex("50524631000002fd30344055ffffffff"))


class Bench(alfix.Bench):
    def boot(self):
        m = alfix.Bench.boot(self)
        self.profile_flash = SimFlash(self.dir + "/profile.bin", 4096, 44)
        m.hw.profile_flash = self.profile_flash
        # attach again on the hardware with profile flash (alfix builds without one)
        from profiles import attach

        m.on_second[:] = []
        m.savers[:] = []
        attach(m)
        m.energy = self.energy
        return m

    def close(self):
        alfix._rm(self.dir + "/profile.bin")
        alfix.Bench.close(self)


class TestProfiles(unittest.TestCase):
    def setUp(self):
        self.energy = Energy()
        Bench.energy = self.energy
        self.b = Bench("prof")
        self.m = self.b.meter
        self.b.rtc.t = T0

    def tearDown(self):
        self.b.close()

    def run_s(self, n, w=1000, q=0):
        """n metering seconds at w watts (Wh credited as whole Wh every 3600 / w s)."""
        e = self.energy
        for _ in range(n):
            self.b.rtc.t += 1
            self.acc = getattr(self, "acc", 0) + w
            wh, self.acc = divmod(self.acc, 3600)
            e.add(a_plus=wh, q1=q)
            self.m.profiles.on_second(self.b.rtc.t)

    def lp(self):
        t = self.m.model.tables[r.LOAD_PROFILE]
        return [struct.unpack(">IBBHHHH", bytes(t.record(i))) for i in range(t.first(), t.end)]

    def test_quarter_hours(self):
        self.m.profiles.on_second(T0)  # opens at a boundary
        self.run_s(3600, w=2000, q=1)
        recs = self.lp()
        self.assertEqual(len(recs), 4)
        for i, x in enumerate(recs):
            self.assertEqual(x, (T0 + 900 * (i + 1), 0, 15, 500, 0, 900, 0))
        self.assertEqual(sum(x[3] for x in recs), self.energy.t[0])

    def test_readtab_through_the_al(self):
        self.m.profiles.on_second(T0)
        self.run_s(1800, w=400)
        req = bytes((8, 0x05, 0x00)) + struct.pack(">I", 0)  # READTAB 0x0500 from RNO 0
        out = bytes(self.b.req(req))
        self.assertEqual(out[:1], b"\x09", out)
        oid, first, end, n = struct.unpack_from(">HIIB", out, 1)
        self.assertEqual((oid, first, end, n), (0x0500, 0, 2, 2))
        recs = [struct.unpack_from(">IBBHHHH", out, 12 + 14 * i) for i in range(2)]
        self.assertEqual(recs[0], (T0 + 900, 0, 15, 100, 0, 0, 0))
        self.assertEqual(recs[1], (T0 + 1800, 0, 15, 100, 0, 0, 0))
        sel = bytes((6, 0x05, 0x00, 1)) + struct.pack(">II", T0 + 1000, T0 + 2000)
        out = bytes(self.b.req(sel))  # READTAB-sel by time
        self.assertEqual(struct.unpack_from(">HIIB", out, 1), (0x0500, 1, 2, 1))

    def test_clock_steps_and_period_change(self):
        self.m.profiles.on_second(T0)
        self.run_s(100)
        self.m.wallclock.set(self.b.rtc.t + 30)  # forward inside the interval
        self.run_s(770)  # reaches T0 + 900
        self.m.wallclock.set(self.b.rtc.t - 600)  # backwards, before the open interval
        self.run_s(1)
        self.m.model.write(r.find(r.LP_PERIOD), b"\x05")
        self.run_s(1)
        recs = self.lp()
        self.assertEqual(recs[0][:2], (T0 + 900, CAD | PAR))  # 870 of 900 seconds
        self.assertEqual(recs[1][:2], (T0 + 1800, CAD | PAR))  # closed by the backwards step
        self.assertEqual(recs[2][1] & PAR, PAR)  # closed by the period change, stamped now
        self.assertEqual(recs[2][0], self.b.rtc.t)
        self.assertEqual(sum(x[3] for x in recs), self.energy.t[0])

    def test_power_cycle_keeps_the_sum(self):
        self.m.profiles.on_second(T0)
        self.run_s(1000, w=3600)
        for s in self.m.savers:
            s()
        self.b.rtc.t += 400  # off for 400 s, nothing metered
        self.m = self.b.boot()
        self.run_s(700, w=3600)
        recs = self.lp()
        self.assertEqual([x[0] for x in recs], [T0 + 900, T0 + 1800])
        self.assertEqual(recs[1][1], PDN | PAR)
        self.assertEqual(recs[1][3], 500)  # 100 s before the cut, 400 s after
        self.assertEqual(sum(x[3] for x in recs), self.energy.t[0] - 300)  # open: 300 Wh

    def test_unannounced_kill_restores_the_last_close(self):
        # no saver ran: the state committed at the close of T0 + 900 is what the boot finds
        self.m.profiles.on_second(T0)
        self.run_s(1200, w=3600)
        self.m = self.b.boot()
        self.run_s(600, w=3600)
        recs = self.lp()
        self.assertEqual([x[0] for x in recs], [T0 + 900, T0 + 1800])
        self.assertEqual(recs[1][1], PDN | PAR)  # its seconds before the kill were not committed
        self.assertEqual(recs[1][3], 900)  # every Wh since the last close is in it
        self.assertEqual(sum(x[3] for x in recs), self.energy.t[0])

    def test_measurand_means(self):
        me = self.m.metering
        self.m.profiles.on_second(T0)
        for i in range(600):
            me.set(mt.VOLTAGE, 2, 2300 + (i % 2) * 2)
            me.set(mt.CURRENT, 2, 500)
            me.set(mt.POWER, 4, -1150 & 0xFFFFFFFF)
            self.run_s(1)
        t = self.m.model.tables[r.MEASURAND_PROFILE]
        self.assertEqual(t.count(), 1)
        self.assertEqual(
            struct.unpack(">IBBHHi", bytes(t.record(0))), (T0 + 600, 0, 7, 2301, 500, -1150)
        )

    def test_daily_snapshot_at_local_midnight(self):
        midnight = civiltime.seconds(2026, 12, 8, 23, 0, 0)  # 00:00 CET (fallback: UTC+60 min)
        self.b.rtc.t = midnight - 7200
        self.m.profiles.on_second(self.b.rtc.t)
        self.energy.tar[1] = 7
        self.run_s(7200 + 10, w=360)
        d = self.m.model.tables[r.DAILY_SNAPSHOT]
        self.assertEqual(d.count(), 1)
        x = struct.unpack(">IBB10I", bytes(d.record(0)))
        # TARIFF: the one in force at midnight (Seam C)
        self.assertEqual(x[:4], (midnight, 0, self.m.tariffs.current(midnight), 720))
        self.assertEqual(x[9:11], (720, 7))  # T1, T2

    def test_second_allocates_nothing(self):
        self.m.profiles.on_second(T0)
        self.run_s(10)
        p = self.m.profiles
        t = self.b.rtc.t + 1
        micropython.heap_lock()
        try:
            for i in range(100):
                p.on_second(t + i)
        finally:
            micropython.heap_unlock()
        self.assertEqual(self.m.model.tables[r.LOAD_PROFILE].count(), 0)


if __name__ == "__main__":
    unittest.main()
