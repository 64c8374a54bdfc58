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

Everything stays in the small-int range for one-second bookings up to 1.2 x 480 V x 255 A, so
book() allocates nothing on a 32-bit port.
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

# state record part (big-endian): N_REG x (Wh u32, rem u32) | pulses u32, pulse mW·s u16,
# pulse acc u32 | day u16, day0 A+ u32, A- u32, R+ u32
_FMT = ">20IIHIH3I"
SIZE = struct.calcsize(_FMT)  # 104


class Energy:
    def __init__(self):
        self.wh = [0] * N_REG
        self.rem = [0] * N_REG
        self.pulses = 0
        self._p_rem = 0  # mW·s below the next mWh
        self._p_acc = 0  # mWh x meter constant below the next pulse
        self.day = NO_DAY  # local day (days since 2000-01-01) the daily registers belong to
        self.day0 = [0, 0, 0]  # A+, A-, R+ (Q1 + Q2) at the start of that day

    def _add(self, i, e):
        r = self.rem[i] + e
        if r >= WH:
            q = r // WH
            self.wh[i] += q
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
                self.pulses += n
                acc -= n * _PULSE
            self._p_acc = acc
        self._p_rem = r

    def new_day(self, day):
        """Start the daily registers of local day `day` from the totals booked so far."""
        self.day = day
        wh = self.wh
        self.day0[0] = wh[A_PLUS]
        self.day0[1] = wh[A_MINUS]
        self.day0[2] = wh[Q1] + wh[Q2]

    def daily(self, i):
        """Daily A+ (0), A- (1) or R+ (2) in Wh/varh since the local day started."""
        wh = self.wh
        now = wh[A_PLUS] if i == 0 else (wh[A_MINUS] if i == 1 else wh[Q1] + wh[Q2])
        return now - self.day0[i]

    def totals(self):
        """(A+ Wh, A- Wh, Q1, Q2, Q3, Q4 varh): Seam D."""
        wh = self.wh
        return (wh[A_PLUS], wh[A_MINUS], wh[Q1], wh[Q2], wh[Q3], wh[Q4])

    def exact(self, i):
        """Register i in mW·s (mvar·s): Wh x 3 600 000 + remainder (a long int; tests)."""
        return self.wh[i] * WH + self.rem[i]

    def pack_into(self, buf, off):
        wh, rem, d0 = self.wh, self.rem, self.day0
        # fmt: off
        struct.pack_into(
            _FMT, buf, off,
            wh[0], rem[0], wh[1], rem[1], wh[2], rem[2], wh[3], rem[3], wh[4], rem[4],
            wh[5], rem[5], wh[6], rem[6], wh[7], rem[7], wh[8], rem[8], wh[9], rem[9],
            self.pulses, self._p_rem, self._p_acc, self.day, d0[0], d0[1], d0[2],
        )
        # fmt: on

    def unpack_from(self, buf, off):
        """Load a packed state; False (and nothing changed) if it breaks an invariant."""
        v = struct.unpack_from(_FMT, buf, off)
        for i in range(N_REG):
            if v[2 * i + 1] >= WH:
                return False
        if v[21] >= _MWH or v[22] >= _PULSE:
            return False
        for i in range(N_REG):
            self.wh[i] = v[2 * i]
            self.rem[i] = v[2 * i + 1]
        self.pulses, self._p_rem, self._p_acc, self.day = v[20], v[21], v[22], v[23]
        self.day0[0], self.day0[1], self.day0[2] = v[24], v[25], v[26]
        return True
