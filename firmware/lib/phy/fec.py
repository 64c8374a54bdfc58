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
from micropython import const

from phy import kernel
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


# layout of the ACS work array pm (fec_thumb repeats these as consts; a test compares them)
PM_BANK = const(64)  # path metrics per bank; two banks (current, next) alternate
PM_BM = const(128)  # word index of the 4 branch-metric words after the two banks
PM_WORDS = const(132)
BM_BIAS = const(512)  # bias of the branch-metric words
SURV_BYTES = const(8)  # survivor bytes per trellis step (64 decision bits)


@micropython.viper
def _acs(pm: ptr32, soft: ptr8, nsteps: int, surv: ptr8):
    # pm: 128 words, two banks of 64 metrics (biased positive), then 4 words of branch metrics.
    # Butterflies: next states 2j and 2j+1 both come from j (x = 0) and j + 32 (x = 1). Both
    # generators tap the newest and the oldest bit, so out[64 | r] = out[r ^ 1] = out[r] ^ 3 and
    # the four branch metrics of a butterfly are +-bm with bm the metric of out[2j].
    out = ptr8(CONV_OUT)
    cur = 0
    step = 0
    while step < nsteps:
        s0 = soft[2 * step]
        s0 = (s0 ^ 0x80) - 0x80
        s1 = soft[2 * step + 1]
        s1 = (s1 ^ 0x80) - 0x80
        pm[PM_BM] = s0 + s1 + BM_BIAS
        pm[PM_BM + 1] = s0 - s1 + BM_BIAS
        pm[PM_BM + 2] = s1 - s0 + BM_BIAS
        pm[PM_BM + 3] = BM_BIAS - s0 - s1
        nxt = PM_BANK - cur
        sb = step * SURV_BYTES
        r = cur
        w = nxt
        j = 0
        while j < 32:
            acc = 0
            bm = pm[PM_BM + out[2 * j]] - BM_BIAS
            a = pm[r]
            b = pm[r + 32]
            m0 = a + bm
            m1 = b - bm
            if m1 > m0:
                pm[w] = m1
                acc |= 1
            else:
                pm[w] = m0
            m0 = a - bm
            m1 = b + bm
            if m1 > m0:
                pm[w + 1] = m1
                acc |= 2
            else:
                pm[w + 1] = m0
            r += 1
            w += 2
            bm = pm[PM_BM + out[2 * j + 2]] - BM_BIAS
            a = pm[r]
            b = pm[r + 32]
            m0 = a + bm
            m1 = b - bm
            if m1 > m0:
                pm[w] = m1
                acc |= 4
            else:
                pm[w] = m0
            m0 = a - bm
            m1 = b + bm
            if m1 > m0:
                pm[w + 1] = m1
                acc |= 8
            else:
                pm[w + 1] = m0
            r += 1
            w += 2
            bm = pm[PM_BM + out[2 * j + 4]] - BM_BIAS
            a = pm[r]
            b = pm[r + 32]
            m0 = a + bm
            m1 = b - bm
            if m1 > m0:
                pm[w] = m1
                acc |= 16
            else:
                pm[w] = m0
            m0 = a - bm
            m1 = b + bm
            if m1 > m0:
                pm[w + 1] = m1
                acc |= 32
            else:
                pm[w + 1] = m0
            r += 1
            w += 2
            bm = pm[PM_BM + out[2 * j + 6]] - BM_BIAS
            a = pm[r]
            b = pm[r + 32]
            m0 = a + bm
            m1 = b - bm
            if m1 > m0:
                pm[w] = m1
                acc |= 64
            else:
                pm[w] = m0
            m0 = a - bm
            m1 = b + bm
            if m1 > m0:
                pm[w + 1] = m1
                acc |= 128
            else:
                pm[w + 1] = m0
            r += 1
            w += 2
            surv[sb + (j >> 2)] = acc
            j += 4
        cur = nxt
        step += 1


_acs_viper = _acs
# the asm_thumb ACS on stm32 (bit exact, ~9x fewer instructions): chosen by phy.kernel
if kernel.acs is not None:
    _acs = kernel.acs
ACS_KIND = kernel.KIND


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
        x = (surv[step * SURV_BYTES + (s >> 3)] >> (s & 7)) & 1
        s = (s >> 1) | (x << 5)
        step -= 1


class Viterbi:
    """Preallocated decoder for blocks of up to max_bits data bits (+6 tail)."""

    def __init__(self, max_bits):
        self.max_steps = max_bits + 6
        self.surv = bytearray(SURV_BYTES * self.max_steps)
        self.pm = array("i", bytearray(4 * PM_WORDS))

    def decode(self, soft, nbits, dst):
        """soft: int8 pairs (bytearray/memoryview) for nbits+6 steps -> dst bits (LSB first)."""
        n = nbits + 6
        if n > self.max_steps:
            raise ValueError
        pm = self.pm
        for i in range(64):
            pm[i] = _BIAS - 100000
        pm[0] = _BIAS
        _acs(pm, soft, n, self.surv)
        _traceback(self.surv, n, dst, nbits)
