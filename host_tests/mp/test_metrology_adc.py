"""Direct-ADC metering: the viper kernel against a plain-Python model word for word, the kernel
selector, and the front-end (interfaces.Metrology) on synthetic sines with known answers."""

import gc
import math
import unittest
from array import array

import interfaces
from adc_model import Replay, model
from metrology import adc_kernel
from metrology.adc_frontend import AdcCal, AdcFrontend, isqrt
from metrology.adc_viper import RING, ST_SIZE
from metrology.adc_viper import run as run_viper
from metrology.sample import ST_CLIPPED, ST_NO_VOLTAGE, ST_RESYNC, Sample


class _Rng:
    def __init__(self, seed):
        self.s = seed

    def next(self, n):
        self.s = (self.s * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.s >> 8) % n


def _wave(rng, n, f_cycles, amp_v, amp_i, phi, clip_every=0):
    out = array("h", bytearray(4 * n))
    for k in range(n):
        th = 2 * math.pi * f_cycles * k
        x = int(2048 + amp_v * math.sin(th) + rng.next(5) - 2)
        y = int(2040 + amp_i * math.sin(th - phi) + rng.next(5) - 2)
        if clip_every and k % clip_every == 0:
            y = 4095
        out[2 * k] = max(0, min(4095, x))
        out[2 * k + 1] = max(0, min(4095, y))
    return out


def _fresh_state(dq=20 << 8):
    st = [0] * ST_SIZE
    st[11], st[12], st[13] = 2048, 2040, dq
    st[21], st[23], st[24], st[25], st[26] = 0x7FFFFFFF, 24, 56, 120, 8192
    return st


class TestKernelAgainstModel(unittest.TestCase):
    def _check(self, seed, blocks, dq, **kw):
        rng = _Rng(seed)
        total = sum(blocks)
        wave = _wave(rng, total, **kw)
        st = array("i", _fresh_state(dq))
        ring = array("h", [2048] * 2 * RING)
        mst = _fresh_state(dq)
        mring = [2048] * 2 * RING
        pos = 0
        for n in blocks:
            view = memoryview(wave)[2 * pos : 2 * (pos + n)]
            r = run_viper(view, n, st, ring)
            m = model(wave[2 * pos : 2 * (pos + n)], n, mst, mring)
            self.assertEqual(r, m)
            self.assertEqual(list(st), mst, "seed %d after %d pairs" % (seed, pos + n))
            self.assertEqual(list(ring), mring)
            pos += n

    def test_blocks_of_every_size(self):
        self._check(
            1,
            [160, 1, 31, 32, 33, 64, 65, 0, 200, 7],
            20 << 8,
            f_cycles=50.3 / 4000,
            amp_v=1600,
            amp_i=900,
            phi=0.6,
        )

    def test_export_and_fractional_delay(self):
        self._check(
            2, [97] * 20, (19 << 8) + 177, f_cycles=49.6 / 4000, amp_v=2000, amp_i=1500, phi=2.8
        )

    def test_clipping_and_full_scale(self):
        self._check(
            3,
            [128] * 10,
            20 << 8,
            f_cycles=50.0 / 4000,
            amp_v=2100,
            amp_i=2100,
            phi=-0.4,
            clip_every=17,
        )

    def test_no_voltage_closes_cycles_at_cmax(self):
        self._check(4, [100] * 6, 20 << 8, f_cycles=50.0 / 4000, amp_v=0, amp_i=10, phi=0)


class TestSelector(unittest.TestCase):
    def tearDown(self):
        adc_kernel.select(adc_kernel.ASM_REQUIRED)

    def test_unix_port_runs_viper(self):
        self.assertFalse(adc_kernel.ASM_REQUIRED)
        self.assertEqual(adc_kernel.KIND, "viper")
        self.assertIsNone(adc_kernel.FAULT)
        self.assertIs(adc_kernel.run, run_viper)

    def test_asm_loaded(self):
        logged = []
        self.assertIsNone(adc_kernel.select(True, lambda: "thumb-run", logged.append))
        self.assertEqual((adc_kernel.KIND, adc_kernel.run), ("thumb", "thumb-run"))
        self.assertEqual(logged, [])

    def test_asm_missing_fails_loudly(self):
        def broken():
            raise ImportError("no module named 'metrology.adc_thumb'")

        logged = []
        fault = adc_kernel.select(True, broken, logged.append)
        self.assertEqual(
            fault, "ImportError: no module named 'metrology.adc_thumb' (metrology.adc_kernel)"
        )
        self.assertEqual(adc_kernel.FAULT, fault)
        self.assertIs(adc_kernel.run, run_viper)
        self.assertEqual(len(logged), 1)


