"""A simulated STPM3x behind an in-process serial port, computing its registers from a load
scenario at the time of the meter's clock (unix_sim `hw.metrology` talks to it through the
real driver, byte for byte).

    dev = Stpm3xSim(scenario.load("household"), clock, offset_s=0)
    port = dev.serial()                      # interfaces.Serial, the driver's side
    dev.crc_error_rate = 0.1                 # fault injection (seeded); rx_error_rate too
    dev.stall_ms(5000); dev.absurd = 2; dev.reset_ic()

The IC model (docs/metrology.md): UART at 9600 Bd after reset, frames of 5 bytes with the
reflected CRC-8, the reply to a frame being the register the previous frame pointed at, the
read pointer auto-incrementing by 2 words; a frame with a bad CRC is ignored and the IC answers
DSP_CR1 (what the real one does when it loses sync). Latching (DSP_CR3 bits 21/22) integrates
the scenario's exact energy since the previous latch into accumulators counted in the IC's
LSB (the fraction carried, as the IC's internal resolution does), wrapping modulo 2**32.
Calibration: CHV1/CHC1 scale what the IC reports by cal/0.875, PHC1 delays the current by
1 us per LSB, OFA adds OFA x 64 power LSB to the active power; the simulated sensors may
carry gain, phase and offset errors for the calibration to correct.
"""

import math

from metrology import scenario as scn
from metrology import stpm3x as ic
from metrology.scenario_gen import Rng

_DEFAULTS = {
    0x00: 0x040000A0,
    0x02: 0x040000A0,
    0x04: 0x000004E0,
    0x08: 0x003FF800,
    0x0A: 0x003FF800,
    0x0C: 0x003FF800,
    0x0E: 0x003FF800,
    0x10: 0x00000FFF,
    0x12: 0x00000FFF,
    0x14: 0x00000FFF,
    0x16: 0x00000FFF,
    0x18: 0x03270327,
    0x1A: 0x03270327,
    0x24: 0x00004007,
    0x26: 0x00000683,
}
_LAST = 0x8A
_PHC_S = 1e-6  # PHC1 LSB: current delay, seconds (docs/metrology.md: our model)
_OFA_LSB = 64  # OFA LSB in power LSB (our model)


