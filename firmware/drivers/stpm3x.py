"""STPM32/33/34 over a UART (interfaces.Metrology on an interfaces.Serial).

    m = Stpm3x(UartSerial(machine.UART(2)), clock)     # or the simulated IC's serial
    ok = await m.read(sample)                           # once per metering second

Each read latches both channels and reads the sentinel (DSP_CR5, what we programmed), the line
period, RMS, DSP_SR1 (sag/swell), the active and reactive energy accumulators and the active
power in one 8-frame exchange (metrology.stpm3x.PLAN; 40 bytes each way, 3.5 ms at 115200 Bd).
Every wait is bounded by `frame_timeout_ms` on the injected clock and yields to the loop.
A failed read (bad CRC, no answer, a sentinel that is not ours, absurd values) changes
nothing: the last good raw accumulators stay, so the next good read covers the gap. Three
failures in a row re-probe the IC (it may have reset to 9600 Bd); if its configuration is
gone it reset, and its accumulators restarted from zero, which the next sample counts
(status ST_RESYNC). docs/metrology.md has the frames byte by byte.
"""

from faults import Faults
from metrology import stpm3x as ic
from metrology.sample import ST_CLIPPED, ST_NO_VOLTAGE, ST_RESYNC
from micropython import const

_N = const(8)  # frames per read
_REPROBE_AFTER = const(3)
_PROBE_BAUD = const(9600)  # the IC's rate after reset


class StpmCrcError(Exception):
    pass


class StpmTimeout(Exception):
    pass


class StpmAbsurd(Exception):
    pass


class StpmReset(Exception):
    pass


class StpmDesync(Exception):
    pass


# preallocated: recording a failure allocates nothing
_CRC = StpmCrcError()
_TIMEOUT = StpmTimeout()
_ABSURD = StpmAbsurd()
_RESET = StpmReset()
_DESYNC = StpmDesync()


