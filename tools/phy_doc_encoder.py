"""Independent transmitter of PHY profile v1, written from docs/phy.md alone (numpy, CPython).

It shares no code with the firmware (nothing from firmware/ is imported): every step follows a
numbered formula of docs/phy.md "Transmitter, exactly" (T1..T9), so a test that compares its
output with the firmware's DAC codes and with the worked vectors printed in the document keeps
the three in step.

    frame_bits(payload)             -> dict of the intermediate values (CRC, header, symbols)
    dac_codes(payload, phase_deg)   -> np.uint16 DAC codes at 345.6 kHz
"""

import numpy as np

FS_TX = 345600  # T1
SYMBOL_RATE = 9600
SPS = 36
CARRIER_HZ = 86400
PREAMBLE = 48
SYNC_WORD = 0x6270825D
VERSION = 1


def crc32(data):
    """T3: reflected polynomial 0xEDB88320, init 0xFFFFFFFF, final XOR 0xFFFFFFFF."""
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
    return c ^ 0xFFFFFFFF


def crc8(data):
    """T2: polynomial 0x07, MSB first (not reflected), init 0x00, no final XOR."""
    c = 0
    for b in data:
        c ^= b
        for _ in range(8):
            c = ((c << 1) ^ 0x07) & 0xFF if c & 0x80 else (c << 1) & 0xFF
    return c


def pn9(n):
    """T4: Fibonacci register s (9 bits) = 0x1FF at the start of every frame; per bit: output
    s & 1, feedback (s ^ (s >> 5)) & 1 enters at bit 8 as s shifts right. Bits fill each byte
    from its LSB."""
    s = 0x1FF
    out = bytearray(n)
    for i in range(n):
        b = 0
        for k in range(8):
            b |= (s & 1) << k
            s = (s >> 1) | (((s ^ (s >> 5)) & 1) << 8)
        out[i] = b
    return bytes(out)


def lsb_bits(data):
    """T5: bytes -> bits, least significant bit of each byte first."""
    return [(b >> k) & 1 for b in data for k in range(8)]


def conv(bits):
    """T6: K = 7, reg = (state << 1) | bit, outputs parity(reg & 0o171), parity(reg & 0o133);
    state = reg & 63, starting from 0; the caller appends the 6 tail zeros."""
    st = 0
    out = []
    for b in bits:
        reg = (st << 1) | b
        out.append(bin(reg & 0o171).count("1") & 1)
        out.append(bin(reg & 0o133).count("1") & 1)
        st = reg & 63
    return out


def frame_bits(payload):
    """T2..T7: the channel bits of one frame (bit 1 -> symbol -1) and the intermediate values."""
    payload = bytes(payload)
    n = len(payload)
    if not 1 <= n <= 255:
        raise ValueError("payload length")
    c = crc32(payload)
    body = payload + c.to_bytes(4, "little")
    hdr = bytes([n, VERSION << 4])
    hdr += bytes([crc8(hdr)])
    wh = bytes(x ^ y for x, y in zip(body, pn9(len(body))))
    pre = [k & 1 for k in range(PREAMBLE)]
    sync = [(SYNC_WORD >> (31 - k)) & 1 for k in range(32)]
    ch = conv(lsb_bits(hdr) + [0] * 6)
    cp = conv(lsb_bits(wh) + [0] * 6)
    return dict(
        crc32=c,
        header=hdr,
        whitened=wh,
        preamble=pre,
        sync=sync,
        coded_header=ch,
        coded_payload=cp,
        bits=pre + sync + ch + cp,
    )


def rrc(t, alpha=0.5):
    """T8: root-raised-cosine of roll-off alpha, t in symbols, zero for |t| > 2.5."""
    t = np.asarray(t, float)
    out = np.zeros_like(t)
    pt = np.pi * t
    den = pt * (1 - (4 * alpha * t) ** 2)
    ok = (np.abs(t) <= 2.5) & (np.abs(den) > 1e-12)
    out[ok] = (
        np.sin(pt[ok] * (1 - alpha)) + 4 * alpha * t[ok] * np.cos(pt[ok] * (1 + alpha))
    ) / den[ok]
    out[np.abs(t) < 1e-12] = 1 - alpha + 4 * alpha / np.pi
    edge = np.abs(np.abs(t) - 1 / (4 * alpha)) < 1e-12
    s = np.pi / (4 * alpha)
    out[edge] = alpha / np.sqrt(2) * ((1 + 2 / np.pi) * np.sin(s) + (1 - 2 / np.pi) * np.cos(s))
    return out


def envelope_peak():
    """T8: the largest |envelope| over all 32 patterns of 5 symbols and all 36 sample times."""
    t = (np.arange(SPS) + 0.5) / SPS - 0.5
    best = 0.0
    for pat in range(32):
        a = [1 - 2 * ((pat >> (4 - j)) & 1) for j in range(5)]
        e = sum(a[j] * rrc(t - (j - 2)) for j in range(5))
        best = max(best, float(np.max(np.abs(e))))
    return best


def dac_codes(payload, phase_deg=45.0):
    """T8..T9: DAC codes of the whole frame (36 per symbol), before the line driver."""
    bits = frame_bits(payload)["bits"]
    N = len(bits)
    n = np.arange(N * SPS)
    k = n // SPS
    i = n % SPS
    t = (i + 0.5) / SPS - 0.5

    def sym(m):
        # symbols outside the frame: m < 0 continues the preamble (bit m & 1), m >= N is +1
        b = np.where(m < 0, m & 1, np.array(bits + [0, 0])[np.clip(m, 0, N + 1)])
        return 1 - 2 * b

    e = sum(sym(k + j) * rrc(t - j) for j in range(-2, 3))
    amp = 0.95 * 2047 / envelope_peak()
    carrier = np.cos(2 * np.pi * CARRIER_HZ * i / FS_TX + np.radians(phase_deg))
    x = amp * e * carrier
    v = np.rint(x).astype(np.int64)
    # T9: half-cosine ramp over the first and the last 72 samples, Q15, floor shift
    r = np.rint(32767 * 0.5 * (1 - np.cos(np.pi * (np.arange(72) + 0.5) / 72))).astype(np.int64)
    v[:72] = (v[:72] * r) >> 15
    v[-72:] = (v[-72:] * r[::-1]) >> 15
    return (2048 + v).astype(np.uint16)
