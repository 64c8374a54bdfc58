"""Rate-1/2 K=7 convolutional code (171, 133 octal) and a 64-state soft-decision Viterbi decoder.

Bits are taken LSB first from each byte. Encoder register: reg = (state << 1) | bit, i.e. the
current bit at bit 0 and the oldest at bit 6; state = reg & 63. Outputs g0 = parity(reg & 0o171)
first, then g1 = parity(reg & 0o133). This is bit-exact with scikit-commpy
Trellis(memory=[6], g=[[0o171, 0o133]]) (tap order LSB = current input).
Coded bit b is sent as symbol (-1)**b; soft values are int8 with
positive meaning bit 0. Each block is terminated by 6 zero tail bits (ends in state 0).
Nothing here allocates: callers pass preallocated buffers.
"""

from array import array

import micropython

from phy.tables import CONV_OUT

_BIAS = 1 << 24


@micropython.viper
def conv_encode(src: ptr8, nbits: int, dst: ptr8, dpos: int) -> int:
    """Encode nbits of src (LSB first) plus 6 tail zeros into dst[dpos:] as 0/1 bytes."""
    out = ptr8(CONV_OUT)
    st = 0
    i = 0
    n = nbits + 6
    while i < n:
        b = 0
        if i < nbits:
            b = (src[i >> 3] >> (i & 7)) & 1
        reg = (st << 1) | b
        o = out[reg]
        dst[dpos] = o >> 1
        dst[dpos + 1] = o & 1
        dpos += 2
        st = reg & 63
        i += 1
    return dpos


@micropython.viper
def _acs(soft: ptr8, nsteps: int, surv: ptr8, pm: ptr32):
    # pm: 128 words, two banks of 64 metrics (biased positive)
    out = ptr8(CONV_OUT)
    cur = 0
    step = 0
    while step < nsteps:
        s0 = soft[2 * step]
        s0 = (s0 ^ 0x80) - 0x80
        s1 = soft[2 * step + 1]
        s1 = (s1 ^ 0x80) - 0x80
        nxt = 64 - cur
        sb = step * 8
        k = 0
        while k < 8:
            surv[sb + k] = 0
            k += 1
        ns = 0
        while ns < 64:
            p0 = ns >> 1
            # predecessors p0 (x = 0) and p0 | 32 (x = 1); reg = (x << 6) | ns
            o = out[ns]
            m0 = pm[cur + p0] + (s0 if (o & 2) == 0 else 0 - s0) + (s1 if (o & 1) == 0 else 0 - s1)
            o = out[64 | ns]
            m1 = (
                pm[cur + p0 + 32]
                + (s0 if (o & 2) == 0 else 0 - s0)
                + (s1 if (o & 1) == 0 else 0 - s1)
            )
            if m1 > m0:
                pm[nxt + ns] = m1
                surv[sb + (ns >> 3)] |= 1 << (ns & 7)
            else:
                pm[nxt + ns] = m0
            ns += 1
        cur = nxt
        step += 1


@micropython.viper
def _traceback(surv: ptr8, nsteps: int, dst: ptr8, nbits: int):
    # decoded bit of step i = newest bit of the state after step i = state & 1
    k = 0
    nb = (nbits + 7) >> 3
    while k < nb:
        dst[k] = 0
        k += 1
    s = 0
    step = nsteps - 1
    while step >= 0:
        if step < nbits:
            if s & 1:
                dst[step >> 3] |= 1 << (step & 7)
        x = (surv[step * 8 + (s >> 3)] >> (s & 7)) & 1
        s = (s >> 1) | (x << 5)
        step -= 1


class Viterbi:
    """Preallocated decoder for blocks of up to max_bits data bits (+6 tail)."""

    def __init__(self, max_bits):
        self.max_steps = max_bits + 6
        self.surv = bytearray(8 * self.max_steps)
        self.pm = array("i", bytearray(4 * 128))

    def decode(self, soft, nbits, dst):
        """soft: int8 pairs (bytearray/memoryview) for nbits+6 steps -> dst bits (LSB first)."""
        n = nbits + 6
        if n > self.max_steps:
            raise ValueError
        pm = self.pm
        for i in range(64):
            pm[i] = _BIAS - 100000
        pm[0] = _BIAS
        _acs(soft, n, self.surv, pm)
        _traceback(self.surv, n, dst, nbits)
