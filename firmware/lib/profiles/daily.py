"""Daily snapshots (0x0503): the energy registers at each local midnight (docs/profiles.md §5).

Record: TIME(4, the local midnight in UTC) STATUS(1) TARIFF(1, in force at TIME) then u32 A+,
A-, Q1, Q2, Q3, Q4, T1..T4 (Wh / varh): absolute register values, so any two snapshots give
that span's energy per tariff. The local date is looked at once an hour and at the computed
midnight, so the 23- and 25-hour days of DST are right. A midnight the meter spent switched off
gives one snapshot at its first second on the new day, stamped with that day's midnight and
flagged PDN; days entirely switched off get none. CAD: the clock was stepped since the last
snapshot; DST, CIV/DNV as in the profiles.
"""

from profiles.record import CAD, DAILY_SIZE, PDN, put_u, seal


class Daily:
    def __init__(self, ring, energy, env):
        self.ring = ring
        self.energy = energy  # meter.energy: totals(), tariff_wh(t)
        self.env = env
        self.rec = bytearray(DAILY_SIZE)
        self.flags = PDN  # the first snapshot after a boot was not seen live
        self.next_check = -1
        self.day = None
        self.failed = 0
        last = ring.last()
        if last is not None:
            t = (last[0] << 24) | (last[1] << 16) | (last[2] << 8) | last[3]
            self.day = env.local(t)[:3]

    def tick(self, t, stepped):
        if stepped:
            self.flags |= CAD
            self.next_check = t
        if t < self.next_check:
            return -1
        lt = self.env.local(t)
        into = lt[3] * 3600 + lt[4] * 60 + lt[5]
        midnight = t - into
        nxt = midnight + 86400
        self.next_check = nxt if nxt < t + 3600 else t + 3600
        day = lt[:3]
        if self.day is None:  # first start: the first snapshot is at the next midnight
            self.day = day
            self.flags &= ~PDN
            return -1
        if day == self.day:
            return -1
        self.day = day
        return self.snapshot(midnight, self.flags if into else self.flags & ~PDN)

    def snapshot(self, stamp, flags):
        env = self.env
        e = self.energy
        rec = self.rec
        rec[5] = env.tariff(stamp)
        o = 6
        for v in e.totals():
            put_u(rec, o, 4, v & 0xFFFFFFFF)
            o += 4
        for k in range(1, 5):
            put_u(rec, o, 4, e.tariff_wh(k) & 0xFFFFFFFF)
            o += 4
        self.flags = 0
        rno = seal(self.ring, rec, stamp, flags, env)
        if rno < 0:
            self.failed += 1
        return rno
