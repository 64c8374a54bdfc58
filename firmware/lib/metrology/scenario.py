"""Load scenarios: what the mains and the load do over time (simulation only).

A scenario is a list of segments, each holding the fundamental RMS voltage and current, the
current's phase lag, the line frequency (optionally ramping) and harmonics, piecewise constant
in time. docs/scenarios.md is the format; the simulated STPM3x and the direct-ADC waveform
synthesis read it through `state()`, `integrate()` and `expand()`. Floats are fine here: this
never runs on a board's hot path.

    sc = load("household", seed=3)    # or a dict (JSON), or a path ending in .json
    st = State()
    sc.state(t_s, st)                 # t_s: seconds since sc.start (UTC s since 2000)
"""

import math

FORMAT = "mm-scenario/1"
_DAY_MS = 86400000
_DEG = math.pi / 180.0
# what an unspecified field of the first segment is (later segments inherit the previous one)
_V0 = 230.0
_F0 = 50.0
# 2026-01-05 00:00:00 UTC (a Monday), the default start of generated scenarios
DEFAULT_START = 820454400
_MAX_HARMONIC = 50


class ScenarioError(ValueError):
    pass


class State:
    """The mains and the load at one instant (preallocated; state() fills it).

    v_rms, i_rms: fundamental RMS, V and A (v_rms == 0: interruption)
    phi: current lag of the fundamental, rad (pi/2 < phi < 3pi/2: export)
    f_hz: line frequency; cycles: whole-and-fractional cycles since the scenario start
    harmonics: tuple of (n, v_frac, i_frac, i_phase_rad), amplitudes relative to the fundamental
    """

    def __init__(self):
        self.v_rms = 0.0
        self.i_rms = 0.0
        self.phi = 0.0
        self.f_hz = _F0
        self.cycles = 0.0
        self.harmonics = ()

    def p_w(self):
        """True active power, all harmonics (W)."""
        p = math.cos(self.phi)
        for h in self.harmonics:
            p += h[1] * h[2] * math.cos(h[3])
        return self.v_rms * self.i_rms * p

    def q_var(self):
        """True reactive power of the fundamental (var, lagging positive)."""
        return self.v_rms * self.i_rms * math.sin(self.phi)

    def v_total(self):
        s = 1.0
        for h in self.harmonics:
            s += h[1] * h[1]
        return self.v_rms * math.sqrt(s)

    def i_total(self):
        s = 1.0
        for h in self.harmonics:
            s += h[2] * h[2]
        return self.i_rms * math.sqrt(s)


class _Seg:
    # t0_ms/dur_ms are integers so segment boundaries never drift
    __slots__ = ("t0_ms", "dur_ms", "v", "i", "phi", "f", "f_end", "harm", "cyc0")


def _num(d, key, default, lo, hi, where):
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ScenarioError("%s: %s must be a number" % (where, key))
    v = float(v)
    if not lo <= v <= hi:
        raise ScenarioError("%s: %s out of range %g..%g" % (where, key, lo, hi))
    return v


def _harmonics(raw, where):
    out = []
    if not isinstance(raw, list):
        raise ScenarioError("%s: h must be a list" % where)
    for h in raw:
        if not isinstance(h, (list, tuple)) or len(h) != 4:
            raise ScenarioError("%s: each harmonic is [n, v_frac, i_frac, i_phase_deg]" % where)
        n = h[0]
        if not isinstance(n, int) or not 2 <= n <= _MAX_HARMONIC:
            raise ScenarioError("%s: harmonic order must be 2..%d" % (where, _MAX_HARMONIC))
        for x in h[1:]:
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise ScenarioError("%s: harmonic values must be numbers" % where)
        if not (0 <= h[1] <= 1 and 0 <= h[2] <= 1):
            raise ScenarioError("%s: harmonic fractions must be 0..1" % where)
        out.append((n, float(h[1]), float(h[2]), float(h[3]) * _DEG))
    return tuple(out)


