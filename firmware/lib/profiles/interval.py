"""The open interval of a periodic profile and the rules that close it (docs/profiles.md §3).

Intervals are aligned on UTC multiples of the period (the same as local time for whole-hour
offsets, across DST too) and stamped with their end. Each metering second t (meter.on_second)
counts in the open interval (start, end]. Rules, in this order:
- the period register changed: the open interval closes now, stamped t, PAR;
- t == end: it closes, stamped end (complete unless seconds were missing: PAR);
- t outside (start, end] (a clock step, a power-down, a stalled loop): it closes stamped end
  with what it holds, PAR; the next one opens at t's period and is PAR too.
A clock step (meter.wallclock.steps moved) flags the open interval CAD. Every close also sets
DST (summer time at the stamp) and CIV|DNV when the clock was never set.
Subclasses keep their accumulators: begin(t) at open, second(t) per counted second, fill(rec)
at close (returns extra status bits).
"""

from profiles.record import CAD, PAR, seal


class Interval:
    def __init__(self, ring, recsize, period_s, channels):
        self.ring = ring
        self.rec = bytearray(recsize)
        self.period_s = period_s
        self.channels = channels
        self.start = -1  # -1: nothing open yet
        self.end = 0
        self.count = 0
        self.flags = 0
        self.closed = 0
        self.failed = 0  # appends the flash refused

    def open(self, t, flags=0):
        p = self.period_s
        self.start = t - t % p
        self.end = self.start + p
        self.count = 0
        self.flags = flags
        self.begin(t)

    def tick(self, t, stepped, period_s, channels, env):
        """One metering second; returns the closed record's RNO, or -1."""
        if self.start < 0:
            self.period_s = period_s
            self.channels = channels
            self.open(t)
            return -1
        if stepped:
            self.flags |= CAD
        if period_s != self.period_s:
            rno = self.close(t, PAR, env)
            self.period_s = period_s
            self.channels = channels
            self.open(t)
            return rno
        if self.start < t <= self.end:
            self.count += 1
            self.second(t)
            if t < self.end:
                return -1
            rno = self.close(self.end, 0, env)
            self.channels = channels
            self.open(t)
            return rno
        rno = self.close(self.end, PAR, env)
        self.channels = channels
        self.open(t, PAR if t % self.period_s else 0)
        return rno

    def close(self, stamp, flags, env):
        rec = self.rec
        for i in range(len(rec)):
            rec[i] = 0
        rec[5] = self.channels
        flags |= self.flags | self.fill(rec)
        if self.count < self.period_s:
            flags |= PAR
        self.closed += 1
        rno = seal(self.ring, rec, stamp, flags, env)
        if rno < 0:
            self.failed += 1
        return rno

    # --- subclass hooks ---------------------------------------------------------------------

    def begin(self, t):
        pass

    def second(self, t):
        pass

    def fill(self, rec):
        return 0
