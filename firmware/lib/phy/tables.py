"""Import-time tables of profile v1 (built once with floats, then integers only).

RRC pulse (alpha 0.5, truncated to +-2.5 symbols) used by TX shaping and the RX matched filter,
TX waveform table, PLL cosine table, TX ramp, whitening bytes, conv-code outputs, CRC tables.
"""

import math
from array import array

from micropython import const

from phy import profile

ALPHA_X100 = const(50)  # RRC roll-off 0.5
SPAN_X10 = const(25)  # truncated to +-2.5 symbols
NPH = const(32)  # polyphase phases per RX sample (1/128 symbol timing resolution)
NTAP = const(20)  # RX matched-filter taps per output (samples n0-9 .. n0+10)
TAP_PRE = const(9)
SOFT_NOM = const(32)  # soft value of a noise-free symbol


def rrc(t, a=ALPHA_X100 / 100):
    """Root-raised-cosine, t in symbols, peak 1 - a + 4a/pi."""
    if abs(t) * 10 > SPAN_X10:
        return 0.0
    if abs(t) < 1e-9:
        return 1 - a + 4 * a / math.pi
    if abs(abs(t) - 1 / (4 * a)) < 1e-9:
        s = math.pi / (4 * a)
        return (
            a / math.sqrt(2) * ((1 + 2 / math.pi) * math.sin(s) + (1 - 2 / math.pi) * math.cos(s))
        )
    pt = math.pi * t
    return (math.sin(pt * (1 - a)) + 4 * a * t * math.cos(pt * (1 + a))) / (
        pt * (1 - (4 * a * t) ** 2)
    )


def _rx_taps():
    # MF_TAPS[p*NTAP + j] = rrc((j - TAP_PRE - p/NPH) / 4) in Q12.
    t = array("h", bytearray(2 * NPH * NTAP))
    for p in range(NPH):
        for j in range(NTAP):
            t[p * NTAP + j] = int(round(4096 * rrc((j - TAP_PRE - p / NPH) / profile.RX_SPS)))
    return t


MF_TAPS = _rx_taps()
# z_raw of a steady unit-amplitude carrier on one rail ~ ZGAIN (sum of every other tap)
ZGAIN = sum(MF_TAPS[j] for j in range(0, NTAP, 2))


def tx_table(phase_deg=profile.TX_PHASE_DEG):
    """32 patterns (a[k-2..k+2] as bits, bit4 = a[k-2], 1 means -1) x 36 samples, uint16 DAC codes
    (docs/phy.md "Transmitter, exactly", T8).

    Symbol k covers [kT - T/2, kT + T/2); the carrier has 9 cycles per symbol, so every symbol
    interval starts with the same carrier phase, phase_deg.
    """
    sps = profile.TX_SPS
    env = []
    peak = 0.0
    for pat in range(32):
        row = []
        for i in range(sps):
            t = (i + 0.5) / sps - 0.5  # time from the symbol centre, in symbols
            e = 0.0
            for j in range(5):
                a = -1.0 if (pat >> (4 - j)) & 1 else 1.0
                e += a * rrc(t - (j - 2))
            row.append(e)
            peak = max(peak, abs(e))
        env.append(row)
    amp = profile.TX_LEVEL_PCT * (profile.DAC_MID - 1) / (100 * peak)
    tab = array("H", bytearray(2 * 32 * sps))
    w = 2 * math.pi * profile.CARRIER_HZ / profile.TX_SAMPLE_RATE_HZ
    ph = math.pi * phase_deg / 180
    for pat in range(32):
        for i in range(sps):
            c = math.cos(w * i + ph)
            tab[pat * sps + i] = profile.DAC_MID + int(round(amp * env[pat][i] * c))
    return tab


def _cos_table():
    t = array("h", bytearray(512))
    for i in range(256):
        t[i] = int(round(16384 * math.cos(2 * math.pi * i / 256)))
    return t


COS256 = _cos_table()  # Q14, index = phase in 1/256 turn


def _ramp():
    n = 2 * profile.TX_SPS
    r = array("H", bytearray(2 * n))
    for i in range(n):
        r[i] = int(round(32767 * 0.5 * (1 - math.cos(math.pi * (i + 0.5) / n))))
    return r


RAMP = _ramp()  # Q15 rising half-cosine over the first (and, reversed, last) 2 symbols


def _whiten():
    # PN9 x^9 + x^5 + 1, seed 0x1FF, LSB-first bytes (as IEEE 802.15.4g / CC1101 data whitening)
    n = profile.MAX_PAYLOAD + profile.CRC_BYTES
    w = bytearray(n)
    s = 0x1FF
    for i in range(n):
        b = 0
        for k in range(8):
            b |= (s & 1) << k
            fb = (s ^ (s >> 5)) & 1
            s = (s >> 1) | (fb << 8)
        w[i] = b
    return w


WHITEN = _whiten()


def _parity(x):
    x ^= x >> 4
    x ^= x >> 2
    x ^= x >> 1
    return x & 1


def _conv_out():
    # reg = (previous 6 bits << 1) | new bit; out = (g0 bit << 1) | g1 bit
    t = bytearray(128)
    for reg in range(128):
        t[reg] = (_parity(reg & profile.G0) << 1) | _parity(reg & profile.G1)
    return t


CONV_OUT = _conv_out()


def _crc32_table():
    t = array("H", bytearray(1024))  # [0..255] low halves, [256..511] high halves
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        t[i] = c & 0xFFFF
        t[256 + i] = c >> 16
    return t


CRC32_T = _crc32_table()


def _popcount8():
    t = bytearray(256)
    for i in range(256):
        t[i] = bin(i).count("1")
    return t


POP8 = _popcount8()


def _known():
    # the last 16 preamble symbols and the 32 sync symbols, as bits (1 = symbol -1)
    k = bytearray(48)
    for i in range(16):
        k[i] = (profile.PREAMBLE_SYMBOLS - 16 + i) & 1
    for i in range(32):
        k[16 + i] = (profile.SYNC_WORD >> (31 - i)) & 1
    return k


KNOWN = _known()


def _dsync():
    # differential bits of the last 30 sync symbol pairs (bit set = sign change), newest at bit 0
    d = 0
    for i in range(2, 32):
        d = (d << 1) | (KNOWN[16 + i] ^ KNOWN[15 + i])
    return d


DSYNC = _dsync()
