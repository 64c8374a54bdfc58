"""ST STPM32/33/34 register protocol, portable part (docs/metrology.md is the specification).

Frame (5 bytes): [read_addr][write_addr][data_lsb][data_msb][crc8]; 0xFF in an address slot =
none. Each reply carries the 32-bit register the *previous* frame addressed, LSB first, then a
CRC over those 4 bytes. CRC-8 is poly 0x07, init 0, no final xor, MSB first (SPI); on the UART
the IC wants it over bit-reversed bytes and bit-reversed back, which is the reflected CRC-8
(refin = refout = true): `crc8(buf, n, True)`.

Everything here takes its I/O as arguments; drivers/stpm3x.py moves the bytes.
"""

import crc
from micropython import const

# --- register word addresses (metering-facts §1) ---------------------------------------------
DSP_CR1 = const(0x00)
DSP_CR3 = const(0x04)
DSP_CR4 = const(0x06)  # phase compensation
DSP_CR5 = const(0x08)  # CHV1 gain, SWV_THR, SAG_THR
DSP_CR6 = const(0x0A)  # CHC1 gain, SWC_THR
DSP_CR9 = const(0x10)  # AH_UP, OFA (active power offset), OFAF
DSP_SR1 = const(0x20)
US_REG1 = const(0x24)
US_REG2 = const(0x26)
DSP_REG1 = const(0x2E)  # line period, PH1 [11:0], LSB 8 us
RMS1 = const(0x48)  # V RMS [14:0], I RMS [31:15]
PH1_ACTIVE_E = const(0x54)
PH1_REACTIVE_E = const(0x58)
PH1_ACTIVE_P = const(0x5C)
NONE = const(0xFF)

# DSP_CR3 upper half (address 0x05): Latch1 | Latch2 (bits 21, 22); SW_Reset (bit 20)
LATCH_BOTH = const(0x0060)
SW_RESET = const(0x0010)
# DSP_SR1 upper half (write 1 to clear): bit 24 V stuck (no zero crossing: an interruption),
# bits 26..29 sag start/end, swell start/end
SR1_VSTUCK = const(1 << 8)
SR1_SAG = const(1 << 10)
SR1_SWELL = const(1 << 12)
SR1_CLEAR = const(0x3D00)

# DSP_CR1's value (its reset value, which we keep): what the IC answers to a damaged frame
CR1_LO = const(0x00A0)
CR1_HI = const(0x0400)
CR5_RESET = const(0x003FF800)  # DSP_CR5 after a reset: CHV1 0x800, SWV_THR 0x3FF, SAG_THR 0

BAUD_9600 = const(0x0683)  # US_REG2[15:0] = 16 MHz / baud
BAUD_115200 = const(0x008B)


def _reflected_table():
    # CRC-8 poly 0x07 reflected (0xE0), one byte at a time; the SPI CRC is crc.crc8
    t = bytearray(256)
    for b in range(256):
        r = b
        for _ in range(8):
            r = (r >> 1) ^ 0xE0 if r & 1 else r >> 1
        t[b] = r
    return bytes(t)


_CRC_UART = _reflected_table()


def crc8(buf, n=4, uart=True):
    """CRC-8 of buf[0:n]: the UART variant (reflected) or the SPI one (CRC-8/SMBUS)."""
    if not uart:
        return crc.crc8(buf, n)
    t = _CRC_UART
    c = 0
    for i in range(n):
        c = t[c ^ buf[i]]
    return c


def frame(buf, read_addr, write_addr=NONE, data=0xFFFF, uart=True):
    """Fill buf[0:5] with one frame: read pointer, optional 16-bit write, CRC."""
    buf[0] = read_addr
    buf[1] = write_addr
    buf[2] = data & 0xFF
    buf[3] = (data >> 8) & 0xFF
    buf[4] = crc8(buf, 4, uart)
    return buf


def write32(read_addr, addr, value, uart=True):
    """The two frames that write a 32-bit register (low half at addr, high at addr + 1)."""
    return (
        bytes(frame(bytearray(5), NONE, addr, value & 0xFFFF, uart)),
        bytes(frame(bytearray(5), read_addr, addr + 1, (value >> 16) & 0xFFFF, uart)),
    )


