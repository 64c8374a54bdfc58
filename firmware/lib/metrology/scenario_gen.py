"""Scenario generators (docs/scenarios.md lists them): seeded, deterministic, simulation only.

Each generator returns a scenario.Scenario; what it generates is defined by the segment file
scenario.expand() writes, which tools/scenario_ref.py reads.
"""

import math

from metrology import scenario

_DEG = math.pi / 180.0
_DAY_S = 86400
_LOCAL_S = 3600  # household hours are CET (UTC+1) all year: DST does not move a household


class Rng:
    """xorshift32: the same numbers on every port (random.seed differs between ports)."""

    def __init__(self, seed):
        self.x = (seed * 2654435761 + 0x9E3779B9) & 0xFFFFFFFF or 1
        for _ in range(4):
            self.next()

    def next(self):
        x = self.x
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.x = x
        return x

    def uniform(self, lo, hi):
        return lo + (hi - lo) * (self.next() / 4294967296.0)

    def chance(self, p):
        return self.next() / 4294967296.0 < p


# --- household day ---------------------------------------------------------------------------

# a mild, constant distortion: 3rd and 5th in voltage and current
_HOUSE_H = [[3, 0.01, 0.08, 30.0], [5, 0.015, 0.05, 60.0]]


def _household_events(rng):
    """(start_s local, dur_s, watts, phi_deg) of one day's appliances."""
    ev = []
    add = ev.append
    add((0, _DAY_S, rng.uniform(40, 70), -10.0))  # standby electronics, all day
    t = rng.uniform(0, 1800)
    while t < _DAY_S:  # fridge compressor cycling
        on = rng.uniform(720, 1080)
        add((t, on, rng.uniform(100, 120), 35.0))
        t += on + rng.uniform(1500, 2400)
    wake = rng.uniform(6.25, 7.5) * 3600
    add((wake, rng.uniform(2400, 4200), 60.0, 0.0))  # morning lights
    add((wake + rng.uniform(300, 900), rng.uniform(150, 240), 2000.0, 0.0))  # kettle
    if rng.chance(0.7):
        add((wake + rng.uniform(600, 1500), rng.uniform(120, 200), 900.0, 0.0))  # toaster
    add((wake + rng.uniform(900, 1800), rng.uniform(60, 120), 1200.0, 5.0))  # coffee machine
    if rng.chance(0.6):  # lunch on the hob
        t = rng.uniform(12.0, 12.75) * 3600
        add((t, rng.uniform(1200, 2400), rng.uniform(1800, 2800), 8.0))
        add((t + rng.uniform(0, 600), rng.uniform(90, 240), 1100.0, 15.0))  # microwave
    if rng.chance(0.5):  # office PC
        add((rng.uniform(8.5, 10) * 3600, rng.uniform(4, 8) * 3600, 150.0, -20.0))
    if rng.chance(0.4):  # washing machine: heating, drum, spin
        t = rng.uniform(9, 17) * 3600
        heat = rng.uniform(600, 1200)
        add((t, heat, 2000.0, 0.0))
        add((t + heat, 3600, 300.0, 40.0))
        add((t + heat + 3600, 600, 500.0, 35.0))
    dusk = rng.uniform(16.5, 18.0) * 3600
    bed = rng.uniform(22.5, 23.8) * 3600
    add((dusk, bed - dusk, rng.uniform(120, 200), 0.0))  # evening lights
    add((rng.uniform(20.0, 21.0) * 3600, rng.uniform(2, 3) * 3600, 120.0, -15.0))  # TV
    t = rng.uniform(18.75, 19.5) * 3600  # dinner: oven cycling on its thermostat, hob
    end = t + rng.uniform(2400, 3600)
    while t < end:
        on = rng.uniform(120, 300)
        add((t, on, 2200.0, 0.0))
        t += on + rng.uniform(60, 240)
    add((end - rng.uniform(600, 1500), rng.uniform(900, 1500), rng.uniform(1500, 2200), 8.0))
    if rng.chance(0.5):  # dishwasher after dinner
        t = end + rng.uniform(1800, 3600)
        add((t, 1200, 1900.0, 0.0))
        add((t + 1200, 3000, 100.0, 40.0))
        add((t + 4200, 600, 1900.0, 0.0))
    return ev


