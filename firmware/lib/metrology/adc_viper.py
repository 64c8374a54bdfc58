"""Direct-ADC metering kernel, viper reference (docs/metrology_adc.md "Kernel").

run(buf, n, st, ring) -> pairs processed in this period so far (st[N])
  buf  : interleaved V/I samples (array 'h' or 'H'): buf[2k] = V code, buf[2k+1] = I code,
         12-bit ADC codes 0..4095; n pairs from the start
  st   : array('i') of ST_SIZE words, the layout below (the front-end owns and resets it)
  ring : array('h') of 2 * RING halfwords, the quarter-period delay line (kept across calls):
         raw V code of pair w at w % RING and again at w % RING + RING (the mirror lets the
         asm_thumb kernel read two neighbours with one unaligned word load, never wrapping)

Per pair (x, y): v = x - dc_v, i = y - dc_i; sums of v, i (exact), of v*v, i*i, v*i and
vd*i, vd being v delayed by a quarter period (the 90-degree shift for reactive power: linear
interpolation between ring[w - D] and ring[w - D - 1] at the delay dq = D + m/256 samples that
the front-end sets from the measured frequency); positive-going zero crossings of v with
hysteresis, timed to 1/4096 sample by linear interpolation; per-cycle mean square of v (a cycle
closes at a crossing, or after cmax samples without one); codes 0 or 4095 are counted as clipped.

Integer bounds (why nothing overflows a signed 32-bit word, hence the same result on every port):
  * |v|, |i|, |vd| <= 4095 < 2^12 since codes and dc are in 0..4095 (the front-end keeps dc
    there), so every product |v*v|, |v*i|, |vd*i| <= 4095^2 < 2^24.
  * Products are summed exactly in chunk sums of at most CHUNK = 32 pairs: |sum| < 2^29.
  * After each chunk its sum is folded into a two-word accumulator (hi, lo) in base 2^24:
    lo += chunk (|lo| < 2^24 + 2^29 < 2^30), hi += lo >> 24, lo &= 2^24 - 1. hi grows by at most
    2^5 + 1 per chunk, so by < 2 per pair: the pair count bounds it (N < 2^30 pairs). The value
    is hi * 2^24 + lo, exact (the front-end joins the words once per read).
  * sv, si: |sum| <= N * 4095 < 2^31 for N < 2^19 pairs (131 s at 4 kHz; the front-end folds
    the period at least every second).
  * Cycle sum of v*v: at most cmax <= 127 samples (the front-end checks), 127 * 4095^2 < 2^31.
  * Crossing times: (N << 12) < 2^31 for N < 2^19; the interpolation numerator (-prev) << 12
    < 2^24.
  * Quarter delay: a, b <= 4095, weights 256 - m and m sum to 256: a*(256-m) + b*m < 2^20.
"""

import micropython
from micropython import const

# state layout (word indices into st)
ST_N = const(0)  # pairs this period
ST_SV = const(1)  # sum v
ST_SI = const(2)  # sum i
ST_VV = const(3)  # sum v*v: hi word; lo word at ST_VV + 1 (base 2^24)
ST_II = const(5)  # sum i*i (hi, lo)
ST_VI = const(7)  # sum v*i (hi, lo)
ST_QI = const(9)  # sum vd*i (hi, lo): vd = v a quarter period earlier
ST_DCV = const(11)  # offset codes subtracted from V and I (the front-end tracks them)
ST_DCI = const(12)
ST_DQ = const(13)  # quarter-period delay, samples in Q8 (D = dq >> 8 in 1..62, m = dq & 255)
ST_W = const(14)  # delay-line write count (free running, masked by RING - 1)
ST_ARM = const(15)  # 1 once v went below -hys: the next v >= 0 is a positive-going crossing
ST_ZN = const(16)  # crossings this period
ST_Z0 = const(17)  # first and last crossing this period, samples since period start in Q12
ST_Z1 = const(18)
ST_CN = const(19)  # samples in the current cycle
ST_CS = const(20)  # sum v*v over the current cycle
ST_MSMIN = const(21)  # lowest / highest cycle mean square this period (code^2; 0x7FFFFFFF
# and 0 when no cycle closed)
ST_MSMAX = const(22)
ST_HYS = const(23)  # crossing hysteresis, codes
ST_CMIN = const(24)  # a cycle closed by a crossing counts for min/max only if >= cmin samples
ST_CMAX = const(25)  # a cycle without a crossing is closed (and counted) at cmax samples
ST_PREV = const(26)  # previous v + 8192 (crossing interpolation across calls)
ST_CLIP = const(27)  # samples at 0 or 4095 this period (either channel)
ST_SIZE = const(28)  # words both kernels define; the asm_thumb one keeps scratch after them
ST_WORDS = const(48)  # words to allocate
RING = const(64)
# Words the kernel reads back are never negative (prev is stored + 8192, the max starts at 0):
# a viper ptr32 load is zero-extended on a 64-bit port, so a negative word would read as a
# large positive number there and not on the M4. Words it only adds to (sums, hi words) are
# exact modulo 2^32 either way and the front-end reads them back signed through array('i').
CHUNK = const(32)