class Stpm3x:
    def __init__(
        self,
        serial,
        clock,
        scale=None,
        nominal_v=230,
        max_current_a=60,
        baud=115200,
        frame_timeout_ms=20,
        name="stpm33",
    ):
        self.name = name
        self.errors = 0
        self.log = Faults(now_ms=clock.now_ms)  # bad IC answers: never strict
        self._ser = serial
        self._clock = clock
        self._baud = baud
        self._timeout = frame_timeout_ms
        self.scale = sc = scale or ic.default_scale()
        self._frames = ic.plan_frames()
        self._rx = bytearray(5 * _N)
        mv = memoryview(self._rx)
        self._reply = [mv[5 * k : 5 * k + 5] for k in range(_N)]
        self._tails = [[mv[5 * k + j : 5 * k + 5] for j in range(5)] for k in range(_N)]
        self._junk = bytearray(16)
        self._point_cr5 = bytes(ic.frame(bytearray(5), ic.DSP_CR5))
        self._nominal_mv = nominal_v * 1000
        self._v_lim_mv = 2 * nominal_v * 1000  # beyond this an RMS reading is absurd
        self._i_lim_ma = 2 * max_current_a * 1000
        # |P| limit in W, as the engine's plausibility check (1.2 Un Imax) with margin, and the
        # energy LSB that power gives in a second
        self._p_lim_w = 2 * nominal_v * max_current_a
        self._lim_lsb_s = int(self._p_lim_w / sc.e_ws) + 1
        self._lim_h = self._lim_lsb_s // 1000  # its parts: the absurd check stays in small ints
        self._lim_l = self._lim_lsb_s % 1000
        self._sag_mv = 0
        self._swell_mv = 0
        self._eact = ic.Energy(sc.e_num, sc.e_bits)
        self._ereact = ic.Energy(sc.e_num, sc.e_bits)
        self._t_last = clock.now_ms()
        # 0 not initialised, 1 running, 2 the IC reset (count from 0), 3 take the baseline
        self._state = 0
        self._fails = 0
        self._failing = False
        self._deadline = 0
        self._xch = _Exchange(self)
        self.set_calibration(ic.GAIN_NOMINAL, ic.GAIN_NOMINAL, 0, 0)

    # --- interfaces.Metrology ----------------------------------------------------------------

    def fault(self):
        return self._failing

    async def read(self, sample):
        """interfaces.Metrology: True (sample filled) or False."""
        return await self.reader(sample)

    def reader(self, sample):
        """read() without its coroutine: an awaitable -> True/False. A running IC is read
        through one preallocated awaitable (_Exchange), so the energy engine's metering second
        creates no object; probing and reconfiguring (start, after failures, after a
        calibration write) run as a coroutine first."""
        if self._state == 0 or self._fails >= _REPROBE_AFTER or self._config_dirty:
            return self._read_slow(sample)
        return self._xch.start(sample)

    async def _read_slow(self, sample):
        if self._state == 0 or self._fails >= _REPROBE_AFTER:
            if not await self._init():
                return self._fail(_TIMEOUT, "stpm3x.probe")
        if self._config_dirty:
            if not await self._write_config():
                return self._fail(_TIMEOUT, "stpm3x.config")
        return await self._xch.start(sample)

    def _check(self, sample, t):
        """The 8 replies are in: CRCs, step, sentinel, then decode (True) or a failure."""
        for k in range(_N):
            if not ic.reply_ok(self._reply[k]):
                return self._fail(_CRC, "stpm3x.crc")
        r = self._reply
        for k in range(1, _N):
            # the IC answers DSP_CR1 to a frame it got damaged (and may carry on from its
            # pointer 0): a reply with DSP_CR1's value means the exchange went out of step
            if ic.lo16(r[k]) == ic.CR1_LO and ic.hi16(r[k]) == ic.CR1_HI:
                return self._fail(_DESYNC, "stpm3x.desync")
        s = r[ic.R_SENTINEL]
        if ic.lo16(s) != self._cr5_lo or ic.hi16(s) != self._cr5_hi:
            # a valid CRC but not what we programmed: the IC may have reset; re-probe on the
            # next read (if its configuration is gone, it counts from zero)
            self._fails = _REPROBE_AFTER - 1
            return self._fail(_RESET, "stpm3x.sentinel")
        return self._decode(sample, t)

    # --- calibration (data-model rows 0x0310..0x0313, metrology.calib) ------------------------

    def set_calibration(self, gain_v, gain_i, phase_c, offset_p):
        """CHV1, CHC1 (12-bit), PHC1 (10-bit), OFA (signed 10-bit): written before next read."""
        sc = self.scale
        sag = int(0.9 * self._nominal_mv / 1000 / sc.thr_v)
        swell = int(1.1 * self._nominal_mv / 1000 / sc.thr_v + 1)
        self._sag_mv = int(sag * sc.thr_v * 1000)
        self._swell_mv = int(swell * sc.thr_v * 1000)
        self._cr5 = ic.cr5(gain_v, swell, sag)
        # its halves, compared at every read (the whole word can be a long int on 32 bits)
        self._cr5_lo = self._cr5 & 0xFFFF
        self._cr5_hi = self._cr5 >> 16
        words = (
            (ic.DSP_CR4, ic.cr4(phase_c)),
            (ic.DSP_CR6, ic.cr6(gain_i)),
            (ic.DSP_CR9, ic.cr9(offset_p)),
            (ic.DSP_CR5, self._cr5),
        )
        self._config = ()
        for addr, v in words:
            self._config += ic.write32(ic.NONE, addr, v)
        # read-back: frame k points at register k, its answer is register k - 1's
        self._verify = tuple(bytes(ic.frame(bytearray(5), a)) for a, _ in words) + (
            self._frames[-1],
        )
        self._expect = (0,) + tuple(v for _, v in words)
        self._config_dirty = True

    # --- internals -----------------------------------------------------------------------------

    def _fail(self, exc, place):
        self.errors += 1
        self._fails += 1
        self._failing = True
        self.log.record(exc, place)
        return False

    def _flush(self):
        s = self._ser
        while s.any():
            s.readinto(self._junk)

    def _start(self, tx, k):
        """Send one frame; take what of its reply is there (into slot k): bytes got, -1."""
        s = self._ser
        if s.write(tx) != 5:
            return -1
        self._deadline = self._clock.now_ms() + self._timeout
        n = s.readinto(self._tails[k][0])
        return n or 0

    def _more(self, k, got):
        """Take what arrived of reply k: bytes got now (unchanged: wait), -1 past the deadline."""
        n = self._ser.readinto(self._tails[k][got])
        if n:
            return got + n
        return -1 if self._clock.now_ms() >= self._deadline else got

    async def _xfer(self, tx, k):
        """One frame and its whole reply, bounded on the clock (probe and configuration)."""
        got = self._start(tx, k)
        while 0 <= got < 5:
            g = self._more(k, got)
            if g == got:
                await self._clock.sleep_ms(1)
            got = g
        return got == 5

    async def _probe(self):
        """Point at DSP_CR5 and read it back: its value, or None (no answer, a bad CRC, or
        DSP_CR1's value: the IC got a damaged frame)."""
        self._flush()
        if not await self._xfer(self._point_cr5, 0) or not await self._xfer(self._frames[-1], 1):
            return None
        r = self._reply[1]
        if not ic.reply_ok(r) or (ic.lo16(r) == ic.CR1_LO and ic.hi16(r) == ic.CR1_HI):
            return None
        return ic.lo16(r) | (ic.hi16(r) << 16)

    async def _init(self):
        """Find the IC at our rate or at its reset rate, move it to ours, reprogram it.
        The accumulators start over (state 2) only when the IC lost our configuration."""
        s = self._ser
        for baud in (self._baud, _PROBE_BAUD):
            s.configure(baud, 8, None, 1)
            v = await self._probe()
            if v is None:
                continue
            if baud != self._baud:
                # the IC changes rate at once: do not wait for its answer (metering-facts §1)
                div = (16000000 + self._baud // 2) // self._baud  # 0x008B at 115200
                s.write(ic.frame(bytearray(5), ic.NONE, ic.US_REG2, div))
                deadline = self._clock.now_ms() + self._timeout
                while not s.tx_idle() and self._clock.now_ms() < deadline:
                    await self._clock.sleep_ms(1)
                s.configure(self._baud, 8, None, 1)
                v = await self._probe()
                if v is None:
                    return False
            # DSP_CR5 tells: its reset value = the IC reset and its accumulators restarted
            # from zero; ours (or a half-finished write of ours) = it kept counting
            self._config_dirty = True
            if not await self._write_config():
                return False
            self._fails = 0
            if self._state == 0:
                self._state = 3  # first read: take the baseline
            elif v == ic.CR5_RESET:
                self._state = 2
                self._eact.base(0, 0)
                self._ereact.base(0, 0)
            return True
        return False

    async def _write_config(self):
        """Write DSP_CR4, CR6, CR9, CR5 and read them back (a frame the IC got damaged is
        ignored by it, and its answer would not tell)."""
        self._flush()
        for f in self._config:
            if not await self._xfer(f, 0) or not ic.reply_ok(self._reply[0]):
                return False
        for k in range(len(self._verify)):
            if not await self._xfer(self._verify[k], 0) or not ic.reply_ok(self._reply[0]):
                return False
            want = self._expect[k]
            r = self._reply[0]
            if k and (ic.lo16(r) != want & 0xFFFF or ic.hi16(r) != want >> 16):
                return False
        self._config_dirty = False
        return True

    def _decode(self, sample, t):
        r = self._reply
        sc = self.scale
        rms = r[ic.R_RMS]
        # products through ic.mulshr: every intermediate a small int on 32-bit ports too
        v_mv = ic.mulshr(ic.lo16(rms) & 0x7FFF, sc.v_num, 16)
        i_raw = (ic.hi16(rms) << 1) | (ic.lo16(rms) >> 15)
        i_ma = ic.mulshr(i_raw, sc.i_num, 16)
        pr = r[ic.R_PACT]
        p_raw = ic.signed(ic.lo16(pr) | ((ic.hi16(pr) & 0x0FFF) << 16), 28)
        p_mw = ic.mulshr(p_raw, sc.p_num, 24)
        ea = r[ic.R_EACT]
        er = r[ic.R_EREACT]
        dt = t - self._t_last
        state = self._state
        if state == 3:  # first read since boot: the baseline
            self._eact.base(ic.lo16(ea), ic.hi16(ea))
            self._ereact.base(ic.lo16(er), ic.hi16(er))
        da = self._eact.delta(ic.lo16(ea), ic.hi16(ea))
        dr = self._ereact.delta(ic.lo16(er), ic.hi16(er))
        if dt > 2000 and state == 1:
            # a gap longer than half an accumulator wrap: the power register says how many
            # whole wraps went by (energy LSB per power LSB per ms = 7812.5 / 2048 / 1000).
            # Within 2 s |expect| < 2**27 x 2000 x 78125 / 20480000 < 2**30: never a gap, so
            # the (long-int) product is only formed after one
            expect = p_raw * dt * 78125 // 20480000
            if expect > 0x40000000 or expect < -0x40000000:
                da += ((expect - da + 0x80000000) >> 32) << 32
        # absurd: RMS beyond twice the rating, power beyond 2 Un Imax, energy beyond that
        # power over the interval (plus a second of margin for latch-time jitter)
        # |d| x 1000 > L (dt + 1000)  <=>  |d| > floor(L (dt + 1000) / 1000), L = 1000 Lh + Ll
        w = dt + 1000
        lim = self._lim_h * w + self._lim_l * w // 1000
        if (
            v_mv > self._v_lim_mv
            or i_ma > self._i_lim_ma
            or abs(p_mw) > self._p_lim_w * 1000
            or abs(da) > lim
            or abs(dr) > lim
        ):
            return self._fail(_ABSURD, "stpm3x.absurd")
        status = ST_RESYNC if state != 1 else 0
        if (ic.lo16(rms) & 0x7FFF) == 0x7FFF or i_raw == 0x1FFFF:
            status |= ST_CLIPPED
        if v_mv < self._nominal_mv // 20:
            status |= ST_NO_VOLTAGE
        sample.ep_mws = self._eact.take(ic.lo16(ea), ic.hi16(ea), da)
        # the IC counts reactive energy with the opposite sign (ST's driver negates it)
        sample.eq_mvars = -self._ereact.take(ic.lo16(er), ic.hi16(er), dr)
        if dt <= 0:
            dt = 1
        sample.dt_ms = dt
        sample.v_mv = v_mv
        sample.i_ma = i_ma
        sample.p_mw = _per_s(sample.ep_mws, dt)
        sample.q_mvar = _per_s(sample.eq_mvars, dt)
        per = ic.lo16(r[ic.R_PERIOD]) & 0xFFF
        # period LSB 8 us: f = 125000 / period Hz; outside 40..70 Hz = unknown
        sample.f_mhz = 125000000 // per if 1785 <= per <= 3125 else 0
        sr1 = ic.hi16(r[ic.R_SR1])
        # the IC's detectors saw a sag (below SAG_THR) or lost the voltage's zero crossings
        # (an interruption) between two reads: the lowest RMS was at most that
        if sr1 & ic.SR1_VSTUCK:
            sample.v_min_mv = 0
        elif sr1 & ic.SR1_SAG:
            sample.v_min_mv = min(v_mv, self._sag_mv)
        else:
            sample.v_min_mv = v_mv
        sample.v_max_mv = max(v_mv, self._swell_mv) if sr1 & ic.SR1_SWELL else v_mv
        sample.status = status
        self._t_last = t
        self._state = 1
        self._fails = 0
        self._failing = False
        return True


def _per_s(e, dt):
    """floor(e * 1000 / dt) without the e * 1000 intermediate (a long int on a 32-bit port
    above about 1 kW): q * 1000 + floor(r * 1000 / dt), e = q * dt + r, 0 <= r < dt."""
    q = e // dt
    return q * 1000 + (e - q * dt) * 1000 // dt


_TRUE = StopIteration(True)  # how _Exchange returns its result to `await`, preallocated
_FALSE = StopIteration(False)


class _Exchange:
    """One read's 8-frame exchange as a reusable awaitable: `await drv._xch.start(sample)`.

    A coroutine per read would be an object per metering second; this one is made once. Each
    __next__ sends frames and takes the replies that are there; while a reply is still on the
    wire it takes one step of the clock's sleep_ms(1) (on a board: asyncio's preallocated sleep,
    which parks the task for 1 ms) and returns what that step yields, so the loop resumes it
    here afterwards. The result leaves through a preallocated StopIteration, as asyncio's own
    sleep does. A cancelled read simply starts over at the next start()."""

    def __init__(self, drv):
        self.d = drv
        self.sample = None
        self.k = 0
        self.got = -2  # -2: frame k not sent yet
        self.t = 0

    def start(self, sample):
        d = self.d
        self.sample = sample
        self.k = 0
        self.got = -2
        self.t = d._clock.now_ms()
        d._flush()
        return self

    def __iter__(self):
        return self

    def __next__(self):
        d = self.d
        while self.k < _N:
            k = self.k
            got = self.got
            if got == -2:
                got = d._start(d._frames[k], k)
            while 0 <= got < 5:
                g = d._more(k, got)
                if g == got:  # still on the wire: one step of a 1 ms sleep, then back here
                    self.got = got
                    return next(d._clock.sleep_ms(1))
                got = g
            if got < 0:
                return self._done(d._fail(_TIMEOUT, "stpm3x.timeout"))
            self.k = k + 1
            self.got = -2
        return self._done(d._check(self.sample, self.t))

    def _done(self, ok):
        self.k = _N
        e = _TRUE if ok else _FALSE
        e.__traceback__ = None
        raise e
