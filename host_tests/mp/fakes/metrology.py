"""A deterministic metrology front-end and an RTC that follows a simulated clock, for the energy
engine's tests (host_tests/mp/test_energy.py) and its kill-test worker
(host_tests/py/energy_worker.py) until the simulated STPM3x drives them.

Every UTC second s has a fixed content, a pure integer function of s and the seed that
host_tests/py/test_energy_kill.py recomputes on CPython to check the booked totals:
    x  = (s * 2654435761 + seed) mod 2**32
    ep = x mod 3 000 000 - 400 000             mW·s  (-0.4 .. 2.6 kW: import and export)
    eq = (x >> 12) mod 1 200 000 - 500 000     mvar·s
    v  = 230 000 + (x >> 20) mod 2001 - 1000   mV
A read covers every whole second since the previous successful read (dt_ms = 1000 x seconds),
as the Metrology interface says; `fail` (a set of seconds) makes the read at that second fail
and `absurd` return a sample the engine must refuse; both leave the energy for the next read.
"""

_SCALE = 2654435761


def second(s, seed=0):
    """(ep mW·s, eq mvar·s, v mV) of UTC second s."""
    x = (s * _SCALE + seed) % 4294967296
    return x % 3000000 - 400000, (x >> 12) % 1200000 - 500000, 230000 + (x >> 20) % 2001 - 1000


class ClockRtc:
    """interfaces.Rtc over a clock: start + clock ms // 1000 (set() moves the start)."""

    def __init__(self, clock, start):
        self.clock = clock
        self.start = start

    def seconds(self):
        return self.start + self.clock.now_ms() // 1000

    def set(self, seconds):
        self.start = seconds - self.clock.now_ms() // 1000


class FakeMetrology:
    name = "fake"

    def __init__(self, rtc, seed=0):
        self.rtc = rtc
        self.seed = seed
        self.last = rtc.seconds()  # energies count from the front-end's start
        self.errors = 0
        self.reads = 0
        self.fail = set()
        self.absurd = set()
        self.override = None  # fn(s) -> (ep, eq, v, vmin, vmax) replacing second() in tests

    def fault(self):
        return False

    def _second(self, s):
        if self.override is not None:
            return self.override(s)
        ep, eq, v = second(s, self.seed)
        return ep, eq, v, 0, 0

    async def read(self, sample):
        now = self.rtc.seconds()
        self.reads += 1
        if now in self.fail or now <= self.last:
            self.errors += 1
            return False
        ep = eq = 0
        vmin = vmax = vl = 0
        for s in range(self.last, now):
            a, b, vl, lo, hi = self._second(s)
            ep += a
            eq += b
            if s == self.last or lo < vmin:
                vmin = lo
            if hi > vmax:
                vmax = hi
        n = now - self.last
        if now in self.absurd:
            ep = 10**9 * n  # 1 MW: far above 1.2 x Un x Imax; the real energy stays pending
        else:
            self.last = now
        sample.dt_ms = 1000 * n
        sample.ep_mws = ep
        sample.eq_mvars = eq
        sample.v_mv = vl
        sample.i_ma = abs(ep) * 1000 // (vl * n) if vl else 0
        sample.p_mw = ep // n
        sample.q_mvar = eq // n
        sample.f_mhz = 50000
        sample.v_min_mv = vmin
        sample.v_max_mv = vmax
        sample.status = 0
        return True