def _segments(raw, t0_ms=0, prev=None):
    """Parse a list of JSON segments into _Seg objects (inheriting unset fields)."""
    if not isinstance(raw, list) or not raw:
        raise ScenarioError("segments must be a non-empty list")
    if prev is None:
        prev = {"v": _V0, "i": 0.0, "phi_deg": 0.0, "f": _F0, "h": []}
    segs = []
    t = t0_ms
    cyc = 0.0
    for k, d in enumerate(raw):
        where = "segment %d" % k
        if not isinstance(d, dict):
            raise ScenarioError("%s: must be an object" % where)
        for key in d:
            if key not in ("dur", "v", "i", "phi_deg", "f", "f_end", "h"):
                raise ScenarioError("%s: unknown field %r" % (where, key))
        s = _Seg()
        dur = _num(d, "dur", d.get("dur"), 0.001, 1e9, where)
        s.dur_ms = int(dur * 1000 + 0.5)
        s.t0_ms = t
        s.v = _num(d, "v", prev["v"], 0.0, 1000.0, where)
        s.i = _num(d, "i", prev["i"], 0.0, 1000.0, where)
        phi = _num(d, "phi_deg", prev["phi_deg"], -360.0, 360.0, where)
        s.phi = phi * _DEG
        s.f = _num(d, "f", prev["f"], 40.0, 70.0, where)
        s.f_end = _num(d, "f_end", s.f, 40.0, 70.0, where)
        h = d.get("h", prev["h"])
        s.harm = _harmonics(h, where)
        s.cyc0 = cyc
        cyc += (s.f + s.f_end) * 0.5 * s.dur_ms / 1000.0
        prev = {"v": s.v, "i": s.i, "phi_deg": phi, "f": s.f_end, "h": h}
        t += s.dur_ms
        segs.append(s)
    return segs