def reply_ok(buf, uart=True):
    return crc8(buf, 4, uart) == buf[4]


def lo16(buf):
    return buf[0] | (buf[1] << 8)


def hi16(buf):
    return buf[2] | (buf[3] << 8)


# --- the per-second read plan ----------------------------------------------------------------
# (read pointer, write address, write data); reply k carries the register frame k-1 pointed at
PLAN = (
    (DSP_CR5, DSP_CR3 + 1, LATCH_BOTH),  # latch both channels, point at the sentinel
    (DSP_REG1, NONE, 0xFFFF),  # <- CR5: the sentinel (what we programmed)
    (RMS1, NONE, 0xFFFF),  # <- line period
    (DSP_SR1, NONE, 0xFFFF),  # <- RMS V and I
    (PH1_ACTIVE_E, DSP_SR1 + 1, SR1_CLEAR),  # <- SR1 (before this frame's clear)
    (PH1_REACTIVE_E, NONE, 0xFFFF),  # <- active energy
    (PH1_ACTIVE_P, NONE, 0xFFFF),  # <- reactive energy
    (NONE, NONE, 0xFFFF),  # <- active power
)
# reply index of each register in PLAN
R_SENTINEL = const(1)
R_PERIOD = const(2)
R_RMS = const(3)
R_SR1 = const(4)
R_EACT = const(5)
R_EREACT = const(6)
R_PACT = const(7)


def plan_frames(uart=True):
    """PLAN as ready-made frames (built once: the read path only copies bytes)."""
    return tuple(bytes(frame(bytearray(5), r, w, d, uart)) for r, w, d in PLAN)


# --- configuration words ---------------------------------------------------------------------


def cr5(gain_v, swell_thr, sag_thr):
    """DSP_CR5: CHV1 gain [11:0], SWV_THR [21:12], SAG_THR [31:22]."""
    return (gain_v & 0xFFF) | ((swell_thr & 0x3FF) << 12) | ((sag_thr & 0x3FF) << 22)


def cr6(gain_i, swell_i_thr=0x3FF):
    """DSP_CR6: CHC1 gain [11:0], SWC_THR [21:12]."""
    return (gain_i & 0xFFF) | ((swell_i_thr & 0x3FF) << 12)


def cr4(phase_c):
    """DSP_CR4: PHC1 [21:12], the current channel's delay (PHV1 stays 0)."""
    return (phase_c & 0x3FF) << 12


def cr9(offset_p):
    """DSP_CR9: AH_UP [11:0] = 0xFFF (ST default), OFA [21:12] signed 10-bit."""
    return 0xFFF | ((offset_p & 0x3FF) << 12)


def signed(value, bits):
    if value & (1 << (bits - 1)):
        return value - (1 << bits)
    return value


# --- scaling ---------------------------------------------------------------------------------

FS_HZ = 7812.5  # 16 MHz / 2048: the DSP's rate; energy LSB = power LSB x 2048 / FS seconds
_VREF = 1.18
GAIN_NOMINAL = const(0x800)  # cal = 0.75 + CH / 16384 = 0.875
_E_DEN_BITS = const(24)


def cal_factor(ch):
    return 0.75 + ch / 16384.0


