"""Power quality: voltage interruptions, sags and swells, one metering second at a time
(docs/metering.md §6).

Each second the engine passes the interval's RMS voltage and its lowest/highest cycle RMS.
Levels against the nominal voltage Un (0x0301), thresholds as % of Un (0x0C03, 0x0C04):
  interruption  interval RMS < 5 % Un (or the front-end's ST_NO_VOLTAGE)
  sag           lowest cycle RMS < sag threshold
  swell         highest cycle RMS > swell threshold
An event ends when its condition is gone by a 2 % Un hysteresis (interruption: RMS >= 7 % Un,
sag: lowest >= threshold + 2 %, swell: highest <= threshold - 2 %); one event at a time,
interruption over sag over swell, so a sag that deepens into an interruption is recorded as a
sag up to that second and an interruption from it. Times are whole metering seconds: an event
starts at the start of the first second it is seen in and lasts until the start of the first
second it is gone. An interruption longer than long_interruption_s (0x0C05) is long, else short.
A supply loss (the power-fail input) is an interruption from the loss (or from the start of an
interruption already in progress) to the return, recorded when metering resumes.

Ended events go to `sink(kind, start_s, duration_s, extreme_mv)`; kinds are the TYPE codes of
table 0x0C00.
"""

import struct

from micropython import const

LONG = const(1)
SHORT = const(2)
SAG = const(3)
SWELL = const(4)
_NONE = const(0)
_INTERRUPTION = const(5)  # in progress: long or short is known at its end
_INT_PCT = const(5)
_HYST_PCT = const(2)

# state record part: LONG SHORT SAGS SWELLS PFAILS (u16) | LAST_PF LAST_OUTAGE (u32)
# | MODE (u8) START (u32) EXTREME (u16, 0.1 V)
_FMT = ">5H2IBIH"
SIZE = struct.calcsize(_FMT)  # 25


class Quality:
    def __init__(self, sink):
        self.sink = sink
        self.counts = [0, 0, 0, 0, 0]  # long, short, sags, swells, power failures
        self.last_pf = 0  # UTC of the last supply loss
        self.last_outage = 0  # s
        self.mode = _NONE
        self.start = 0
        self.extreme = 0  # mV: lowest (interruption, sag) or highest (swell) seen
        self.long_s = 180
        self._int_on = self._int_off = 0
        self._sag_on = self._sag_off = 0
        self._swell_on = self._swell_off = 0

    def limits(self, nominal_v, sag_pct, swell_pct, long_s):
        """Thresholds in mV from the registers (read each second: a write applies at once)."""
        u = nominal_v * 10  # mV per % of Un
        self._int_on = u * _INT_PCT
        self._int_off = u * (_INT_PCT + _HYST_PCT)
        self._sag_on = u * sag_pct
        self._sag_off = u * (sag_pct + _HYST_PCT)
        self._swell_on = u * swell_pct
        self._swell_off = u * (swell_pct - _HYST_PCT)
        self.long_s = long_s

    def second(self, t, v, vmin, vmax, no_voltage):
        """The metering second [t - 1, t): RMS v, extremes vmin/vmax (mV; 0/0 = not measured)."""
        if vmax == 0:
            vmin = vmax = v
        m = self.mode
        if no_voltage or v < (self._int_off if m == _INTERRUPTION else self._int_on):
            new, ext = _INTERRUPTION, v
        elif vmin < (self._sag_off if m == SAG else self._sag_on):
            new, ext = SAG, vmin
        elif vmax > (self._swell_off if m == SWELL else self._swell_on):
            new, ext = SWELL, vmax
        else:
            new, ext = _NONE, 0
        if new == m:
            if (ext < self.extreme) if m != SWELL else (ext > self.extreme):
                self.extreme = ext
            return
        if m != _NONE:
            self._end(t - 1)
        self.mode = new
        self.start = t - 1
        self.extreme = ext

    def _end(self, t):
        m = self.mode
        d = t - self.start
        if m == _INTERRUPTION:
            m = LONG if d > self.long_s else SHORT
        self.counts[m - 1] += 1
        self.sink(m, self.start, d, self.extreme)
        self.mode = _NONE

    def active(self):
        return self.mode != _NONE

    def power_fail(self, t):
        self.counts[4] += 1
        self.last_pf = t

    def outage(self, back):
        """The supply came back at `back` after the loss at last_pf: close what was in progress
        at the loss and record the outage as an interruption (merged with one in progress)."""
        lost = self.last_pf
        self.last_outage = back - lost if back > lost else 0
        start = lost
        if self.mode == _INTERRUPTION:
            start = self.start
        elif self.mode != _NONE:
            self._end(lost)
        self.mode = _INTERRUPTION
        self.start = start if start <= back else back
        self.extreme = 0
        self._end(back)

    def pack_into(self, buf, off):
        c = self.counts
        struct.pack_into(
            _FMT, buf, off, c[0], c[1], c[2], c[3], c[4], self.last_pf, self.last_outage,
            self.mode, self.start, self.extreme // 100,
        )  # fmt: skip

    def unpack_from(self, buf, off):
        v = struct.unpack_from(_FMT, buf, off)
        if v[7] > _INTERRUPTION:
            return False
        for i in range(5):
            self.counts[i] = v[i]
        self.last_pf, self.last_outage, self.mode, self.start = v[5], v[6], v[7], v[8]
        self.extreme = v[9] * 100
        return True