class _SineSource:
    """Blocks of a sine pair, synthesised in floats (the test's own, exact to the rounding)."""

    fs = 4000

    def __init__(self, v_rms, i_rms, phi, f, v_uv=200000, i_ua=50000, block=160):
        self.buf = array("h", bytearray(4 * block))
        self.block = block
        self.k = 0
        self.limit = 0
        self.set(v_rms, i_rms, phi, f)
        self.kv = 1e6 / v_uv
        self.ki = 1e6 / i_ua
        self.theta = 0.0

    def set(self, v_rms, i_rms, phi, f):
        self.v, self.i, self.phi, self.f = v_rms, i_rms, phi, f

    def take(self):
        if self.k + self.block > self.limit:
            return None
        av = math.sqrt(2) * self.v * self.kv
        ai = math.sqrt(2) * self.i * self.ki
        for j in range(self.block):
            th = self.theta
            self.buf[2 * j] = max(0, min(4095, int(2048.5 + av * math.sin(th))))
            self.buf[2 * j + 1] = max(0, min(4095, int(2048.5 + ai * math.sin(th - self.phi))))
            self.theta = th + 2 * math.pi * self.f / self.fs
        self.k += self.block
        return self.buf

    def run_for(self, seconds):
        self.limit += int(seconds * self.fs)


class TestFrontend(unittest.TestCase):
    def _fe(self, *a, **kw):
        src = _SineSource(*a, **kw)
        return src, AdcFrontend(src, AdcCal())

    def test_contract(self):
        _, fe = self._fe(230, 5, 0.3, 50)
        interfaces.check_metrology(fe)
        self.assertEqual(fe.name, "adc")

    def test_no_samples_is_a_failed_read(self):
        src, fe = self._fe(230, 5, 0.3, 50)
        s = Sample()
        s.ep_mws = 1234
        self.assertFalse(fe.measure(s))
        self.assertEqual((fe.errors, fe.fault(), s.ep_mws), (1, True, 1234))
        src.run_for(1)
        self.assertTrue(fe.measure(s))
        self.assertFalse(fe.fault())
        self.assertEqual(s.status & ST_RESYNC, ST_RESYNC)

    def _run(self, fe, src, seconds, step=1):
        s = Sample()
        e = q = t = 0
        for _ in range(seconds):
            src.run_for(step)
            self.assertTrue(fe.measure(s))
            e += s.ep_mws
            q += s.eq_mvars
            t += s.dt_ms
        return e, q, t, s

    def test_powers_rms_frequency(self):
        for f, phi in ((49.5, 0.5), (50.0, -1.0), (50.5, 2.5)):
            src, fe = self._fe(230, 20, phi, f)
            e, q, t, s = self._run(fe, src, 12)
            p_true = 230 * 20 * math.cos(phi)
            q_true = 230 * 20 * math.sin(phi)
            self.assertEqual(t, 12000)
            self.assertLess(abs(e / 12000 - p_true * 1000 / 1000) / 4600, 2e-4, (f, e))
            self.assertLess(abs(q / 12000 - q_true) / 4600, 2e-3, (f, q))
            self.assertLess(abs(s.v_mv - 230000), 600)
            self.assertLess(abs(s.i_ma - 20000), 100)
            self.assertLess(abs(s.f_mhz - f * 1000), 2, s.f_mhz)
            self.assertLess(abs(s.p_mw - p_true * 1000), 0.005 * 4600e3)
            self.assertTrue(s.v_min_mv <= s.v_mv <= s.v_max_mv)

    def test_sag_and_interruption_flags(self):
        src, fe = self._fe(230, 2, 0.0, 50)
        s = Sample()
        src.run_for(1)
        fe.measure(s)
        src.set(115, 2, 0.0, 50)
        src.run_for(0.2)
        fe.drain()  # the sine source synthesises on take(): 0.2 s at 115 V
        src.set(230, 2, 0.0, 50)
        src.run_for(0.8)
        fe.measure(s)
        self.assertLess(abs(s.v_min_mv - 115000), 2500, s.v_min_mv)
        self.assertLess(abs(s.v_max_mv - 230000), 2500, s.v_max_mv)
        src.set(0, 0, 0.0, 50)
        for _ in range(2):  # the first second still closes the cycle under way at the cut
            src.run_for(1)
            fe.measure(s)
        self.assertEqual(s.status & ST_NO_VOLTAGE, ST_NO_VOLTAGE)
        self.assertEqual(s.f_mhz, 0)
        self.assertLess(abs(s.ep_mws), 5)

    def test_clipping_flag(self):
        src, fe = self._fe(230, 90, 0.0, 50)  # 127 A peak > 102.4 A full scale
        s = Sample()
        src.run_for(1)
        fe.measure(s)
        self.assertEqual(s.status & ST_CLIPPED, ST_CLIPPED)

    def test_reads_of_any_length_lose_nothing(self):
        # the same waveform read every second and every 2.5 s: same total energy (carried
        # remainders), within the window-edge ripple of the last partial read
        src1, fe1 = self._fe(230, 15, 0.8, 50.1)
        src2, fe2 = self._fe(230, 15, 0.8, 50.1)
        e1 = self._run(fe1, src1, 10, 1)[0]
        e2 = self._run(fe2, src2, 4, 2.5)[0]
        self.assertLess(abs(e1 - e2), 3000, (e1, e2))  # 3 Ws of 28 kWs: the last window's edge

    def test_zero_heap_per_read(self):
        # a replay source (one second of a sine, preallocated views): read() = drain + kernel
        # + conversion must not allocate on this (64-bit) port
        src, _ = self._fe(230, 15, 0.8, 50)
        src.run_for(1)
        whole = array("h", bytearray(4 * 4000))
        for k in range(25):
            whole[320 * k : 320 * (k + 1)] = src.take()
        replay = Replay(whole, 160)
        fe = AdcFrontend(replay, AdcCal())
        s = Sample()
        used = []
        for _ in range(6):
            replay.left = 25
            gc.collect()
            a = gc.mem_alloc()
            fe.measure(s)
            used.append(gc.mem_alloc() - a)
        self.assertEqual(used[1:], [0] * 5)
        self.assertLess(abs(s.p_mw - 230 * 15 * math.cos(0.8) * 1000), 1000)


