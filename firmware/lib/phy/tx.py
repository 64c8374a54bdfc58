"""B-PSK transmitter, profile v1: frame -> CRC-32 -> whitening -> FEC -> symbols -> DAC samples.

    tx = Transmitter()                  # builds the 32 x 36 waveform table once
    n = tx.prepare(frame)               # n samples at profile.TX_SAMPLE_RATE_HZ
    tx.fill(buf, start, count)          # uint16 DAC codes of samples start..start+count-1

prepare() and fill() allocate nothing; fill() indexes only preallocated tables, so a DMA
half-transfer interrupt (or a scheduled task) can refill a double buffer block by block.
The waveform: symbol k occupies samples [36k, 36k+36) centred on its RRC pulse; each sample is
a table entry chosen by the 5 symbols k-2..k+2. The first and last 2 symbols ramp up/down.
"""

import micropython
from crc import crc8, crc32_put
from micropython import const

from phy import profile
from phy.fec import conv_encode
from phy.tables import RAMP, WHITEN, tx_table

_SPS = const(36)
_MID = const(2048)


@micropython.viper
def _whiten(buf: ptr8, n: int):
    w = ptr8(WHITEN)
    i = 0
    while i < n:
        buf[i] ^= w[i]
        i += 1


@micropython.viper
def _put_bits(dst: ptr8, pos: int, word: int, nbits: int) -> int:
    # MSB first, 1 = symbol -1
    i = nbits - 1
    while i >= 0:
        dst[pos] = (word >> i) & 1
        pos += 1
        i -= 1
    return pos


class Transmitter:
    def __init__(self, phase_deg=profile.TX_PHASE_DEG):
        self.sample_rate = profile.TX_SAMPLE_RATE_HZ
        self.tab = tx_table(phase_deg)
        self.sym = bytearray(profile.frame_symbols(profile.MAX_PAYLOAD))
        self.buf = bytearray(profile.MAX_PAYLOAD + profile.CRC_BYTES)
        self.hdr = bytearray(profile.HEADER_BYTES)
        self.nsym = 0
        self.n_samples = 0

    def prepare(self, frame, n=-1):
        """Encode frame (bytes-like, 1..255 bytes, or its first n bytes); return sample count."""
        if n < 0:
            n = len(frame)
        if n < 1 or n > profile.MAX_PAYLOAD:
            raise ValueError("payload length")
        sym = self.sym
        p = 0
        for i in range(profile.PREAMBLE_SYMBOLS):
            sym[i] = i & 1
        p = profile.PREAMBLE_SYMBOLS
        p = _put_bits(sym, p, profile.SYNC_WORD >> 16, 16)
        p = _put_bits(sym, p, profile.SYNC_WORD & 0xFFFF, 16)
        h = self.hdr
        h[0] = n
        h[1] = profile.PROFILE_VERSION << 4
        h[2] = crc8(h, 2)
        p = conv_encode(h, 24, sym, p)
        b = self.buf
        for i in range(n):
            b[i] = frame[i]
        crc32_put(b, n)
        _whiten(b, n + profile.CRC_BYTES)
        p = conv_encode(b, (n + profile.CRC_BYTES) * 8, sym, p)
        self.nsym = p
        self.n_samples = p * _SPS
        return self.n_samples

    @micropython.viper
    def fill(self, out: ptr16, start: int, n: int):
        """out[0:n] = DAC codes of samples start..start+n-1 of the prepared frame."""
        tab = ptr16(self.tab)
        sym = ptr8(self.sym)
        ramp = ptr16(RAMP)
        nsym = int(self.nsym)
        total = nsym * _SPS
        k = start // _SPS
        ph = start - k * _SPS
        i = 0
        pat = 0
        if ph != 0 or n > 0:
            pat = 0
            j = k - 2
            while j <= k + 2:
                if j < 0:
                    b = j & 1
                elif j >= nsym:
                    b = 0
                else:
                    b = sym[j]
                pat = (pat << 1) | b
                j += 1
        while i < n:
            pos = start + i
            if pos >= total:
                out[i] = _MID
            else:
                v = tab[pat * _SPS + ph]
                if pos < 2 * _SPS:
                    v = _MID + (((v - _MID) * ramp[pos]) >> 15)
                elif pos >= total - 2 * _SPS:
                    v = _MID + (((v - _MID) * ramp[total - 1 - pos]) >> 15)
                out[i] = v
            i += 1
            ph += 1
            if ph == _SPS:
                ph = 0
                k += 1
                j = k + 2
                b = 0
                if j < nsym:
                    b = sym[j]
                pat = ((pat << 1) | b) & 31
