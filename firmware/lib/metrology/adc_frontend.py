"""Direct-ADC metrology front-end: interfaces.Metrology over a block source of V/I ADC codes.

    src = ...                       # .fs (pairs/s), .take() -> int16 view of 2*k codes or None,
                                    # and async .run() if a task must keep it drained
    fe = AdcFrontend(src, AdcCal(v_uv_per_code=200000, i_ua_per_code=50000))
    ok = await fe.read(sample)      # metrology.sample.Sample since the previous good read

The source yields blocks of interleaved (V, I) 12-bit codes as the ADC sampled them (a DMA ring
on a board, the waveform synthesis on unix_sim); read() runs the kernel (metrology.adc_kernel:
asm_thumb on stm32, viper elsewhere) over every block ready, then turns the period's integer
sums into the Sample's milli-units. docs/metrology_adc.md gives the formulas and the bounds.

Energies carry their remainders (fixed point, 2^-SHIFT mWs) from read to read, so the sum of the
reported increments is the floor of the exact total: no drift, however the reads fall. All
arithmetic at read time is integer; on a 64-bit port every intermediate is a small int (0 heap
bytes per read, bench/bench_metering.py); a 32-bit port needs long ints for the 2^36..2^60
products, a few allocations once per second outside any interrupt.
"""

import math
from array import array

from metrology import adc_kernel
from metrology.adc_viper import RING, ST_WORDS
from metrology.sample import ST_CLIPPED, ST_NO_VOLTAGE, ST_RESYNC

_BIG = 0x7FFFFFFF
_FOLD_N = 1 << 18  # pairs per period at most (the kernel's sums are exact below 2^19)
_FIX_BITS = 24  # fixed-point conversion factors keep 24 significant bits


class AdcCal:
    """Calibration of the analogue front end, the one place these constants live.

    v_uv_per_code, i_ua_per_code -- gain: microvolts / microamperes of the mains per ADC code
    phase_mdeg  -- phase: extra lag of the current channel (CT, anti-alias filters, the ADC's
                   V-then-I conversion order) in millidegrees at the fundamental, corrected by
                   rotating (P, Q) back by that angle
    dc_v, dc_i  -- offset: the codes of 0 V / 0 A at start-up (then tracked every read)
    p_offset_mw, q_offset_mvar -- offset: no-load power offsets subtracted from P and Q
    v_present_mv -- below this highest cycle RMS the interval is flagged ST_NO_VOLTAGE
    """

    def __init__(
        self,
        v_uv_per_code=200000,
        i_ua_per_code=50000,
        phase_mdeg=0,
        dc_v=2048,
        dc_i=2048,
        p_offset_mw=0,
        q_offset_mvar=0,
        v_present_mv=20000,
    ):
        self.v_uv_per_code = v_uv_per_code
        self.i_ua_per_code = i_ua_per_code
        self.phase_mdeg = phase_mdeg
        self.dc_v = dc_v
        self.dc_i = dc_i
        self.p_offset_mw = p_offset_mw
        self.q_offset_mvar = q_offset_mvar
        self.v_present_mv = v_present_mv


