"""Energy registers: integer totals with carried remainders (docs/metering.md §2-§4).

Each register is a whole count (Wh or varh) plus a remainder in milli-units (mW·s or mvar·s,
0 <= rem < 3 600 000) carried into the next booking, so nothing is ever rounded away: a
register always reads floor(exact energy booked / 1 Wh), however the energy was sliced.
Registers, in this order everywhere (state record, totals()):
    A+  A-  Q1  Q2  Q3  Q4  T1  T2  T3  T4
A+/A- active import/export; Q1..Q4 reactive by quadrant of (P, Q), IEC 62053-23: Q1 P>=0 Q>=0,
Q2 P<0 Q>=0, Q3 P<0 Q<0, Q4 P>=0 Q<0 (P = 0 counts as import); T1..T4 A+ booked in each tariff,
each with its own remainder, so sum(Tn in mW·s) == A+ in mW·s exactly and sum(Tn in Wh) lags
A+ by at most 3 Wh of fractions.

Test LED: pulses = floor(floor(E/1 mWh) * meter_constant / 10**6) for E = |A+| + |A-| in mW·s,
carried as a mW·s remainder (< 3600) and a pulse accumulator (< 10**6): a function of the
total energy alone, so it never drifts. Daily energies are totals minus the totals at the
start of the local day (day0), so they need no remainders of their own.

Small ints (docs/metering.md §9): MicroPython's are 31-bit on the STM32 and ESP32 (|v| < 2**30),
and a register reaches 2**30 Wh after 5.3 years at 100 A / 230 V (20 years: 4.0e9 Wh). So every
register is kept as two parts, `wh[i]` (the low 16 bits, < 65536) and `whh[i]` (the high 16
bits: the u32 register wraps at 2**32 as its data-model row does), the LED pulse count the same
way; the day-start values too. Booking, the daily registers and packing the state record or the
registers never form the whole value, so they allocate nothing for any register value; only
value(i), totals() and tariff_wh() (profile records, snapshots, billing: event time) build it,
a long int once it passes 2**30. Remainders stay < 3 600 000; a booking up to 2**30 mW·s (one
second up to 1.2 x 480 V x 255 A; a read covering > 64 s at 16.5 kW is a long int, rarely).
"""

import struct

from micropython import const

WH = const(3_600_000)  # mW·s in a Wh (and mvar·s in a varh)
A_PLUS = const(0)
A_MINUS = const(1)
Q1 = const(2)
Q2 = const(3)
Q3 = const(4)
Q4 = const(5)
T1 = const(6)  # T1..T4 = 6..9
N_REG = const(10)
NO_DAY = const(0xFFFF)
_MWH = const(3600)  # mW·s in a mWh
_PULSE = const(1_000_000)  # mWh x impulses/kWh in one impulse

_LO = const(0xFFFF)  # registers are (high 16 bits, low 16 bits): never a long int

# state record part (big-endian): N_REG x (Wh u32 as two u16, rem u32) | pulses u32 (two u16),
# pulse mW·s u16, pulse acc u32 | day u16, day0 A+ u32, A- u32, R+ u32 (two u16 each)
_FMT = ">" + "HHI" * N_REG + "HHHIH" + "HH" * 3
SIZE = struct.calcsize(_FMT)  # 104


