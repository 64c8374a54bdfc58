"""Load profile (0x0500) and measurand profile (0x1100) recorders (docs/profiles.md).

Load profile: the energy of each channel in the interval, as the difference of the energy
engine's integer totals (meter.energy.totals(), Seam D) at the interval's two ends, so the
records of a day add up exactly to the registers' change. R+ = Q1 + Q2, R- = Q3 + Q4 (OBIS C 3
and 4). A channel not selected reads 0; the CHANNELS byte says which are. Values are u16 Wh /
varh, saturated at 65535 with OVF (65 kWh per period: 260 kW at 15 min).
Measurand profile: the mean over the interval's metering seconds of V (0.1 V), I (0.01 A) and
P (W, signed) as meter.metering holds them after each second (datamodel.metering).
"""

from datamodel import metering as mt

from profiles.interval import Interval
from profiles.record import (
    CH_A_MINUS,
    CH_A_PLUS,
    CH_I,
    CH_P,
    CH_R_MINUS,
    CH_R_PLUS,
    CH_V,
    ERR,
    OVF,
    put_u,
)

_LP_BITS = (CH_A_PLUS, CH_A_MINUS, CH_R_PLUS, CH_R_MINUS)


def channels4(tot):
    """(A+, A-, R+, R-) from energy totals (A+, A-, Q1, Q2, Q3, Q4)."""
    return (tot[0], tot[1], tot[2] + tot[3], tot[4] + tot[5])


class LoadProfile(Interval):
    def __init__(self, ring, recsize, period_s, channels, totals):
        Interval.__init__(self, ring, recsize, period_s, channels)
        self.totals = totals  # callable -> (A+, A-, Q1, Q2, Q3, Q4) integer totals
        self.at_start = (0, 0, 0, 0)

    def begin(self, t):
        self.at_start = channels4(self.totals())

    def fill(self, rec):
        now = channels4(self.totals())
        flags = 0
        for i in range(4):
            if not self.channels & _LP_BITS[i]:
                continue
            d = now[i] - self.at_start[i]
            if d < 0:  # a register went backwards (restored older than this interval's start)
                d = 0
                flags |= ERR
            elif d > 0xFFFF:
                d = 0xFFFF
                flags |= OVF
            put_u(rec, 6 + 2 * i, 2, d)
        return flags


def _u16(b, off):
    return (b[off] << 8) | b[off + 1]


class MeasurandProfile(Interval):
    def __init__(self, ring, recsize, period_s, channels, metering):
        Interval.__init__(self, ring, recsize, period_s, channels)
        self.buf = metering.buf
        self.sv = 0
        self.si = 0
        self.sp = 0

    def begin(self, t):
        self.sv = 0
        self.si = 0
        self.sp = 0

    def second(self, t):
        # integer reads straight from the big-endian buffer: nothing allocated per second
        b = self.buf
        self.sv += _u16(b, mt.VOLTAGE)
        self.si += _u16(b, mt.CURRENT)
        hi = b[mt.POWER]
        if hi & 0x80:
            hi -= 256  # signed: stays a small int for any realistic power
        self.sp += (hi << 24) + (b[mt.POWER + 1] << 16) + _u16(b, mt.POWER + 2)

    def fill(self, rec):
        n = self.count
        if n == 0:
            return 0
        ch = self.channels
        if ch & CH_V:
            put_u(rec, 6, 2, self.sv // n)
        if ch & CH_I:
            put_u(rec, 8, 2, self.si // n)
        if ch & CH_P:
            put_u(rec, 10, 4, (self.sp // n) & 0xFFFFFFFF)
        return 0