def _fix(num, den):
    """num/den as (m, s) with m / 2^s == num/den to _FIX_BITS significant bits (init only)."""
    s = 0
    while (num << s) // den < (1 << (_FIX_BITS - 1)):
        s += 1
    return ((num << s) + den // 2) // den, s


def isqrt(x):
    """floor(sqrt(x)) for an int x >= 0 (Newton's method on ints)."""
    if x <= 0:
        return 0
    r = 1 << ((_bits(x) + 1) >> 1)
    while True:
        y = (r + x // r) >> 1
        if y >= r:
            return r
        r = y


def _bits(x):
    n = 0
    while x >> n:
        n += 1
    return n


class AdcFrontend:
    name = "adc"

    def __init__(self, src, cal=None, f_nominal_mhz=50000, hys_codes=24, kernel=None):
        self._src = src
        if hasattr(src, "run"):  # a source a task must keep drained (an I2S stream, ESP32)
            self.run = src.run  # interfaces.Metrology: the metering feature supervises it
        self.cal = cal = cal or AdcCal()
        self.fs = fs = src.fs
        self._kern = kernel or adc_kernel.run
        self.errors = 0  # failed reads (no samples in the period: source stopped)
        self._fault = False
        self.st = st = array("i", bytearray(4 * ST_WORDS))
        self.ring = array("h", bytearray(4 * RING))
        for k in range(2 * RING):
            self.ring[k] = cal.dc_v
        st[11] = cal.dc_v
        st[12] = cal.dc_i
        self._dcv_q8 = cal.dc_v << 8
        self._dci_q8 = cal.dc_i << 8
        st[23] = hys_codes
        st[26] = 8192  # previous v = 0
        # a cycle counts for min/max if it spans >= 0.7 nominal period (a crossing-closed
        # cycle); without a crossing it is closed at 1.5 periods, capped by the kernel's bound
        per = fs * 1000 // f_nominal_mhz  # samples per nominal period
        st[24] = per * 7 // 10
        st[25] = min(127, per * 3 // 2)
        if st[25] <= st[24] or per < 8:
            raise ValueError("sample rate: 8..84 samples per cycle")
        self._set_delay(f_nominal_mhz)
        self._f_mhz = f_nominal_mhz
        self._reset_period()
        st[16] = 0
        # fixed-point conversions: energy mWs per code^2-sample, power mW per code^2
        kvi = cal.v_uv_per_code * cal.i_ua_per_code  # picowatts per code^2
        self._ke, self._se = _fix(kvi, fs * 1000000000)
        self._kp, self._sp = _fix(kvi, 1000000000)
        # phase correction: rotate (P, Q) by -phase, Q30 cosine and sine (init: floats allowed)
        a = cal.phase_mdeg * math.pi / 180000.0
        self._c30 = int(math.cos(a) * (1 << 30) + 0.5)
        self._s30 = int(math.sin(a) * (1 << 30) + (0.5 if a >= 0 else -0.5))
        self._rem_p = 0  # carried energy remainders, 2^-se mWs
        self._rem_q = 0
        self._rem_t = 0  # carried time remainder, 1/fs ms
        self._first = True

    def fault(self):
        return self._fault

    def _set_delay(self, f_mhz):
        # a quarter period in samples, Q8: fs / (4 f)
        dq = (self.fs * 64000 * 2 + f_mhz) // (2 * f_mhz)
        if dq < 256:
            dq = 256
        elif dq > 61 << 8:
            dq = 61 << 8
        self.st[13] = dq

    def _reset_period(self):
        st = self.st
        n = st[0]
        for k in range(11):
            st[k] = 0
        if st[16]:  # the last crossing starts the next period's frequency span
            st[17] = st[18] = st[18] - (n << 12)
            st[16] = 1
        st[21] = _BIG
        st[22] = 0
        st[27] = 0

    def drain(self):
        """Run the kernel over every block the source has ready (also callable from a task
        that wants the source's buffer emptied more often than once per read)."""
        st = self.st
        src = self._src
        while st[0] < _FOLD_N:
            b = src.take()
            if b is None:
                return
            self._kern(b, len(b) >> 1, st, self.ring)

    async def read(self, s):
        return self.measure(s)

    def measure(self, s):
        """read() without the coroutine: fill Sample s from the period since the last read."""
        self.drain()
        st = self.st
        n = st[0]
        if n == 0:
            self.errors += 1
            self._fault = True
            return False
        self._fault = False
        cal = self.cal
        sv = st[1]
        si = st[2]
        # N^2 x (mean square less the squared mean): exact DC removal over the period
        xv = n * ((st[3] << 24) + st[4]) - sv * sv
        xi = n * ((st[5] << 24) + st[6]) - si * si
        xp = n * ((st[7] << 24) + st[8]) - sv * si
        xq = n * ((st[9] << 24) + st[10]) - sv * si
        # to code^2-samples (rounded), then the phase rotation
        xp = (2 * xp + n) // (2 * n)
        xq = (2 * xq + n) // (2 * n)
        c = self._c30
        sn = self._s30
        p = (xp * c + xq * sn + (1 << 29)) >> 30
        q = (xq * c - xp * sn + (1 << 29)) >> 30
        # energies with carried remainders (p, q in code^2-samples; ke in 2^-se mWs)
        se = self._se
        a = p * self._ke - (cal.p_offset_mw * (n << se)) // self.fs + self._rem_p
        ep = a >> se
        self._rem_p = a - (ep << se)
        a = q * self._ke - (cal.q_offset_mvar * (n << se)) // self.fs + self._rem_q
        eq = a >> se
        self._rem_q = a - (eq << se)
        t = n * 1000 + self._rem_t
        dt = t // self.fs
        self._rem_t = t - dt * self.fs
        # mean powers: (x << 8) / n code^2 in Q8, times kp (2^-sp mW per code^2)
        sp = self._sp + 8
        half = 1 << (sp - 1)
        pm = ((((p << 8) // n) * self._kp + half) >> sp) - cal.p_offset_mw
        qm = ((((q << 8) // n) * self._kp + half) >> sp) - cal.q_offset_mvar
        vm = self._rms_mv(((xv // n) << 16) // n, cal.v_uv_per_code)
        im = self._rms_mv(((xi // n) << 16) // n, cal.i_ua_per_code)
        if st[21] != _BIG:
            vlo = self._rms_mv(st[21] << 16, cal.v_uv_per_code)
            vhi = self._rms_mv(st[22] << 16, cal.v_uv_per_code)
        else:  # no cycle closed in the period
            vlo = vhi = vm
        f = 0
        if st[16] >= 2 and st[18] > st[17]:
            dz = st[18] - st[17]
            f = (self.fs * 4096000 * (st[16] - 1) + dz // 2) // dz
            self._set_delay(f)
        status = ST_CLIPPED if st[27] else 0
        if vhi < cal.v_present_mv:
            status |= ST_NO_VOLTAGE
        if self._first:
            status |= ST_RESYNC
            self._first = False
        s.dt_ms = dt
        s.ep_mws = ep
        s.eq_mvars = eq
        s.v_mv = vm
        s.i_ma = im
        s.p_mw = pm
        s.q_mvar = qm
        s.f_mhz = f
        s.v_min_mv = vlo
        s.v_max_mv = vhi
        s.status = status
        self._track_dc(sv, si, n)
        self._reset_period()
        return True

    @staticmethod
    def _rms_mv(ms16, per_code):
        # ms16: mean square in code^2 << 16; its root is code << 8
        return ((isqrt(ms16) * per_code >> 8) + 500) // 1000

    def _track_dc(self, sv, si, n):
        # the offsets follow the period means with a 4-read time constant (integer IIR, Q8)
        st = self.st
        mv = (st[11] << 8) + (sv << 8) // n
        mi = (st[12] << 8) + (si << 8) // n
        self._dcv_q8 += (mv - self._dcv_q8) >> 2
        self._dci_q8 += (mi - self._dci_q8) >> 2
        st[11] = _clamp((self._dcv_q8 + 128) >> 8)
        st[12] = _clamp((self._dci_q8 + 128) >> 8)


def _clamp(c):
    # offsets stay codes 0..4095: the kernel's bounds assume |code - offset| <= 4095
    return 0 if c < 0 else (4095 if c > 4095 else c)