class Scale:
    """LSBs of one front end (metering-facts §1 "LSB formulas"), from the board's divider and
    current sensor: kv = 1 + R1/R2, ks = shunt ohms (or Rb/N of a CT), ai = current gain,
    kint = the current channel's integrator gain (1 for a shunt). Computed once (floats); the
    read path uses the integer ratios."""

    def __init__(self, kv, ks, ai, kint=1.0, av=2):
        cal = cal_factor(GAIN_NOMINAL)
        self.p_w = _VREF * _VREF * kv / (av * ai * ks * kint * cal * cal * (1 << 28))
        self.e_ws = self.p_w * 2048 / FS_HZ
        self.v_v = _VREF * kv / (cal * av * (1 << 15))
        self.i_a = _VREF / (cal * ai * ks * kint * (1 << 17))
        # integer ratios: energy LSB -> mW s (num / 2**24), RMS LSB -> mV, mA (num / 2**16),
        # power LSB -> mW (num / 2**24)
        self.e_num = int(self.e_ws * 1000 * (1 << _E_DEN_BITS) + 0.5)
        self.e_bits = _E_DEN_BITS
        self.v_num = int(self.v_v * 1000 * 65536 + 0.5)
        self.i_num = int(self.i_a * 1000 * 65536 + 0.5)
        self.p_num = int(self.p_w * 1000 * (1 << 24) + 0.5)
        # one RMS threshold LSB (SAG_THR/SWV_THR compare against RMS V [14:5]) in volts
        self.thr_v = self.v_v * 32


# the front end every board and the simulated IC use unless told otherwise (docs/metrology.md):
# divider 810 kOhm / 470 Ohm, 3 mOhm shunt, current gain x2 (Ai = 2 keeps the energy
# accumulator's half-wrap at 152 Wh, 40 s at 60 A)
def default_scale():
    return Scale(1 + 810000 / 470, 0.003, 2)


def mulshr(x, num, sh):
    """floor(x * num / 2**sh) for |x| < 2**27, 0 <= num < 2**24, 12 <= sh <= 26, with every
    intermediate below 2**30 (MicroPython's small ints on 32-bit ports; the plain product is a
    long int there, an allocation per read): x = xh 2**14 + xl, num = nh 2**12 + nl, and
    floor(x num / 2**12) = xh nh 2**14 + c, c = 4 xh nl + xl nh + floor(xl nl / 2**12)."""
    xh = x >> 14
    xl = x & 0x3FFF
    nh = num >> 12
    nl = num & 0xFFF
    c = ((xh * nl) << 2) + xl * nh + ((xl * nl) >> 12)
    s = sh - 12
    return ((xh * nh) << (14 - s)) + (c >> s)


class Energy:
    """One 32-bit wrapping accumulator turned into signed milli-units with the remainder
    carried: the sum of what it delivers equals the IC's 64-bit total converted once."""

    def __init__(self, num, bits):
        self.num = num
        self.bits = bits
        self.mask = (1 << bits) - 1
        self.lo = 0  # last good raw value, as halves (no long ints on 32-bit ports)
        self.hi = 0
        self.rem = 0

    def base(self, lo, hi):
        self.lo = lo
        self.hi = hi

    def delta(self, lo, hi):
        """Signed LSB since the last good value, modulo 2**32 (no commit)."""
        dh = (hi - self.hi) & 0xFFFF  # a wrap of the high half: no 2**32-sized intermediate
        if dh >= 0x8000:
            dh -= 0x10000
        d = (dh << 16) + (lo - self.lo)
        if d >= 0x80000000:
            d -= 0x100000000
        elif d < -0x80000000:
            d += 0x100000000
        return d

    def take(self, lo, hi, d):
        """Commit raw (lo, hi) as covered by d LSB; return the milli-units they are worth."""
        self.lo = lo
        self.hi = hi
        num = self.num
        if self.bits == 24 and num < 0x1000000 and -0x10000000 < d < 0x10000000:
            # (d num + rem) split at 2**12 so every intermediate stays below 2**30 (no long
            # int per read on a 32-bit port): d num = dh nh 2**24 + (dh nl + dl nh) 2**12 + dl nl
            dh = d >> 12
            dl = d & 0xFFF
            nh = num >> 12
            nl = num & 0xFFF
            low = dl * nl + self.rem
            t1 = dh * nl + dl * nh + (low >> 12)
            self.rem = ((t1 & 0xFFF) << 12) | (low & 0xFFF)
            return dh * nh + (t1 >> 12)
        x = d * num + self.rem  # 2**28 LSB or more (a read over > 3 s at 23 kW): long int
        self.rem = x & self.mask  # floor division: the remainder is always >= 0
        return x >> self.bits