@micropython.viper
def run(buf: ptr16, n: int, st: ptr32, ring: ptr16) -> int:
    dcv = st[11]
    dci = st[12]
    dq = st[13]
    dd = dq >> 8
    m1 = dq & 255
    m0 = 256 - m1
    w = st[14]
    arm = st[15]
    hys = 0 - st[23]
    cmin = st[24]
    cmax = st[25]
    prev = st[26] - 8192
    cn = st[19]
    cs = st[20]
    k = st[0]  # index of the current pair in the period
    clip = st[27]
    sv = st[1]
    si = st[2]
    j = 0
    end = 2 * n
    while j < end:
        cend = j + 64  # CHUNK pairs
        if cend > end:
            cend = end
        avv = 0
        aii = 0
        avi = 0
        aqi = 0
        while j < cend:
            x = buf[j]
            y = buf[j + 1]
            j += 2
            if uint(x - 1) >= uint(4094):
                clip += 1
            elif uint(y - 1) >= uint(4094):
                clip += 1
            v = x - dcv
            i = y - dci
            ring[w & 63] = x
            ring[(w & 63) + 64] = x
            r = w - dd
            vd = ((ring[r & 63] * m0 + ring[(r - 1) & 63] * m1 + 128) >> 8) - dcv
            w += 1
            sv += v
            si += i
            avv += v * v
            aii += i * i
            avi += v * i
            aqi += vd * i
            ms = -1  # the mean square of a cycle closed at this pair, if any
            if arm:
                if v >= 0:
                    t = ((k - 1) << 12) + ((0 - prev) << 12) // (v - prev)
                    if st[16] == 0:
                        st[17] = t
                    st[18] = t
                    st[16] += 1
                    arm = 0
                    if cn >= cmin:
                        ms = cs // cn
                    cn = 0
                    cs = 0
            elif v < hys:
                arm = 1
            cs += v * v
            cn += 1
            if cn >= cmax:  # cmax >= 8: never at the pair of a crossing
                ms = cs // cn
                cn = 0
                cs = 0
            if ms >= 0:
                if ms < st[21]:
                    st[21] = ms
                if ms > st[22]:
                    st[22] = ms
            prev = v
            k += 1
        # fold the chunk sums into the (hi, lo) base-2^24 accumulators
        lo = st[4] + avv
        st[3] += lo >> 24
        st[4] = lo & 0xFFFFFF
        lo = st[6] + aii
        st[5] += lo >> 24
        st[6] = lo & 0xFFFFFF
        lo = st[8] + avi
        st[7] += lo >> 24
        st[8] = lo & 0xFFFFFF
        lo = st[10] + aqi
        st[9] += lo >> 24
        st[10] = lo & 0xFFFFFF
    st[0] = k
    st[1] = sv
    st[2] = si
    st[14] = w
    st[15] = arm
    st[19] = cn
    st[20] = cs
    st[26] = prev + 8192
    st[27] = clip
    return k