class Energy:
    def __init__(self):
        self.wh = [0] * N_REG  # low 16 bits of each register
        self.whh = [0] * N_REG  # high 16 bits
        self.rem = [0] * N_REG
        self._pl = 0  # LED pulses, low and high 16 bits
        self._ph = 0
        self._p_rem = 0  # mW·s below the next mWh
        self._p_acc = 0  # mWh x meter constant below the next pulse
        self.day = NO_DAY  # local day (days since 2000-01-01) the daily registers belong to
        self.day0 = [0, 0, 0]  # A+, A-, R+ (Q1 + Q2) at the start of that day: low 16 bits
        self.day0h = [0, 0, 0]  # and high 16 bits

    @property
    def pulses(self):
        """LED pulses since the first start (u32; a long int past 2**30 on 32-bit ports)."""
        return self._ph << 16 | self._pl

    def value(self, i):
        """Register i in Wh / varh (u32; a long int past 2**30 on 32-bit ports: event time)."""
        return self.whh[i] << 16 | self.wh[i]

    def _add(self, i, e):
        r = self.rem[i] + e
        if r >= WH:
            q = r // WH
            lo = self.wh[i] + q
            if lo > _LO:
                self.whh[i] = (self.whh[i] + (lo >> 16)) & _LO
                lo &= _LO
            self.wh[i] = lo
            r -= q * WH
        self.rem[i] = r

    def book(self, ep, eq, tariff, k):
        """Book one interval: ep active mW·s (import > 0), eq reactive mvar·s (inductive > 0),
        into tariff 1..4, with meter constant k impulses/kWh for the test LED."""
        if ep >= 0:
            self._add(A_PLUS, ep)
            self._add(T1 - 1 + tariff, ep)
            self._add(Q1 if eq >= 0 else Q4, eq if eq >= 0 else -eq)
            a = ep
        else:
            a = -ep
            self._add(A_MINUS, a)
            self._add(Q2 if eq >= 0 else Q3, eq if eq >= 0 else -eq)
        r = self._p_rem + a
        if r >= _MWH:
            d = r // _MWH
            r -= d * _MWH
            acc = self._p_acc + d * k
            if acc >= _PULSE:
                n = acc // _PULSE
                lo = self._pl + n
                if lo > _LO:
                    self._ph = (self._ph + (lo >> 16)) & _LO
                    lo &= _LO
                self._pl = lo
                acc -= n * _PULSE
            self._p_acc = acc
        self._p_rem = r

    def new_day(self, day):
        """Start the daily registers of local day `day` from the totals booked so far."""
        self.day = day
        wh, whh, d0, d0h = self.wh, self.whh, self.day0, self.day0h
        d0h[0], d0[0] = whh[A_PLUS], wh[A_PLUS]
        d0h[1], d0[1] = whh[A_MINUS], wh[A_MINUS]
        d0h[2], d0[2] = whh[Q1] + whh[Q2], wh[Q1] + wh[Q2]  # R+: parts not normalised

    def daily(self, i):
        """Daily A+ (0), A- (1) or R+ (2) in Wh/varh since the local day started (a day's
        energy: always a small int, computed from the parts, no tuple: every second)."""
        wh, whh = self.wh, self.whh
        if i == 2:
            h = whh[Q1] + whh[Q2]
            lo = wh[Q1] + wh[Q2]
        else:
            r = A_PLUS if i == 0 else A_MINUS
            h = whh[r]
            lo = wh[r]
        return (((h - self.day0h[i]) & _LO) << 16) + lo - self.day0[i]

    def totals(self):
        """(A+ Wh, A- Wh, Q1, Q2, Q3, Q4 varh): Seam D (event time: see value())."""
        v = self.value
        return (v(A_PLUS), v(A_MINUS), v(Q1), v(Q2), v(Q3), v(Q4))

    def exact(self, i):
        """Register i in mW·s (mvar·s): Wh x 3 600 000 + remainder (a long int; tests)."""
        return self.value(i) * WH + self.rem[i]

    def parts(self):
        """Every int this object keeps between bookings (the small-int bound test)."""
        return (
            self.wh + self.whh + self.rem + self.day0 + self.day0h
            + [self._pl, self._ph, self._p_rem, self._p_acc]
        )  # fmt: skip

    def pack_into(self, buf, off):
        wh, whh, rem = self.wh, self.whh, self.rem
        d0, d0h = self.day0, self.day0h
        # fmt: off
        struct.pack_into(
            _FMT, buf, off,
            whh[0], wh[0], rem[0], whh[1], wh[1], rem[1], whh[2], wh[2], rem[2],
            whh[3], wh[3], rem[3], whh[4], wh[4], rem[4], whh[5], wh[5], rem[5],
            whh[6], wh[6], rem[6], whh[7], wh[7], rem[7], whh[8], wh[8], rem[8],
            whh[9], wh[9], rem[9],
            self._ph, self._pl, self._p_rem, self._p_acc, self.day,
            d0h[0], d0[0], d0h[1], d0[1], d0h[2], d0[2],
        )
        # fmt: on

    def unpack_from(self, buf, off):
        """Load a packed state; False (and nothing changed) if it breaks an invariant."""
        v = struct.unpack_from(_FMT, buf, off)
        for i in range(N_REG):
            if v[3 * i + 2] >= WH:
                return False
        p = 3 * N_REG
        if v[p + 2] >= _MWH or v[p + 3] >= _PULSE:
            return False
        for i in range(N_REG):
            self.whh[i] = v[3 * i]
            self.wh[i] = v[3 * i + 1]
            self.rem[i] = v[3 * i + 2]
        self._ph, self._pl, self._p_rem, self._p_acc, self.day = v[p : p + 5]
        for i in range(3):
            self.day0h[i] = v[p + 5 + 2 * i]
            self.day0[i] = v[p + 6 + 2 * i]
        return True
