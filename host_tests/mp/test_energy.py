"""Energy engine (metering.energy, metering.engine): integer registers with carried remainders,
quadrants, tariffs, daily energies, the test LED, plausibility, registers and persistence.
Simulated time only; the reference values are recomputed here from fakes.metrology.second()
with plain integer sums, independently of the engine's booking code."""

import unittest

import storekeys
from datamodel import events, registers
from datamodel import metering as mt
from energy_bench import START, EnergyBench, fill
from fakes.metrology import second
from metering import engine as eng
from metering.energy import A_MINUS, A_PLUS, T1, WH, Energy

WHS = 3_600_000


def reference(first, end, seed=0, tariff=None, merged=()):
    """Exact mW·s per register (A+ A- Q1 Q2 Q3 Q4 T1..T4) over the seconds [first, end), one
    read per second except the intervals in `merged`, (a, b): one read covering [a, b)."""
    reads = []
    s = first
    for a, b in sorted(merged):
        reads += [(x, x + 1) for x in range(s, a)]
        reads.append((a, b))
        s = b
    reads += [(x, x + 1) for x in range(s, end)]
    r = [0] * 10
    for a, b in reads:
        ep = eq = 0
        for x in range(a, b):
            p, q, _ = second(x, seed)
            ep += p
            eq += q
        thr = 1000 * (b - a)  # the no-load threshold: 1 W (1 var) over the read's interval
        if -thr < ep < thr:
            ep = 0
        if -thr < eq < thr:
            eq = 0
        if ep >= 0:
            r[0] += ep
            r[6 + (tariff(a) if tariff else 1) - 1] += ep
            r[2 if eq >= 0 else 5] += abs(eq)
        else:
            r[1] -= ep
            r[3 if eq >= 0 else 4] += abs(eq)
    return r


def exact(e):
    return [e.exact(i) for i in range(10)]