def _household_day(seed, day):
    rng = Rng(seed * 7919 + day)
    ev = []
    for s, d, w, ph in _household_events(rng):
        s = int(s) - _LOCAL_S
        e = s + int(d)
        # the local day runs 23:00..23:00 UTC: what falls outside [0, 1 day) wraps around
        for off in (-_DAY_S, 0, _DAY_S):
            a = max(s + off, 0)
            b = min(e + off, _DAY_S)
            if b > a:
                ev.append((a, b, w, ph * _DEG))
    cuts = {0, _DAY_S}
    for s, e, _, _ in ev:
        cuts.add(s)
        cuts.add(e)
    volts = []
    for k in range(_DAY_S // 900):  # supply voltage wanders in 15-minute steps
        cuts.add(k * 900)
        volts.append(round(rng.uniform(226.0, 236.0), 1))
    freqs = []
    for k in range(_DAY_S // 600):  # frequency: +d then -d in each 10 minutes, mean 50 Hz
        d = round(rng.uniform(0, 0.04), 3)
        freqs.append(50.0 + d)
        freqs.append(50.0 - d)
        cuts.add(k * 600)
        cuts.add(k * 600 + 300)
    cuts = sorted(cuts)
    raw = []
    for a, b in zip(cuts, cuts[1:]):
        p = q = 0.0
        for s, e, w, ph in ev:
            if s <= a < e:
                p += w
                q += w * math.tan(ph)
        v = volts[a // 900]
        raw.append(
            {
                "dur": b - a,
                "v": v,
                "i": round(math.sqrt(p * p + q * q) / v, 4),
                "phi_deg": round(math.atan2(q, p) / _DEG, 2),
                "f": freqs[a // 300],
                "h": _HOUSE_H,
            }
        )
    return scenario.segments(raw)


def household(seed, start):
    return scenario.from_segments(
        start, [{"dur": 1}], "household", day_fn=lambda day: _household_day(seed, day)
    )


# --- ten-minute test scenarios ---------------------------------------------------------------


def _steps_raw(rng):
    raw = [{"dur": 20, "v": 230.0, "i": 0.0, "phi_deg": 0.0, "f": 50.0, "h": []}]
    for i, ph in ((0.02, 0.0), (0.25, 0.0), (1.0, 60.0), (5.0, 0.0), (5.0, 36.87)):
        raw.append({"dur": 40, "i": i, "phi_deg": ph})
    for i, ph in ((10.0, -25.84), (16.0, 10.0), (32.0, 0.0), (60.0, 5.0), (0.1, 0.0)):
        raw.append({"dur": 40, "i": i, "phi_deg": ph})
    left = 180.0
    while left > 30:  # random steps, 0.1 s to 30 s long, to fill the ten minutes
        d = round(rng.uniform(0.1, 30), 3)
        raw.append(
            {
                "dur": d,
                "i": round(rng.uniform(0, 40), 3),
                "phi_deg": round(rng.uniform(-60, 60), 2),
            }
        )
        left -= d
    raw.append({"dur": round(left, 3), "i": 2.0, "phi_deg": 0.0})
    return raw


def _harmonics_raw(rng):
    h = [
        [n, round(0.04 / n, 4), round(0.5 / n, 4), round(rng.uniform(-90, 90), 1)]
        for n in (3, 5, 7, 9, 11, 13)
    ]
    return [
        {"dur": 120, "v": 230.0, "i": 8.0, "phi_deg": 20.0, "f": 50.0, "h": h[:2]},
        {"dur": 180, "i": 12.0, "phi_deg": 5.0, "h": h},
        {"dur": 120, "i": 3.0, "phi_deg": -30.0, "h": h[2:]},
        {"dur": 180, "i": 20.0, "phi_deg": 0.0, "h": [[13, 0.02, 0.2, 45.0]]},
    ]


def _sags_raw(rng):
    raw = [{"dur": 60, "v": 230.0, "i": 10.0, "phi_deg": 15.0, "f": 50.0, "h": []}]
    for v, d in ((200.0, 0.5), (230.0, 60), (160.0, 2.0), (230.0, 60), (50.0, 0.2), (230.0, 60)):
        raw.append({"dur": d, "v": v})
    for v, d in ((255.0, 1.0), (230.0, 60), (270.0, 5.0), (230.0, 60), (207.0, 30.0)):
        raw.append({"dur": d, "v": v})
    raw.append({"dur": round(600 - 60 - 182.7 - 156.0, 3), "v": round(rng.uniform(225, 235), 1)})
    return raw


def _interruptions_raw(rng):
    return [
        {"dur": 60, "v": 230.0, "i": 6.0, "phi_deg": 10.0, "f": 50.0, "h": []},
        {"dur": 0.5, "v": 0.0, "i": 0.0},  # a short interruption
        {"dur": 59.5, "v": 230.0, "i": 6.0},
        {"dur": 20, "v": 0.0, "i": 0.0},  # short (<= 3 min)
        {"dur": 60, "v": 230.0, "i": round(rng.uniform(2, 8), 3)},
        {"dur": 240, "v": 0.0, "i": 0.0},  # long (> 3 min)
        {"dur": 160, "v": 230.0, "i": 4.0},
    ]


def _export_raw(rng):
    # PV export around noon: the house imports at night, exports when the panels beat the load
    raw = [{"dur": 60, "v": 232.0, "i": 2.0, "phi_deg": 20.0, "f": 50.0, "h": []}]
    for k in range(9):
        net = 3000.0 * math.sin(math.pi * (k + 1) / 10) - 700.0 + rng.uniform(-200, 200)
        raw.append(
            {"dur": 60, "i": round(abs(net) / 232.0, 4), "phi_deg": 178.0 if net < 0 else 5.0}
        )
    raw[5]["phi_deg"] = 200.0  # exporting while absorbing reactive (Q3)
    raw[6]["phi_deg"] = 160.0  # exporting capacitive (Q2)
    return raw


def _drift_raw(rng):
    return [
        {"dur": 150, "v": 230.0, "i": 10.0, "phi_deg": 10.0, "f": 50.0, "f_end": 50.5, "h": []},
        {"dur": 300, "f": 50.5, "f_end": 49.5, "i": round(rng.uniform(5, 15), 3)},
        {"dur": 150, "f": 49.5, "f_end": 50.0},
    ]


def _mixed_raw(rng):
    # ten minutes of everything at once: steps, harmonics to the 13th, sags and swells, short
    # interruptions, export, frequency drift 49.5..50.5 Hz
    h = [[n, round(0.03 / n, 4), round(0.4 / n, 4), 10.0 * n] for n in (3, 5, 7, 9, 11, 13)]
    raw = [{"dur": 45, "v": 230.0, "i": 5.0, "phi_deg": 10.0, "f": 50.0, "f_end": 50.5, "h": h}]
    raw += [
        {"dur": 45, "i": 16.0, "phi_deg": 30.0, "f": 50.5, "f_end": 50.5},
        {"dur": 0.3, "v": 180.0},
        {"dur": 44.7, "v": 230.0, "i": 0.0},
        {"dur": 60, "i": 40.0, "phi_deg": 0.0, "f": 50.5, "f_end": 49.5},
        {"dur": 2.0, "v": 0.0, "i": 0.0},
        {"dur": 58, "v": 240.0, "i": 8.0, "phi_deg": 178.0, "f": 49.5, "f_end": 49.5},
        {"dur": 1.5, "v": 260.0},
        {"dur": 58.5, "v": 230.0, "phi_deg": 195.0, "f": 49.5, "f_end": 50.0},
        {"dur": 60, "i": 2.0, "phi_deg": -40.0, "f": 50.0, "f_end": 50.0, "h": []},
    ]
    t = 0.0
    while len(raw) < 30:  # seeded random steps to fill the ten minutes
        d = round(rng.uniform(1, 20), 3)
        raw.append(
            {
                "dur": d,
                "i": round(rng.uniform(0, 60), 3),
                "phi_deg": round(rng.uniform(-180, 180), 2),
                "v": round(rng.uniform(200, 250), 1),
                "f": round(rng.uniform(49.5, 50.5), 3),
            }
        )
        t += d
    used = sum(r["dur"] for r in raw)
    raw.append({"dur": round(600 - used, 3) if used < 599 else 1.0, "i": 3.0, "phi_deg": 0.0})
    return raw


def _finite(builder, name):
    def gen(seed, start):
        return scenario.from_segments(start, builder(Rng(seed)), name)

    return gen


GENERATORS = {
    "household": household,
    "steps": _finite(_steps_raw, "steps"),
    "harmonics": _finite(_harmonics_raw, "harmonics"),
    "sags": _finite(_sags_raw, "sags"),
    "interruptions": _finite(_interruptions_raw, "interruptions"),
    "export": _finite(_export_raw, "export"),
    "drift": _finite(_drift_raw, "drift"),
    "mixed": _finite(_mixed_raw, "mixed"),
}