class Stpm3xSim:
    def __init__(self, sc, clock, scale=None, seed=1, offset_s=0):
        self.sc = sc
        self.clock = clock
        self.scale = scale or ic.default_scale()
        self.t0_ms = clock.now_ms()  # scenario t = offset_s
        self.offset_s = offset_s
        self.nominal_v = 230.0
        self._rng = Rng(seed)
        # sensor errors the calibration corrects (relative gain, current lag in degrees, W)
        self.sensor_gain_v = 0.0
        self.sensor_gain_i = 0.0
        self.sensor_phase_deg = 0.0
        self.sensor_offset_w = 0.0
        # fault injection
        self.crc_error_rate = 0.0  # answers whose CRC is damaged on the way to the host
        self.rx_error_rate = 0.0  # frames from the host damaged on the way to the IC
        self.absurd = 0  # the next n latches report absurd values
        self._stall_until = -1
        self.frames = 0  # frames answered
        self.latches = 0
        self.reset_ic()

    # --- fault injection -------------------------------------------------------------------------

    def begin(self):
        """Scenario time 0 = now (the accumulators keep what they counted)."""
        self.t0_ms = self.clock.now_ms()
        self.offset_s = 0
        self._t_latch = 0.0

    def stall_ms(self, ms):
        """Answer nothing for ms of the clock (frames sent meanwhile are lost)."""
        self._stall_until = self.clock.now_ms() + ms

    def reset_ic(self):
        """Power-on reset: default registers, 9600 Bd, accumulators from zero now."""
        self.regs = dict(_DEFAULTS)
        self.baud = 9600
        self.ptr = 0
        self._buf = bytearray()
        self._acc_p = 0.0  # accumulated active and reactive energy, IC LSB (float: sub-LSB)
        self._acc_q = 0.0
        self._t_latch = self._t()
        self._snap = {}
        self._latch()

    # --- the host's side -------------------------------------------------------------------------

    def serial(self):
        return SimSerial(self)

    def receive(self, data, host_baud, out):
        """Bytes from the host; replies appended to out."""
        if self.clock.now_ms() < self._stall_until:
            return
        if abs(host_baud - self.baud) * 50 > self.baud:  # UART tolerance: 2 %
            self._buf = bytearray()  # garbled at the wrong rate: nothing the IC understands
            return
        for b in data:
            self._buf.append(b)
            if len(self._buf) == 5:
                self._frame(self._buf, out)
                self._buf = bytearray()

    # --- the IC ----------------------------------------------------------------------------------

    def _t(self):
        return self.offset_s + (self.clock.now_ms() - self.t0_ms) / 1000.0

    def _frame(self, f, out):
        self.frames += 1
        damaged = self.rx_error_rate and self._rng.uniform(0, 1) < self.rx_error_rate
        if damaged or ic.crc8(f, 4, True) != f[4]:
            self.ptr = 0  # lost sync: the IC answers DSP_CR1
            self._reply(self.regs[0], out)
            return
        self._reply(self._value(self.ptr), out)
        if f[1] != ic.NONE:
            self._write(f[1], f[2] | (f[3] << 8))
        self.ptr = f[0] if f[0] != ic.NONE else (self.ptr + 2 if self.ptr + 2 <= _LAST else 0)

    def _reply(self, v, out):
        r = bytearray(5)
        r[0] = v & 0xFF
        r[1] = (v >> 8) & 0xFF
        r[2] = (v >> 16) & 0xFF
        r[3] = (v >> 24) & 0xFF
        r[4] = ic.crc8(r, 4, True)
        if self.crc_error_rate and self._rng.uniform(0, 1) < self.crc_error_rate:
            r[4] ^= 1 << (self._rng.next() & 7)
        out.extend(r)

    def _write(self, addr, half):
        reg = addr & 0xFE
        old = self.regs.get(reg, 0)
        if reg == ic.DSP_SR1 or reg == 0x22:  # status: write 1 to clear
            mask = half << 16 if addr & 1 else half
            self.regs[reg] = old & ~mask & 0xFFFFFFFF
            return
        v = (old & 0xFFFF) | (half << 16) if addr & 1 else (old & 0xFFFF0000) | half
        if reg == ic.DSP_CR3 and addr & 1:
            if half & ic.SW_RESET:
                self.reset_ic()
                return
            if half & ic.LATCH_BOTH:
                self._latch()
            v &= ~((ic.LATCH_BOTH | ic.SW_RESET) << 16)  # self-clearing bits
        self.regs[reg] = v
        if reg == ic.US_REG2 and not addr & 1:
            self.baud = 16000000 // max(half, 1)

    def _value(self, reg):
        if reg in self._snap:
            return self._snap[reg]
        return self.regs.get(reg, 0)

    def _gains(self):
        cr5 = self.regs[ic.DSP_CR5]
        kv = ic.cal_factor(cr5 & 0xFFF) / ic.cal_factor(ic.GAIN_NOMINAL) * (1 + self.sensor_gain_v)
        ki = ic.cal_factor(self.regs[ic.DSP_CR6] & 0xFFF) / ic.cal_factor(ic.GAIN_NOMINAL)
        ki *= 1 + self.sensor_gain_i
        return kv, ki

    def _latch(self):
        """Both channels' registers as of now (DSP_CR3 Latch1/Latch2)."""
        self.latches += 1
        t = self._t()
        sc = self.scale
        kv, ki = self._gains()
        phc = (self.regs.get(ic.DSP_CR4, 0) >> 12) & 0x3FF
        ofa = ic.signed((self.regs[ic.DSP_CR9] >> 12) & 0x3FF, 10)
        st = scn.State()
        self.sc.state(t, st)
        # the current's extra lag: the sensor's own (a CT's current usually leads: negative)
        # plus the IC's compensating delay of the current channel, at the line frequency
        d = self.sensor_phase_deg * math.pi / 180 + 2 * math.pi * st.f_hz * phc * _PHC_S
        if t > self._t_latch:
            p, q = self.sc.integrate(self._t_latch, t)
            p, q = p * math.cos(d) - q * math.sin(d), q * math.cos(d) + p * math.sin(d)
            off = self.sensor_offset_w * kv * ki * (t - self._t_latch)
            self._acc_p += ((p * kv * ki + off) / sc.e_ws) + ofa * _OFA_LSB * (
                t - self._t_latch
            ) * ic.FS_HZ / 2048
            self._acc_q += q * kv * ki / sc.e_ws
            vmin, vmax = self.sc.extremes(self._t_latch, t)
            thr = sc.thr_v / kv
            cr5 = self.regs[ic.DSP_CR5]
            sag = (cr5 >> 22) & 0x3FF
            swell = (cr5 >> 12) & 0x3FF
            sr1 = self.regs.get(ic.DSP_SR1, 0)
            if sag and vmin < sag * thr:
                sr1 |= 1 << 26
            if vmin < 0.05 * self.nominal_v:  # no zero crossings: "V stuck" (our model)
                sr1 |= 1 << 24
            if swell != 0x3FF and vmax > swell * thr:
                sr1 |= 1 << 28
            self.regs[ic.DSP_SR1] = sr1
        self._t_latch = t
        pw = st.p_w()
        qw = st.q_var()
        pw = pw * math.cos(d) - qw * math.sin(d)
        p_raw = int(round((pw + self.sensor_offset_w) * kv * ki / sc.p_w)) + ofa * _OFA_LSB
        v_raw = min(int(st.v_total() * kv / sc.v_v + 0.5), 0x7FFF)
        i_raw = min(int(st.i_total() * ki / sc.i_a + 0.5), 0x1FFFF)
        ea = int(math.floor(self._acc_p)) & 0xFFFFFFFF
        eq = -int(math.floor(self._acc_q)) & 0xFFFFFFFF  # the IC's reactive sign is reversed
        if self.absurd:
            self.absurd -= 1
            v_raw = 0x7FFF
            ea = (ea + 0x40000000) & 0xFFFFFFFF
        per = int(round(125000.0 / st.f_hz)) if st.v_rms > 0 else 0
        self._snap = {
            ic.DSP_REG1: per | (per << 16),
            ic.RMS1: v_raw | (i_raw << 15),
            ic.PH1_ACTIVE_E: ea,
            ic.PH1_REACTIVE_E: eq,
            ic.PH1_ACTIVE_P: p_raw & 0x0FFFFFFF,
        }


class SimSerial:
    """interfaces.Serial to the simulated IC: replies are ready as soon as a frame is written."""

    def __init__(self, dev):
        self.dev = dev
        self.baudrate = 9600
        self._rx = bytearray()
        self.written = 0

    def configure(self, baudrate, bits=8, parity=None, stop=1):
        self.baudrate = baudrate

    def write(self, buf):
        self.written += len(buf)
        self.dev.receive(buf, self.baudrate, self._rx)
        return len(buf)

    def any(self):
        return len(self._rx)

    def read(self, n):
        if not self._rx:
            return None
        out = bytes(self._rx[:n])
        self._rx = self._rx[n:]
        return out

    def readinto(self, buf):
        if not self._rx:
            return None
        n = min(len(buf), len(self._rx))
        buf[:n] = self._rx[:n]
        self._rx = self._rx[n:]
        return n

    def tx_idle(self):
        return True
