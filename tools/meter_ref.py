"""Independent reference of what a meter should record for a scenario (numpy, CPython).

Written from the documents only (docs/metering.md, docs/profiles.md, docs/tariffs.md,
metering-facts §2 and §4); it imports nothing from firmware/. Input: the per-second truth of
tools/scenario_ref.py (second k covers [start + k, start + k + 1) UTC). Output: the registers,
profiles, snapshots, billing figures and demand the meter should show.

    ref = MeterRef(truth, start_utc, tariff_of)   # tariff_of(utc array) -> tariff 1..4 array
    ref.register("a_plus", t)        # Wh register after the second ending at UTC t
    ref.load_profile(t0, t1, 900)    # {end: (A+, A-, R+, R-)} for full intervals in (t0, t1]
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

EPOCH_2000 = 946684800
DAY = 86400


# --- local time (metering-facts §4: EU summer time from 01:00 UTC on the last Sunday of March
# to 01:00 UTC on the last Sunday of October) ------------------------------------------------


def _last_sunday_utc1(year: int, month: int) -> int:
    d = _dt.date(year, month, 31)
    d -= _dt.timedelta(days=(d.weekday() - 6) % 7)
    return int(_dt.datetime(d.year, d.month, d.day, 1, tzinfo=_dt.timezone.utc).timestamp())


def is_dst(utc2000: int, dst_mode: int = 1) -> bool:
    if not dst_mode:
        return False
    u = utc2000 + EPOCH_2000
    y = _dt.datetime.fromtimestamp(u, _dt.timezone.utc).year
    return _last_sunday_utc1(y, 3) <= u < _last_sunday_utc1(y, 10)


def local(utc2000: int, offset_min: int = 60, dst_mode: int = 1) -> _dt.datetime:
    """Local civil time (naive datetime) of a UTC second since 2000."""
    off = offset_min * 60 + (3600 if is_dst(utc2000, dst_mode) else 0)
    return _dt.datetime(2000, 1, 1) + _dt.timedelta(seconds=utc2000 + off)


def local_midnights(t0: int, t1: int, offset_min=60, dst_mode=1) -> list[int]:
    """UTC seconds (since 2000) of every local midnight in (t0, t1]."""
    out = []
    day = local(t0, offset_min, dst_mode).date()
    while True:
        day += _dt.timedelta(days=1)
        guess = int(
            (_dt.datetime.combine(day, _dt.time()) - _dt.datetime(2000, 1, 1)).total_seconds()
        )
        # local midnight = guess - offset; the offset of that instant decides
        t = guess - offset_min * 60
        if is_dst(t - 3600, dst_mode):
            t -= 3600
        if t > t1:
            return out
        out.append(t)


# --- the registers ------------------------------------------------------------------------


class MeterRef:
    def __init__(self, truth: dict, start_utc: int, tariff_of=None, offset_min=60, dst_mode=1):
        self.start = start_utc
        self.n = len(truth["ep_ws"])
        ep = np.asarray(truth["ep_ws"], dtype=float)
        eq = np.asarray(truth["eq_vars"], dtype=float)
        self.v = np.asarray(truth["v"], dtype=float)
        self.i = np.asarray(truth["i"], dtype=float)
        self.p = ep
        imp = ep >= 0
        # quadrant of each second from the signs of its P and Q (metering-facts §2)
        per_s = {
            "a_plus": np.where(imp, ep, 0.0),
            "a_minus": np.where(imp, 0.0, -ep),
            "q1": np.where(imp & (eq >= 0), eq, 0.0),
            "q2": np.where(~imp & (eq >= 0), eq, 0.0),
            "q3": np.where(~imp & (eq < 0), -eq, 0.0),
            "q4": np.where(imp & (eq < 0), -eq, 0.0),
        }
        self.ws = per_s
        # registers: whole Wh of the exact cumulative energy (integer accumulation with the
        # remainder carried, docs/metering.md): value after second k = floor(sum[0..k] / 3600)
        self.cum = {k: np.concatenate(([0.0], np.cumsum(v))) for k, v in per_s.items()}
        self.regs = {k: np.floor(c / 3600.0 + 1e-9).astype(np.int64) for k, c in self.cum.items()}
        utc = start_utc + np.arange(self.n)
        self.tariff = (
            np.ones(self.n, dtype=int) if tariff_of is None else np.asarray(tariff_of(utc))
        )
        # T1..T4: A+ of the seconds booked in each tariff, each register with its own
        # remainder (docs/metering.md §2), so floor(exact per-tariff energy / 1 Wh)
        ap = per_s["a_plus"]
        self.t_regs = {
            k: np.floor(
                np.concatenate(([0.0], np.cumsum(np.where(self.tariff == k, ap, 0.0)))) / 3600.0
                + 1e-9
            ).astype(np.int64)
            for k in (1, 2, 3, 4)
        }
        self.offset_min = offset_min
        self.dst_mode = dst_mode

    def _k(self, t: int) -> int:
        k = t - self.start
        if not 0 <= k <= self.n:
            raise ValueError(f"t {t} outside the scenario")
        return k

    def register(self, name: str, t: int) -> int:
        """Register value once the second ending at UTC t is booked."""
        return int(self.regs[name][self._k(t)])

    def exact_wh(self, name: str, t0: int, t1: int) -> float:
        return float(self.cum[name][self._k(t1)] - self.cum[name][self._k(t0)]) / 3600.0

    def tariff_wh(self, k: int, t: int) -> int:
        return int(self.t_regs[k][self._k(t)])

    # --- profiles (docs/profiles.md §1, §3) -----------------------------------------------

    def load_profile(self, t0: int, t1: int, period_s: int) -> dict[int, tuple]:
        """{end: (A+, A-, R+, R-)} of every full interval with t0 <= start, end <= t1."""
        out = {}
        b = -(-t0 // period_s) * period_s
        r = self.regs
        while b + period_s <= t1:
            e = b + period_s
            d = [r[k][self._k(e)] - r[k][self._k(b)] for k in r]
            a_plus, a_minus, q1, q2, q3, q4 = (int(x) for x in d)
            out[e] = (a_plus, a_minus, q1 + q2, q3 + q4)
            b = e
        return out

    def measurand_profile(self, t0: int, t1: int, period_s: int) -> dict[int, tuple]:
        """{end: (V 0.1 V, I 0.01 A, P W)}: means of the true per-second values."""
        out = {}
        b = -(-t0 // period_s) * period_s
        while b + period_s <= t1:
            e = b + period_s
            sl = slice(self._k(b), self._k(e))
            out[e] = (
                float(np.mean(self.v[sl]) * 10),
                float(np.mean(self.i[sl]) * 100),
                float(np.mean(self.p[sl])),
            )
            b = e
        return out

    def daily(self, t0: int, t1: int) -> dict[int, tuple]:
        """{midnight: (A+, A-, Q1..Q4, T1..T4)} for the local midnights in (t0, t1]."""
        out = {}
        for m in local_midnights(t0, t1, self.offset_min, self.dst_mode):
            vals = [self.register(k, m) for k in ("a_plus", "a_minus", "q1", "q2", "q3", "q4")]
            vals += [self.tariff_wh(k, m) for k in (1, 2, 3, 4)]
            out[m] = tuple(vals)
        return out

    def voltage_events(self, t0: int, t1: int, un=230.0, sag=0.9, swell=1.1) -> int:
        """Sags, swells and interruptions (docs/metering.md: below sag x Un, above swell x Un,
        below 5 %) in (t0, t1]: maximal runs of seconds whose mean voltage is outside."""
        v = self.v[self._k(t0) : self._k(t1)]
        out = (v < sag * un) | (v > swell * un)
        return int(np.count_nonzero(out[1:] & ~out[:-1]) + (1 if len(out) and out[0] else 0))

    def demand(self, t0: int, t1: int, period_s: int) -> dict:
        """Block maximum demand (docs/tariffs.md §6) over the blocks in (t0, t1]: each second's
        import power (whole W as the meter publishes it, export 0) goes to the tariff of that
        second; a block's demand per tariff is floor(W s / P). Returns {tariff: (W, block
        end)} and {0: (W, end)} for the total; a later block replaces only a larger one."""
        w = np.maximum(np.trunc(self.p), 0.0)
        best: dict[int, tuple] = {}
        b = -(-t0 // period_s) * period_s
        while b + period_s <= t1:
            e = b + period_s
            sl = slice(self._k(b), self._k(e))
            tar = self.tariff[sl]
            sums = {k: float(np.sum(w[sl][tar == k])) for k in (1, 2, 3, 4)}
            sums[0] = float(np.sum(w[sl]))
            for k, ws in sums.items():
                d = int(ws // period_s)
                if d > 0 and (k not in best or d > best[k][0]):
                    best[k] = (d, e)
            b = e
        return best


# --- tariffs (docs/tariffs.md §1-§3) ------------------------------------------------------


class TariffRef:
    """The tariff in force at each UTC second, from the tariff tables as read from a meter:
    weekly records (PROG*16+DAYTYPE, HOUR, MINUTE, TARIFF), seasons (MONTH, DAY, PROG, PLAN),
    holidays (MONTH, DAY, YEAR-2000 or 0, DAYTYPE), the plan in force (0 = single rate)."""

    def __init__(self, weekly, seasons, holidays, plan=1, offset_min=60, dst_mode=1):
        self.weekly = [tuple(r) for r in weekly]
        self.seasons = [tuple(r) for r in seasons]
        self.holidays = [tuple(r) for r in holidays]
        self.plan = plan
        self.off = offset_min * 60
        self.dst_mode = dst_mode

    def _wall(self, u: int) -> int:
        return u + self.off + (3600 if is_dst(u, self.dst_mode) else 0)

    def wall_to_utc(self, w: int) -> int:
        """The first UTC second whose wall time is w or later (§1)."""
        u1 = w - self.off - 3600
        if is_dst(u1, self.dst_mode) and self._wall(u1) == w:
            return u1  # summer time (in the repeated October hour: the first pass)
        u2 = w - self.off
        if not is_dst(u2, self.dst_mode):
            return u2
        # w falls into the skipped March hour: summer time starts then
        y = (_dt.datetime(2000, 1, 1) + _dt.timedelta(seconds=w)).year
        return _last_sunday_utc1(y, 3) - EPOCH_2000

    def _day_type(self, d: _dt.date) -> int:
        for year_wanted in (d.year - 2000, 0):
            for mo, day, yr, dt in self.holidays:
                if (mo, day, yr) == (d.month, d.day, year_wanted):
                    return dt
        return {5: 1, 6: 2}.get(d.weekday(), 0)  # Mon-Fri 0, Saturday 1, Sunday 2

    def _programme(self, d: _dt.date) -> int:
        recs = [(mo, day, i, prog) for i, (mo, day, prog, plan) in enumerate(self.seasons)
                if plan in (0, self.plan)]  # fmt: skip
        if not recs:
            return 0

        def start(r):  # 29 February starts 1 March in a common year
            mo, day = r[0], r[1]
            if (mo, day) == (2, 29) and not (
                d.year % 4 == 0 and (d.year % 100 or d.year % 400 == 0)
            ):
                mo, day = 3, 1
            return (mo, day)

        before = [r for r in recs if start(r) <= (d.month, d.day)]
        pool = before or recs
        return max(pool, key=lambda r: (start(r), r[2]))[3]

    def segments(self, d: _dt.date) -> list[tuple[int, int]]:
        """[(utc start, tariff)] of local date d, from its first second."""
        midnight = int(
            (_dt.datetime.combine(d, _dt.time()) - _dt.datetime(2000, 1, 1)).total_seconds()
        )
        day0 = self.wall_to_utc(midnight)
        if self.plan == 0:
            return [(day0, 1)]
        code = self._programme(d) * 16 + self._day_type(d)
        pts = {}
        for i, (b0, h, m, t) in enumerate(self.weekly):
            if b0 == code:
                pts[(h, m)] = (i, t)  # the later record at the same time counts
        out = [(day0, 1)]
        for (h, m), (_, t) in sorted(pts.items()):
            u = max(day0, self.wall_to_utc(midnight + h * 3600 + m * 60))
            if out and out[-1][0] == u:
                out[-1] = (u, t)
            else:
                out.append((u, t))
        return out

    def tariff_of(self, utc):
        """Tariff 1..4 of each UTC second of the array (the second [u, u+1))."""
        utc = np.asarray(utc)
        lo, hi = int(utc.min()), int(utc.max())
        d = local(lo - 86400, self.off // 60, self.dst_mode).date()
        starts, tars = [], []
        while True:
            seg = self.segments(d)
            if seg[0][0] > hi:
                break
            for u, t in seg:
                starts.append(u)
                tars.append(t)
            d += _dt.timedelta(days=1)
        k = np.searchsorted(np.array(starts), utc, side="right") - 1
        return np.array(tars)[k]