class TestIsqrt(unittest.TestCase):
    def test_exact(self):
        for x in (0, 1, 2, 3, 4, 15, 16, 17, (1 << 40) - 1, 1 << 40, 123456789012345):
            r = isqrt(x)
            self.assertTrue(r * r <= x < (r + 1) * (r + 1), x)


class TestSelftest(unittest.TestCase):
    def tearDown(self):
        adc_kernel.select(adc_kernel.ASM_REQUIRED)

    def test_passes_on_this_port(self):
        from metrology import adc_selftest

        self.assertTrue(adc_selftest.run())

    def test_fails_on_a_kernel_fault_or_a_wrong_kernel(self):
        from metrology import adc_selftest

        def broken():
            raise ImportError("x")

        logged = []
        adc_kernel.select(True, broken, logged.append)
        self.assertFalse(adc_selftest.run(logged.append))

        def off_by_one(buf, n, st, ring):
            r = run_viper(buf, n, st, ring)
            st[1] += 1
            return r

        adc_kernel.select(True, lambda: off_by_one, logged.append)
        self.assertFalse(adc_selftest.run(logged.append))
        self.assertIn("thumb", logged[-1])


class TestUnixSimBoard(unittest.TestCase):
    def test_adc_branch_meters_the_scenario(self):
        import interfaces as itf
        from clock import ManualClock

        import boards.unix_sim as board

        d = "/tmp/mm_adc_board_test"
        import config

        cfg = dict(
            config.DEFAULTS, state_dir=d, metrology="adc", scenario="steps", scenario_seed=3
        )
        hw = board.build(cfg)
        itf.check_metrology(hw.metrology)
        # drive its source from a manual clock to meter 3 s of the scenario without waiting
        clock = ManualClock()
        src = hw.metrology._src
        src._now = clock.now_ms
        src._t0 = 0
        s = Sample()
        e = 0
        for _ in range(3):
            clock.advance(1000)
            self.assertTrue(hw.metrology.measure(s))
            e += s.ep_mws
        p, _ = src._sc.integrate(src._t0_s, src._t0_s + 3)
        self.assertLess(abs(e / 1000 - p), 0.002 * abs(p) + 1, (e, p))
        self.assertEqual(board.build(dict(cfg, metrology="stpm")).metrology.name[:4], "stpm")