class DriftRtc:
    """An RTC running ppm fast (or slow) against the meter's clock."""

    def __init__(self, clock, start, ppm):
        self.clock, self.start, self.ppm = clock, start, ppm

    def seconds(self):
        return self.start + self.clock.now_ms() * (1_000_000 + self.ppm) // 10**9

    def edge_ms(self, t):  # meter.clock ms at which second t begins
        return -(-(t - self.start) * 10**9 // (1_000_000 + self.ppm))


class TestRegisters(unittest.TestCase):
    def test_remainders_carry_without_drift(self):
        e = Energy()
        for _ in range(3600):
            e.book(999, 0, 1, 1000)  # 0.999 W for an hour: 0.999 Wh, nothing yet
        self.assertEqual((e.wh[A_PLUS], e.rem[A_PLUS]), (0, 3596400))
        e.book(3600, 0, 1, 1000)
        self.assertEqual((e.wh[A_PLUS], e.rem[A_PLUS]), (1, 0))
        self.assertEqual(e.exact(T1), WH)

    def test_quadrants_by_sign(self):
        e = Energy()
        e.book(WH, WH, 1, 1000)
        e.book(-WH, 2 * WH, 1, 1000)
        e.book(-2 * WH, -3 * WH, 1, 1000)
        e.book(3 * WH, -4 * WH, 2, 1000)
        e.book(0, 5 * WH, 3, 1000)  # P = 0 counts as import: Q1
        self.assertEqual(e.totals(), (4, 3, 6, 2, 3, 4))
        self.assertEqual((e.wh[T1], e.wh[T1 + 1], e.wh[T1 + 2]), (1, 3, 0))

    def test_led_pulses_follow_the_meter_constant(self):
        for k, wh, want in ((1000, 10, 10), (10000, 3, 30), (7, 1000, 7), (60000, 1, 60)):
            e = Energy()
            for _ in range(wh * 10):
                e.book(WH // 20, 0, 1, k)
                e.book(-WH // 20, 0, 1, k)  # export pulses the LED too
            self.assertEqual(e.pulses, want, k)

    def test_pack_round_trip_and_refusal(self):
        e = Energy()
        e.book(12345678901, -987654321, 3, 1000)
        e.new_day(9876)
        buf = bytearray(200)
        e.pack_into(buf, 5)
        f = Energy()
        self.assertTrue(f.unpack_from(buf, 5))
        self.assertEqual((exact(f), f.pulses, f.day, f.day0), (exact(e), e.pulses, 9876, e.day0))
        buf[5 + 4] = 0xFF  # a remainder >= 1 Wh: refused, nothing loaded
        g = Energy()
        self.assertFalse(g.unpack_from(buf, 5))
        self.assertEqual(exact(g), [0] * 10)

    def test_book_allocates_nothing(self):
        import micropython

        e = Energy()
        e.book(1, 1, 1, 1000)
        micropython.heap_lock()
        try:
            for i in range(1000):
                e.book(4_000_000 - i * 9000, 1_500_000 - i * 3001, 1 + i % 4, 1000)
        finally:
            micropython.heap_unlock()
        self.assertTrue(e.pulses > 0)


class TestEngine(unittest.TestCase):
    def setUp(self):
        self.b = EnergyBench("energy")

    def tearDown(self):
        self.b.close()

    def test_books_every_second_exactly(self):
        b = self.b
        b.run(600)
        e = b.meter.energy
        self.assertEqual(e.last_t, START + 600)
        self.assertEqual(e.seconds, 600)
        self.assertEqual(exact(e.energy), reference(START, START + 600))
        ms = b.meter.metering
        self.assertEqual(ms.get(mt.ACTIVE_IMPORT, 4), e.totals()[0])
        self.assertEqual(ms.get(mt.REACTIVE_Q4, 4), e.totals()[5])
        self.assertEqual(ms.get(mt.IMPORT_T1, 4), e.tariff_wh(1))
        self.assertEqual(ms.get(mt.ACTIVE_TARIFF, 1), 1)
        ep, eq, v = second(START + 599)
        self.assertEqual(ms.get(mt.POWER, 4, True), int(ep / 1000))
        self.assertEqual(ms.get(mt.VOLTAGE, 2), v // 100)
        self.assertEqual(ms.get(mt.FREQUENCY, 2), 5000)
        self.assertEqual(e.checkpoints, 10)  # every 60 metered seconds while energy moves

    def test_on_second_sees_each_second_once_after_booking(self):
        b = self.b
        seen = []
        e = b.meter.energy
        b.meter.on_second.append(lambda t: seen.append((t, e.last_t)))
        b.run(120)
        self.assertEqual(seen, [(START + i, START + i) for i in range(1, 121)])

    def test_alignment_follows_a_drifting_rtc(self):
        for ppm in (1000, -1000):  # the RTC 0.1 % fast, then slow, against meter.clock
            self._drift(ppm)

    def _drift(self, ppm):
        b = EnergyBench("energy_drift")
        try:
            rtc = DriftRtc(b.clock, START, ppm)
            b.rtc = rtc
            b.boot()
            b.met.rtc = rtc
            seen, late = [], []

            def on(t):
                seen.append(t)
                late.append(b.clock.now_ms() - rtc.edge_ms(t))

            b.meter.on_second.append(on)
            b.run(1500)
            self.assertEqual(seen, list(range(seen[0], seen[0] + len(seen))), ppm)
            self.assertTrue(len(seen) >= 1495, (ppm, len(seen)))
            # within a poll step after a realignment, at most 64 s of drift after it
            self.assertTrue(0 <= min(late) and max(late) <= 64 + 5, (ppm, max(late)))
        finally:
            b.close()

    def test_tariff_split_at_the_exact_second(self):
        b = self.b

        class Tariffs:  # Seam C stand-in: tariff 2 for seconds in [START+100, START+250)
            def current(self, u):
                return 2 if START + 100 <= u < START + 250 else 1

            def local(self, u):
                from civiltime import datetime

                d = datetime(u + 3600)
                return d[:6] + (d[6], False)

        b.meter.tariffs = Tariffs()
        b.run(300)
        e = b.meter.energy.energy
        ref = reference(START, START + 300, tariff=Tariffs().current)
        self.assertEqual(exact(e), ref)
        self.assertEqual(ref[6] + ref[7], ref[0])
        self.assertTrue(ref[7] > 0)

    def test_daily_energies_restart_at_local_midnight(self):
        midnight = 849_052_800  # 2026-11-27 00:00 UTC = 01:00 CET; utc_offset_min 60
        b = EnergyBench("energy_day", start=midnight - 3600 - 120)
        try:
            b.run(240)
            e = b.meter.energy.energy
            day_start = midnight - 3600
            ref_day = reference(day_start, day_start + 120)
            self.assertEqual(e.daily(0), (exact(e)[0] // WHS) - e.day0[0])
            ms = b.meter.metering
            self.assertEqual(ms.get(mt.DAILY_IMPORT, 4), e.wh[A_PLUS] - e.day0[0])
            whole = reference(day_start - 120, day_start + 120)
            before = reference(day_start - 120, day_start)
            self.assertEqual(e.day0[0], before[0] // WHS)
            self.assertEqual(e.day0[1], before[1] // WHS)
            self.assertEqual(e.day0[2], before[2] // WHS + before[3] // WHS)
            self.assertEqual(exact(e)[0], whole[0])
            self.assertTrue(ref_day[0] > 0)
            self.assertEqual(e.day, midnight // 86400)  # local day of 2026-11-27
        finally:
            b.close()

    def test_failed_and_absurd_reads_invent_nothing_and_log_once(self):
        b = self.b
        b.met.fail.update(range(START + 10, START + 20))
        b.met.absurd.update((START + 40, START + 41))
        b.run(100)
        m = b.meter
        e = m.energy
        # nothing lost either: the fake re-delivers the energy with the next good read
        merged = ((START + 9, START + 20), (START + 39, START + 42))
        self.assertEqual(exact(e.energy), reference(START, START + 100, merged=merged))
        self.assertEqual((e.failed, e.refused), (10, 2))
        codes = [bytes(r)[4] << 8 | bytes(r)[5] for r in _log(m)]
        self.assertEqual(codes.count(events.METROLOGY_FAULT), 2)
        self.assertEqual(codes.count(events.METROLOGY_OK), 2)
        self.assertEqual(e.status_bits()[0] & registers.SW_METROLOGY_FAULT, 0)
        self.assertTrue(e.status_bits()[1] & registers.XS_METROLOGY_ERRORS)

    def test_fault_bit_while_failing(self):
        b = self.b
        b.met.fail.update(range(START + 50, START + 200))
        b.run(60)
        self.assertTrue(b.meter.energy.status_bits()[0] & registers.SW_METROLOGY_FAULT)
        self.assertEqual(b.meter.metering.get(mt.POWER, 4), 0)

    def test_plausibility_limit_follows_the_registers(self):
        b = self.b
        m = b.meter
        # 1.2 x 230 V x 1 A = 276 W: most fake seconds are above it
        m.model.write(registers.find(0x0302), b"\x01", log=False)
        b.run(30)
        e = m.energy
        self.assertTrue(e.refused > 0)
        self.assertTrue(e.seconds < 30)

    def test_restart_from_checkpoint_and_unsaved_event(self):
        b = self.b
        b.run(150)
        saved = b.meter.store.get(storekeys.ENERGY)
        self.assertEqual(len(saved), eng.REC_SIZE)
        m = b.reboot(off_s=30)
        e = m.energy
        self.assertEqual(e.restored, "checkpoint")
        self.assertEqual(e.last_t, START + 120)  # checkpoints at 60 s and 120 s
        self.assertEqual(exact(e.energy), reference(START, START + 120))
        self.assertTrue(e.status_bits()[0] & registers.SW_ENERGY_CHECKPOINT)
        rec = _log(m)[-1]
        self.assertEqual(rec[4] << 8 | rec[5], events.UNSAVED_RESTART)
        self.assertEqual(rec[6] << 8 | rec[7], 150 + 30 - 120)

    def test_supply_loss_saves_and_reboot_logs_the_outage(self):
        b = self.b
        m = b.meter
        m.on_second.append(lambda t: t == START + 77 and b.supply.pin.value(0))
        b.run(100)
        e = m.energy
        self.assertEqual(e.saves, 1)
        self.assertEqual(e.last_t, START + 77)  # nothing booked once the supply is gone
        m2 = b.reboot(off_s=500)
        e2 = m2.energy
        self.assertEqual(e2.restored, "power fail")
        self.assertEqual(exact(e2.energy), reference(START, START + 77))
        q = e2.quality
        self.assertEqual(q.counts[4], 1)
        self.assertEqual(q.last_pf, START + 77)
        self.assertEqual(q.last_outage, 500 + 100 - 77)
        self.assertEqual(m2.metering.get(mt.LONG_INTERRUPTIONS, 2), 1)
        rec = bytes(m2.model.tables[registers.VOLTAGE_EVENTS].last())
        self.assertEqual(rec[4:6], b"\x01\x01")  # long, phase 1
        self.assertEqual(int.from_bytes(rec[0:4], "big"), START + 77)
        self.assertEqual(int.from_bytes(rec[6:10], "big"), 500 + 100 - 77)
        self.assertEqual(e2.status_bits()[0] & registers.SW_ENERGY_CHECKPOINT, 0)
        # the reboot wrote a clean checkpoint: another reboot counts no second outage
        m3 = b.reboot(off_s=5)
        self.assertEqual(m3.energy.quality.counts[:2], [1, 0])
        self.assertEqual(m3.energy.restored, "checkpoint")

    def test_supply_back_without_reset_resumes(self):
        b = self.b
        m = b.meter

        def pin(t):
            if t == START + 30:
                b.supply.pin.value(0)

        m.on_second.append(pin)
        ticks = [0]

        def each():
            ticks[0] += 1
            if m.energy.saves and b.clock.now_ms() >= 45_000:
                b.supply.pin.value(1)

        b.run(100, each)
        e = m.energy
        self.assertEqual(e.saves, 1)
        self.assertEqual(e.quality.counts[1], 1)  # a 15 s outage: short
        self.assertTrue(e.last_t == START + 100)
        # seconds 30..~45 were not metered; the first read after the return was discarded
        self.assertEqual(e.seconds, 100 - 16)

    def test_metering_second_allocates_nothing(self):
        import gc

        b = self.b
        b.run(5)
        e = b.meter.energy
        s = e.sample
        t = START + 6

        def one(i):
            fill(s, i)
            e._second(t + i, 1)

        for i in range(60):  # warm up; the checkpoint of START + 60 falls in here
            one(i)
        self.assertEqual(e.checkpoints, 1)
        gc.collect()
        a = gc.mem_alloc()
        for i in range(60, 110):  # the next checkpoint is due at START + 120
            one(i)
        self.assertEqual(gc.mem_alloc() - a, 0)
        self.assertEqual((e.last_t, e.checkpoints), (t + 109, 1))


class TestEngineEdges(unittest.TestCase):
    def test_no_front_end_still_keeps_time(self):
        b = EnergyBench("energy_nofe", metrology=False)
        try:
            seen = []
            b.meter.on_second.append(seen.append)
            b.run(10)
            self.assertEqual(seen, list(range(START + 1, START + 11)))
            self.assertEqual(b.meter.energy.totals(), (0, 0, 0, 0, 0, 0))
        finally:
            b.close()

    def test_unreadable_state_starts_from_zero_and_says_so(self):
        b = EnergyBench("energy_lost")
        try:
            b.run(70)
            v = bytearray(b.meter.store.get(storekeys.ENERGY))
            v[0] = 99  # a version this firmware does not know
            b.meter.store.put(storekeys.ENERGY, v)
            m = b.reboot()
            self.assertEqual((m.energy.restored, m.energy.totals()), ("lost", (0,) * 6))
            self.assertEqual(_log(m)[-1][4:6], bytes((0, events.ENERGY_STATE_LOST)))
            self.assertTrue(m.energy.status_bits()[0] & registers.SW_ENERGY_CHECKPOINT)
        finally:
            b.close()

    def test_orderly_stop_restores_clean(self):
        b = EnergyBench("energy_stop")
        try:
            b.run(30)
            for fn in b.meter.savers:  # what an orderly stop does
                fn()
            m = b.reboot(off_s=10)
            e = m.energy
            self.assertEqual((e.restored, e.last_t), ("saved", START + 30))
            self.assertEqual(exact(e.energy), reference(START, START + 30))
            self.assertEqual(e.status_bits()[0] & registers.SW_ENERGY_CHECKPOINT, 0)
            self.assertEqual(e.quality.counts, [0, 0, 0, 0, 0])
            codes = [r[4] << 8 | r[5] for r in _log(m)]
            self.assertNotIn(events.UNSAVED_RESTART, codes)
        finally:
            b.close()

    def test_status_word_and_clock_step(self):
        from datamodel import live

        b = EnergyBench("energy_sw")
        try:
            m = b.meter
            b.met.override = lambda s: (-2_000_000, 0, 230_000, 0, 0)  # exporting 2 kW
            seen = []
            m.on_second.append(seen.append)
            b.run(5)
            sw = int.from_bytes(live.status_word(m), "big")
            self.assertTrue(sw & registers.SW_REVERSE_FLOW)
            self.assertFalse(sw & registers.SW_METROLOGY_FAULT)
            m.wallclock.set(START + 3600)  # the concentrator sets the clock an hour ahead
            b.run(3)
            self.assertEqual(seen[-4:], [START + 5, START + 3601, START + 3602, START + 3603])
            # the fake front-end counts wall-clock seconds, so its first read after the step
            # claims 3600 s in one go: refused (> 10 min), nothing invented, then on as before
            self.assertEqual(m.energy.refused, 1)
            self.assertEqual(m.energy.energy.exact(A_MINUS), 7 * 2_000_000)
        finally:
            b.close()


def _log(m):
    t = m.model.tables[registers.EVENT_LOG]
    return [bytes(t.record(r)) for r in range(t.first(), t.end)]


if __name__ == "__main__":
    unittest.main()
