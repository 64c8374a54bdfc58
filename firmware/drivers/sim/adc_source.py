"""unix_sim direct-ADC path: V/I ADC codes synthesised from a load scenario (seam B).

    src = SimAdcSource(scenario.load("mixed"), clock.now_ms)
    b = src.take()        # int16 view of 2 * block interleaved (V, I) codes, or None

The analogue front end it models: v(t), i(t) of the scenario (docs/scenarios.md: sines of the
scenario's cycle count, fundamental plus harmonics) scaled by v_uv_per_code / i_ua_per_code
around the mid-scale offsets, plus triangular noise of +-noise codes (seeded xorshift32),
rounded to 12-bit codes and clipped to 0..4095; both channels sampled at the same instant, fs
pairs per second. take() hands out the blocks whose last sample time has passed on the clock
(now_ms since construction), so the metering sees the waveform in real (or simulated) time;
the first sample is scenario time t0_s.

Per block the scenario is read at the block's start and end; where the segment changes inside
(a load step, a sag) the block is split at the first sample of the new segment (bisection on
sample times), so energy steps land on the right sample. The phase comes from the scenario's
cycle count at each piece's ends: continuous across blocks and exact for frequency ramps.
The per-sample loop is viper over a 16384-entry sine table (Q30); it needs a 64-bit port
(products up to 2^58), which unix_sim is.
"""

import math
import sys
from array import array

import micropython
from micropython import const

_TBITS = const(14)
_NC = const(16)  # components per channel at most (fundamental + 15 harmonics)
_PRM = const(8)  # header words of the parameter block


@micropython.viper
def _synth(out: ptr16, n: int, prm: ptr32, tab: ptr32):
    # prm: [phase0, dphase, ncomp_v, ncomp_i, dc_v, dc_i, noise, seed] then per component
    # (order n, phase offset, amplitude in codes Q16), V components first; phases are
    # fractions of a cycle in 2^32 units (masked: viper ints are 64-bit on unix)
    b = 31  # runtime shifts, not folded literals, so the module compiles for 32-bit targets
    sgn = 1 << b
    msk = sgn + sgn - 1
    ph = prm[0] & msk
    dph = prm[1] & msk
    nv = prm[2]
    ni = prm[3]
    dcv = prm[4] << 16
    dci = prm[5] << 16
    noise = prm[6]
    s = prm[7] & msk
    half = 1 << (31 - _TBITS)
    for j in range(n):
        for ch in range(2):
            acc = 0
            c = 8 if ch == 0 else 8 + 3 * nv
            cend = c + 3 * (nv if ch == 0 else ni)
            while c < cend:
                p = (prm[c] * ph + prm[c + 1] + half) & msk
                t = tab[p >> (32 - _TBITS)]
                t = (t ^ sgn) - sgn  # the load is zero-extended on 64 bits
                acc += prm[c + 2] * t
                c += 3
            s ^= (s << 13) & msk
            s ^= s >> 17
            s ^= (s << 5) & msk
            tri = (s & 255) + ((s >> 8) & 255) - 255
            y = (acc >> 30) + (tri * noise << 8) + (dcv if ch == 0 else dci)
            y = (y + 32768) >> 16
            if y < 0:
                y = 0
            elif y > 4095:
                y = 4095
            out[2 * j + ch] = y
        ph = (ph + dph) & msk
    prm[7] = s


class SimAdcSource:
    def __init__(
        self,
        sc,
        now_ms,
        fs=4000,
        block=160,
        v_uv_per_code=200000,
        i_ua_per_code=50000,
        dc=(2048, 2048),
        noise=1,
        seed=1,
        t0_s=0,
    ):
        if sys.maxsize < (1 << 62):
            raise OSError("SimAdcSource needs a 64-bit port (unix_sim)")
        from metrology import scenario

        self.fs = fs
        self.block = block
        self._sc = sc
        self._now = now_ms
        self._t0 = now_ms()
        self._t0_s = t0_s  # scenario time of the first sample
        self._made = 0  # pairs synthesised so far
        self._kv = 1e6 / v_uv_per_code  # codes per volt
        self._ki = 1e6 / i_ua_per_code
        self._buf = array("h", bytearray(4 * block))
        self._mv = memoryview(self._buf)
        self._prm = array("i", bytearray(4 * (_PRM + 6 * _NC)))
        self._prm[4] = dc[0]
        self._prm[5] = dc[1]
        self._prm[6] = noise
        self._prm[7] = seed or 1
        self._a = scenario.State()
        self._b = scenario.State()
        n = 1 << _TBITS
        self._tab = array("i", bytearray(4 * n))
        for k in range(n):
            self._tab[k] = int(math.sin(2 * math.pi * k / n) * (1 << 30))
        self.blocks = 0

    def take(self):
        """The next block if its last sample is due on the clock, else None."""
        due = (self._now() - self._t0) * self.fs // 1000
        if self._made + self.block > due:
            return None
        k0 = self._made
        k1 = k0 + self.block
        while k0 < k1:  # pieces of constant segment
            e = self._piece_end(k0, k1)
            self._fill(k0, e)
            k0 = e
        self._made = k1
        self.blocks += 1
        return self._mv

    def _state(self, k, st):
        return self._sc.state(self._t0_s + k / self.fs, st)

    def _piece_end(self, k0, k1):
        a = self._state(k0, self._a)
        if _same(a, self._state(k1 - 1, self._b)):
            return k1
        lo, hi = k0, k1 - 1  # a's segment holds at lo, not at hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _same(a, self._state(mid, self._b)):
                lo = mid
            else:
                hi = mid
        return hi

    def _fill(self, k0, k1):
        st = self._state(k0, self._a)
        c0 = st.cycles
        c1 = self._state(k1, self._b).cycles
        n = k1 - k0
        p = self._prm
        p[0] = _frac32(c0)
        p[1] = _frac32((c1 - c0) / n)
        r2 = math.sqrt(2)
        av = r2 * st.v_rms * self._kv * 65536
        ai = r2 * st.i_rms * self._ki * 65536
        c = _PRM
        c = _comp(p, c, 1, 0.0, av)
        nv = 1
        for h in st.harmonics:
            if h[1]:
                c = _comp(p, c, h[0], 0.0, av * h[1])
                nv += 1
        c = _comp(p, c, 1, -st.phi, ai)
        ni = 1
        for h in st.harmonics:
            if h[2]:
                c = _comp(p, c, h[0], -h[3], ai * h[2])
                ni += 1
        p[2] = nv
        p[3] = ni
        _synth(self._mv[2 * (k0 - self._made) :], n, p, self._tab)


def _same(a, b):
    return (
        a.v_rms == b.v_rms and a.i_rms == b.i_rms and a.phi == b.phi and a.harmonics is b.harmonics
    )


def _frac32(x):
    # fraction of a cycle in 2^32 units, as a signed 32-bit word
    u = int((x - math.floor(x)) * 4294967296.0) & 0xFFFFFFFF
    return u - (1 << 32) if u >= 1 << 31 else u


def _comp(p, c, order, phase_rad, amp_q16):
    p[c] = order
    p[c + 1] = _frac32(phase_rad / (2 * math.pi))
    p[c + 2] = int(amp_q16 + 0.5)
    return c + 3
