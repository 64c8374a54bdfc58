"""metrology.scenario: the segment format (docs/scenarios.md), inheritance, exact integrals,
generators deterministic per seed, expand() round trip, bad files refused with one line."""

import math
import unittest

from metrology import scenario
from metrology.scenario_gen import GENERATORS

_SPEC = {
    "start": 1000,
    "segments": [
        {"dur": 10, "v": 200.0, "i": 5.0, "phi_deg": 60.0, "f": 50.0},
        {"dur": 0.25, "v": 0.0},
        {"dur": 20, "v": 230.0, "f_end": 51.0, "h": [[3, 0.1, 0.5, 180.0]]},
    ],
}


class TestFormat(unittest.TestCase):
    def test_state_and_inheritance(self):
        sc = scenario.load(_SPEC)
        st = scenario.State()
        self.assertEqual(sc.start, 1000)
        self.assertEqual(sc.duration_s, 30.25)
        sc.state(10.1, st)
        self.assertEqual((st.v_rms, st.i_rms, st.f_hz), (0.0, 5.0, 50.0))
        self.assertAlmostEqual(st.phi, math.pi / 3, 12)
        sc.state(20.25, st)  # halfway up the ramp; harmonics set
        self.assertAlmostEqual(st.f_hz, 50.5, 9)
        self.assertEqual(st.harmonics[0][0], 3)
        # cycles: 10.25 s at 50 Hz, then 10 s of a ramp from 50 towards 51 over 20 s
        self.assertAlmostEqual(st.cycles, 512.5 + 50 * 10 + 0.5 * 10 * 10 / 40 * 2, 6)

    def test_integrate_exact(self):
        sc = scenario.load(_SPEC)
        p, q = sc.integrate(5, 25.25)
        p1 = 200 * 5 * 0.5 * 5  # 5 s of the first segment
        p3 = 230 * 5 * (0.5 + 0.1 * 0.5 * -1.0) * 15  # 15 s of the third, 3rd harmonic
        self.assertAlmostEqual(p, p1 + p3, 6)
        s60 = math.sin(math.pi / 3)
        self.assertAlmostEqual(q, 200 * 5 * s60 * 5 + 230 * 5 * s60 * 15, 6)

    def test_bad_files(self):
        bad = (
            ({"segments": []}, "segments must be a non-empty list"),
            ({"segments": [{"v": 230}]}, "segment 0: dur must be a number"),
            ({"segments": [{"dur": 1, "x": 1}]}, "segment 0: unknown field 'x'"),
            ({"segments": [{"dur": 1, "f": 80}]}, "segment 0: f out of range 40..70"),
            ({"segments": [{"dur": 1, "h": [[1, 0.1, 0.1, 0]]}]}, "harmonic order must be"),
            ({"format": "other", "segments": [{"dur": 1}]}, "format must be"),
            ("nosuch", "unknown scenario 'nosuch'"),
        )
        for spec, msg in bad:
            try:
                scenario.load(spec)
                self.fail("accepted %r" % (spec,))
            except scenario.ScenarioError as e:
                self.assertTrue(msg in str(e), str(e))


class TestGenerators(unittest.TestCase):
    def test_deterministic_and_seeded(self):
        for name in GENERATORS:
            a = scenario.expand(scenario.load(name, seed=5), 600)
            b = scenario.expand(scenario.load(name, seed=5), 600)
            self.assertEqual(a, b)
            if name in ("household", "steps", "mixed"):
                c = scenario.expand(scenario.load(name, seed=6), 600)
                self.assertTrue(a != c, name)

    def test_expand_round_trip(self):
        st1, st2 = scenario.State(), scenario.State()
        for name in ("mixed", "drift", "household"):
            sc = scenario.load(name, seed=2)
            again = scenario.load(scenario.expand(sc, 600))
            self.assertEqual(again.duration_s, 600.0)
            for t in (0.0, 45.1, 90.2, 299.9, 599.5):
                sc.state(t, st1)
                again.state(t, st2)
                self.assertEqual(
                    (st1.v_rms, st1.i_rms, st1.harmonics), (st2.v_rms, st2.i_rms, st2.harmonics)
                )
                self.assertAlmostEqual(st1.f_hz, st2.f_hz, 9)
            self.assertAlmostEqual(sc.integrate(0, 600)[0], again.integrate(0, 600)[0], 3)

    def test_household_day(self):
        sc = scenario.load("household", seed=1)
        self.assertEqual(sc.duration_s, None)
        st = scenario.State()
        day_wh = sc.integrate(0, 86400)[0] / 3600
        self.assertTrue(3000 < day_wh < 9000, day_wh)
        night = sc.integrate(2 * 3600, 3 * 3600)[0] / 3600  # 03:00-04:00 CET: base load only
        self.assertTrue(30 < night < 200, night)
        # the phase runs on across midnight: a whole number of cycles per day
        sc.state(86400, st)
        self.assertAlmostEqual(st.cycles, 86400 * 50, 3)
        for k in range(0, 86400, 3600):
            sc.state(k, st)
            self.assertTrue(226 <= st.v_rms <= 236 and abs(st.f_hz - 50) <= 0.04)

    def test_mixed_covers_the_cases(self):
        sc = scenario.load("mixed", seed=1)
        st = scenario.State()
        seen = set()
        t = 0.0
        while t < 600:
            sc.state(t, st)
            if st.v_rms == 0:
                seen.add("interruption")
            if math.cos(st.phi) < 0 and st.i_rms > 0:
                seen.add("export")
            if len(st.harmonics) == 6 and st.harmonics[-1][0] == 13:
                seen.add("13th")
            if st.f_hz >= 50.49 or st.f_hz <= 49.51:
                seen.add("drift")
            if 0 < st.v_rms < 200 or st.v_rms > 253:
                seen.add("sag/swell")
            t += 0.1
        self.assertEqual(len(seen), 5, seen)