class Scenario:
    """Piecewise-constant segments; `day_fn(day) -> segments` makes an endless generator."""

    def __init__(self, start, segs, repeat=False, day_fn=None, name="file"):
        self.start = int(start)
        self.name = name
        self._segs = segs
        self._day_fn = day_fn
        self._day = None
        self._k = 0
        self._repeat = repeat
        self._period_ms = segs[-1].t0_ms + segs[-1].dur_ms if segs else _DAY_MS
        self._cyc_period = segs[-1].cyc0 + _seg_cycles(segs[-1], segs[-1].dur_ms) if segs else 0
        if day_fn is not None or repeat:
            self.duration_s = None
        else:
            self.duration_s = self._period_ms / 1000.0

    # --- locating the segment at an instant ------------------------------------------------------

    def _find(self, t_ms):
        """(segment, ms into it, cycles before the segment's copy) for t_ms since the start."""
        base_cyc = 0.0
        if self._day_fn is not None:
            # generated days are aligned on UTC days of the absolute time
            abs_ms = self.start * 1000 + t_ms
            day = int(abs_ms // _DAY_MS)
            if day != self._day:
                self._segs = self._day_fn(day)
                self._day = day
                self._k = 0
            t_ms = abs_ms - day * _DAY_MS
            base_cyc = self._day_cycles(day)
        elif self._repeat:
            n = int(t_ms // self._period_ms)
            t_ms -= n * self._period_ms
            base_cyc = n * self._cyc_period
        segs = self._segs
        if t_ms < 0:
            t_ms = 0
        k = self._k
        if not (segs[k].t0_ms <= t_ms < segs[k].t0_ms + segs[k].dur_ms):
            lo, hi = 0, len(segs) - 1
            while lo < hi:
                mid = (lo + hi + 1) // 2
                if segs[mid].t0_ms <= t_ms:
                    lo = mid
                else:
                    hi = mid - 1
            k = lo
            self._k = k
        s = segs[k]
        into = t_ms - s.t0_ms
        if into > s.dur_ms:  # past the end of a finite scenario: hold the last segment
            into = s.dur_ms
        return s, into, base_cyc

    def _day_cycles(self, day):
        # line cycles before generated day `day`: generators keep each day's mean frequency at
        # exactly 50 Hz (deviations come in +d/-d pairs), so the phase runs on across midnight
        first = int(self.start * 1000 // _DAY_MS)
        return (day - first) * 86400.0 * _F0

    def state(self, t_s, st):
        """Fill State st for t_s seconds after the start."""
        s, into, base = self._find(t_s * 1000.0)
        st.v_rms = s.v
        st.i_rms = s.i
        st.phi = s.phi
        st.f_hz = s.f + (s.f_end - s.f) * into / s.dur_ms
        st.cycles = base + s.cyc0 + _seg_cycles(s, into)
        st.harmonics = s.harm
        return st

    def integrate(self, t0_s, t1_s):
        """Exact active and reactive energy (W s, var s) between two instants."""
        p = q = 0.0
        st = State()
        t = t0_s * 1000.0
        end = t1_s * 1000.0
        while t < end:
            s, into, _ = self._find(t)
            left = s.dur_ms - into
            if left <= 0:  # past the end of a finite scenario
                left = end - t
            step = min(left, end - t)
            st.v_rms, st.i_rms, st.phi, st.harmonics = s.v, s.i, s.phi, s.harm
            p += st.p_w() * step
            q += st.q_var() * step
            t += step
        return p / 1000.0, q / 1000.0

    def extremes(self, t0_s, t1_s):
        """Lowest and highest true RMS voltage between two instants (V)."""
        st = State()
        lo = hi = None
        t = t0_s * 1000.0
        end = t1_s * 1000.0
        while True:
            s, into, _ = self._find(t)
            st.v_rms, st.harmonics = s.v, s.harm
            v = st.v_total()
            lo = v if lo is None or v < lo else lo
            hi = v if hi is None or v > hi else hi
            left = s.dur_ms - into
            if left <= 0 or t + left >= end:
                return lo, hi
            t += left


def _seg_cycles(s, into_ms):
    x = into_ms / 1000.0
    return s.f * x + (s.f_end - s.f) * x * x / (2.0 * s.dur_ms / 1000.0)


def _seg_dict(s):
    d = {
        "dur": s.dur_ms / 1000.0,
        "v": s.v,
        "i": s.i,
        "phi_deg": round(s.phi / _DEG, 6),
        "f": s.f,
    }
    if s.f_end != s.f:
        d["f_end"] = s.f_end
    d["h"] = [[h[0], h[1], h[2], round(h[3] / _DEG, 6)] for h in s.harm]
    return d


def expand(sc, duration_s):
    """The scenario's first duration_s seconds as a plain segment file (dict, JSON-ready).

    Generators are defined by what they expand to: tools/scenario_ref.py reads this file.
    """
    out = []
    t = 0
    end = int(duration_s * 1000)
    while t < end:
        s, into, _ = sc._find(t)
        left = s.dur_ms - into
        if left <= 0:
            break
        step = min(left, end - t)
        d = _seg_dict(s)
        d["dur"] = step / 1000.0
        if s.f_end != s.f:  # a cut ramp: its frequencies at the cut ends
            d["f"] = s.f + (s.f_end - s.f) * into / s.dur_ms
            d["f_end"] = s.f + (s.f_end - s.f) * (into + step) / s.dur_ms
        out.append(d)
        t += step
    return {"format": FORMAT, "start": sc.start, "segments": out}


# --- loading ---------------------------------------------------------------------------------


def load(spec, seed=0, start=None):
    """A Scenario from a dict (JSON), a path ending in .json, or a generator name."""
    if isinstance(spec, str) and spec.endswith(".json"):
        import json

        try:
            with open(spec) as f:
                spec = json.load(f)
        except (OSError, ValueError) as e:
            raise ScenarioError("cannot read %s: %s" % (spec, e))
    if isinstance(spec, dict):
        if "generator" in spec:
            return load(spec["generator"], spec.get("seed", seed), spec.get("start", start))
        if spec.get("format", FORMAT) != FORMAT:
            raise ScenarioError("format must be %r" % FORMAT)
        st = spec.get("start", DEFAULT_START if start is None else start)
        if not isinstance(st, int) or st < 0:
            raise ScenarioError("start must be a non-negative integer")
        rep = spec.get("repeat", False)
        return Scenario(st, _segments(spec.get("segments")), rep is True, None, "file")
    if not isinstance(spec, str):
        raise ScenarioError("a scenario is a dict, a .json path or a generator name")
    if start is None:
        start = DEFAULT_START
    from metrology import scenario_gen

    gen = scenario_gen.GENERATORS.get(spec)
    if gen is None:
        raise ScenarioError(
            "unknown scenario %r (one of %s)" % (spec, ", ".join(sorted(scenario_gen.GENERATORS)))
        )
    return gen(seed, start)


def from_segments(start, raw, name, day_fn=None, repeat=False):
    """Build a Scenario from JSON-style segments (generators use this)."""
    return Scenario(start, _segments(raw), repeat, day_fn, name)


def segments(raw):
    """JSON-style segments -> the internal list (generators' day functions use this)."""
    return _segments(raw)
