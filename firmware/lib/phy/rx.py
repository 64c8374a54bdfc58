"""Streaming B-PSK receiver, profile v1 (docs/phy.md section "Receiver").

rx = Receiver(on_frame=None); rx.feed(samples_u16, n) any number of times with any chunk size.
Completed frames: on_frame(buf, n, rx) is called from feed() with the payload in buf[:n]
(valid until the next frame), and rx.get_frame() returns the length of the latest unread frame
(0 if none) with its bytes in rx.frame. rx.rssi (dBuV), rx.snr (quarter-dB Es/N0) and
rx.t_sample (sample index of the frame end) describe the latest frame.
After construction nothing in feed() allocates on the heap (checked with heap_lock in tests).

Chain: per-sample kernel (DC tracker + fs/4 mixer into an int16 ring, phy.kernel) -> per symbol:
one call per pass over the ring of the per-symbol loop (rx_viper._sym, or rx_thumb._sym in
asm_thumb on stm32): polyphase RRC matched filter at the strobe and half a symbol earlier
(32 phases), Gardner timing loop, block AGC by shifts, sync detection
(differential pre-filter, coherent check on the last 16 preamble and 32 sync symbols, then a peak
search on the sync word; phase, frequency and amplitude from the 48 known symbols); inside a frame
each strobe is stored as int8 I/Q and z^2 is summed per 32-symbol block. Per frame (header, then
payload): blockwise non-data-aided carrier phase (angle of the block sums / 2, unwrapped from the
sync phase, smoothed, interpolated per symbol), soft symbols written in place -> header Viterbi +
CRC-8 -> payload Viterbi, de-whitening, CRC-32.
"""

from array import array

import micropython
from crc import crc8, crc32_ok
from micropython import const

from phy import kernel, profile
from phy.fec import Viterbi
from phy.kernel import mix
from phy.rx_viper import (
    HDR_EV,
    KNOWN_N,
    NSYM,
    S_AMP,
    S_BIM,
    S_BRE,
    S_CNT,
    S_D0,
    S_DREG,
    S_LVL,
    S_N0,
    S_NEED,
    S_NS,
    S_PI,
    S_PQ,
    S_STATE,
    S_SYNCS,
    S_TH0,
    S_TINT,
    S_WPOS,
    S_ZSH,
    W_BLK,
    W_ZB,
    _atan2,
    _sync,
    work_buffer,
)
from phy.rx_viper import _sym as _sym_viper
from phy.tables import COS256, WHITEN, ZGAIN

# the per-symbol loop: asm_thumb on stm32 (bit exact with the viper one), chosen by phy.kernel
_sym = _sym_viper if kernel.sym is None else kernel.sym
SYM_KIND = kernel.KIND

_RING = const(2048)
_CHUNK = const(1024)
_B = const(1 << 28)  # bias for signed values kept in the state array
_MF_BACK = const(11)  # the matched filter reads 11 samples before the strobe


_LOG2T = array(
    "H", (0, 22, 44, 63, 82, 101, 118, 134, 150, 165, 179, 193, 207, 220, 232, 244, 256)
)


def log2_q8(x):
    """log2(x) in Q8 for x >= 1, integers only."""
    if x < 1:
        return 0
    b = 0
    while x >= 512:
        x >>= 1
        b += 1
    while x < 256:
        x <<= 1
        b -= 1
    f = x - 256  # 0..255
    i = f >> 4
    lo = _LOG2T[i]
    return (b + 8) * 256 + lo + (((_LOG2T[i + 1] - lo) * (f & 15)) >> 4)


# 20 log10(VREF / 2^bits / sqrt2 in uV) - AFE gain: dBuV of a carrier of 1 ADC code amplitude
RSSI_OFFSET_DB = const(55)
AFE_GAIN_DB = const(20)  # coupler + RX amplifier gain from line to ADC (assumption, docs/phy.md)


@micropython.viper
def _snr_acc(soft: ptr8, bits: ptr8, nbits: int, out: ptr32):
    """Re-encode decoded bits and accumulate sum(s*d) (biased) and sum(s*s) over the block."""
    co = ptr8(_CONV_OUT)
    st = 0
    i = 0
    n = nbits + 6
    m1 = 0
    m2 = 0
    k = 0
    while i < n:
        b = 0
        if i < nbits:
            b = (bits[i >> 3] >> (i & 7)) & 1
        reg = (st << 1) | b
        o = co[reg]
        s = soft[k]
        s = (s ^ 0x80) - 0x80
        m2 += s * s
        if o & 2:
            m1 -= s
        else:
            m1 += s
        s = soft[k + 1]
        s = (s ^ 0x80) - 0x80
        m2 += s * s
        if o & 1:
            m1 -= s
        else:
            m1 += s
        k += 2
        st = reg & 63
        i += 1
    out[0] = m1 + _B
    out[1] = m2
    out[2] = k


@micropython.viper
def _copy32(dst: ptr32, src: ptr32, n: int):
    i = 0
    while i < n:
        dst[i] = src[i]
        i += 1


@micropython.viper
def _dewhiten(buf: ptr8, n: int):
    w = ptr8(WHITEN)
    i = 0
    while i < n:
        buf[i] ^= w[i]
        i += 1


from phy.tables import CONV_OUT as _CONV_OUT  # noqa: E402


@micropython.viper
def _phase(blk: ptr32, nb: int, ph: ptr32, th0: int, d0: int) -> int:
    """Blockwise non-data-aided carrier phase: per 32-symbol block the angle of sum(z^2) gives
    2*theta; halve, unwrap against the prediction (sync phase th0 for block 0, then the previous
    block plus the tracked increment), smooth with [1 2 1]/4. ph[b] = theta at the centre of block
    b (1/65536 turns, biased). Returns the mean increment per block."""
    d = d0
    prev = th0 - d0
    b = 0
    while b < nb:
        x = blk[2 * b] - _B
        y = blk[2 * b + 1] - _B
        t = int(_atan2(y, x)) >> 1
        target = prev + d
        m = (target - t + 16384) >> 15
        th = t + (m << 15)
        if b > 0:
            d += ((th - prev) - d) >> 2
        ph[b] = th + _B
        prev = th
        b += 1
    if nb >= 3:
        pa = ph[0] - _B
        pc = ph[1] - _B
        b = 1
        while b < nb - 1:
            pn = ph[b + 1] - _B
            ph[b] = ((pa + 2 * pc + pn) >> 2) + _B
            pa = pc
            pc = pn
            b += 1
    if nb >= 2:
        x = (ph[nb - 1] - _B) - (ph[0] - _B)
        if x >= 0:
            return x // (nb - 1)
        return 0 - ((0 - x) // (nb - 1))
    return d


@micropython.viper
def _derot(zb: ptr8, g0: int, g1: int, ph: ptr32, nb: int, slope: int):
    """Soft symbols for frame symbols g0..g1-1: rotate z by the phase interpolated between block
    centres (extrapolated with `slope` per block at the ends), write int8 to zb[g - 48] (in place:
    g - 48 < 2g, so unread symbols are never overwritten)."""
    cos = ptr16(COS256)
    last = nb - 1
    p0 = ph[0] - _B
    pl = ph[last] - _B
    g = g0
    while g < g1:
        x2 = 2 * g - 31  # half symbols from the centre of block 0
        b = x2 >> 6
        if b < 0:
            th = p0 + ((slope * x2) >> 6)
        elif b >= last:
            th = pl + ((slope * (x2 - (last << 6))) >> 6)
        else:
            pa = ph[b] - _B
            th = pa + ((((ph[b + 1] - _B) - pa) * (x2 & 63)) >> 6)
        p = ((th + 128) >> 8) & 255
        c = cos[p]
        c = (c ^ 0x8000) - 0x8000
        s = cos[(p - 64) & 255]
        s = (s ^ 0x8000) - 0x8000
        zi = zb[2 * g]
        zi = (zi ^ 0x80) - 0x80
        zq = zb[2 * g + 1]
        zq = (zq ^ 0x80) - 0x80
        r = (zi * c + zq * s + 8192) >> 14
        if r > 127:
            r = 127
        if r < -127:
            r = -127
        zb[g - 48] = r & 0xFF
        g += 1


class Receiver:
    def __init__(self, on_frame=None):
        self.on_frame = on_frame
        self.on_crc_error = None  # optional hook(buf, n, rx) for frames failing CRC-32 (benches)
        self.ring = array("h", bytearray(2 * _RING))
        self.st = array("i", (profile.ADC_MID << 8, 0, _RING - 1, 0))
        self.S = array("i", bytearray(4 * S_NS))
        self.hist = array("i", bytearray(4 * 256))
        # the loop's state when the latest peak search committed: a header that fails its checks
        # re-runs the search from there over the samples still in the ring (see _rescan)
        self.S_at_sync = array("i", bytearray(4 * S_NS))
        self.hist_at_sync = array("i", bytearray(4 * 256))
        n_sym = KNOWN_N + profile.HEADER_SYMBOLS + profile.payload_symbols(profile.MAX_PAYLOAD)
        if n_sym != NSYM:
            raise ValueError("rx_viper work area does not match the profile")
        # work area of the per-symbol loop (rx_viper.work_buffer): matched-filter taps, coherent
        # check outputs, per-block z^2 sums, then the frame buffer: int8 I/Q per symbol from the
        # first known symbol; the soft symbols are written in place from its start (header, then
        # payload), see _derot
        self.W = work_buffer()
        w = memoryview(self.W)
        self.zb = w[W_ZB : W_ZB + 2 * n_sym]
        self.blk = w[W_BLK:W_ZB]
        self.soft = self.zb
        self.soft_pl = self.soft[profile.HEADER_SYMBOLS :]
        self.ph = array("i", bytearray(4 * ((n_sym + 31) >> 5)))
        self.vit = Viterbi((profile.MAX_PAYLOAD + profile.CRC_BYTES) * 8)
        self.hdr = bytearray(4)
        self.frame = bytearray(profile.MAX_PAYLOAD + profile.CRC_BYTES)
        self.acc = array("i", (0, 0, 0))
        self.flen = 0
        self.frame_len = 0
        self.unread = False
        self.rssi = 0
        self.snr = 0
        self.t_sample = 0
        self.t_end = 0  # sample index of the end of the latest frame, CRC good or not
        self.rest = 0  # samples of the current feed() call after the chunk being processed
        self.frames_ok = 0
        self.crc_errors = 0
        self.header_errors = 0
        self.sync_rejects = 0  # peak-search commits refused by _sync's half-phase check
        self.rescans = 0  # header failures after which the search re-ran over the held samples
        self.rescan_misses = 0  # header failures whose commit point had left the ring (none seen)
        self.reset()

    def reset(self):
        S = self.S
        for i in range(S_NS):
            S[i] = 0
        S[S_N0] = self.st[1] + 16
        S[S_TINT] = _B
        S[S_PI] = _B
        S[S_PQ] = _B
        S[S_LVL] = 800
        S[S_ZSH] = 10
        S[S_BRE] = _B
        S[S_BIM] = _B
        for i in range(256):
            self.hist[i] = _B

    @property
    def syncs(self):
        return self.S[S_SYNCS]

    def feed(self, samples, n):
        """Process samples[0:n] (uint16 ADC codes); calls on_frame for each completed frame."""
        st = self.st
        off = 0
        while off < n:
            m = n - off
            if m > _CHUNK:
                m = _CHUNK
            st[3] = off
            mix(samples, m, self.ring, st)
            off += m
            self.rest = n - off
            if st[1] >= 1 << 24:  # rebase the absolute sample counters (keeps ints small)
                st[1] -= 1 << 23
                self.S[S_N0] -= 1 << 23
                self.S_at_sync[S_N0] -= 1 << 23
                self.t_sample -= 1 << 23
                self.t_end -= 1 << 23
            self.S[S_WPOS] = st[1]
            while True:
                ev = self._run()
                if ev == 0:
                    break
                self._event()

    def samples_after_end(self):
        """From on_frame: samples of the current feed() call after the frame's end on the air
        (so a caller that knows when the fed block ended can date the frame end)."""
        return self.st[1] - self.t_end + self.rest

    def get_frame(self):
        """Length of the latest unread frame (bytes in self.frame), or 0."""
        if self.unread:
            self.unread = False
            return self.frame_len
        return 0

    def _to_search(self):
        S = self.S
        S[S_STATE] = 0
        S[S_DREG] = 0

    def _event(self):
        S = self.S
        if S[S_NEED] == HDR_EV:
            g1 = KNOWN_N + profile.HEADER_SYMBOLS
            self._soft(KNOWN_N, g1)
            hdr = self.hdr
            self.vit.decode(self.soft, 24, hdr)
            L = hdr[0]
            if crc8(hdr, 2) != hdr[2] or (hdr[1] >> 4) != profile.PROFILE_VERSION or L == 0:
                self.header_errors += 1
                self._rescan()
                return
            self.flen = L
            S[S_NEED] = profile.HEADER_SYMBOLS + profile.payload_symbols(L)
            return
        L = self.flen
        g0 = KNOWN_N + profile.HEADER_SYMBOLS
        self._soft(g0, g0 + profile.payload_symbols(L))
        nb = (L + profile.CRC_BYTES) * 8
        fr = self.frame
        self.vit.decode(self.soft_pl, nb, fr)
        _snr_acc(self.soft_pl, fr, nb, self.acc)
        _dewhiten(fr, L + profile.CRC_BYTES)
        self._to_search()
        self.t_end = S[S_N0] - 2  # the last strobe + half a symbol, whatever the chunk size
        if not crc32_ok(fr, L):
            self.crc_errors += 1
            if self.on_crc_error is not None:
                self.on_crc_error(fr, L, self)
            return
        self.frames_ok += 1
        self.frame_len = L
        self.unread = True
        self.t_sample = self.t_end
        self._metrics()
        if self.on_frame is not None:
            self.on_frame(fr, L, self)

    def _rescan(self):
        """Back to search after a failed header, from the point where that sync committed (24
        strobes after its peak), with the loop state of that moment: a false sync on the noise
        just before a preamble then costs the real sync word nothing, since it comes later than
        the commit point. The header ends 36 symbols after the commit, so with feed chunks of up
        to _CHUNK samples the ring of _RING samples still holds everything from there."""
        S = self.S
        wpos = S[S_WPOS]
        if wpos - (self.S_at_sync[S_N0] - _MF_BACK) > _RING:
            self.rescan_misses += 1
            self._to_search()
            return
        syncs = S[S_SYNCS]
        _copy32(S, self.S_at_sync, S_NS)
        _copy32(self.hist, self.hist_at_sync, 256)
        S[S_SYNCS] = syncs
        S[S_WPOS] = wpos
        S[S_STATE] = 0
        self.rescans += 1

    def _soft(self, g0, g1):
        """Carrier phase over all blocks received so far, then soft symbols for g0..g1-1."""
        S = self.S
        nb = (KNOWN_N + S[S_CNT]) >> 5
        slope = _phase(self.blk, nb, self.ph, S[S_TH0] - _B, S[S_D0] - _B)
        _derot(self.zb, g0, g1, self.ph, nb, slope)

    def _metrics(self):
        acc = self.acc
        m1 = acc[0] - _B
        m2 = acc[1]
        n = acc[2]
        if m1 < 1:
            m1 = 1
        a4 = (m1 << 4) // n  # mean soft amplitude, Q4
        p8 = ((m2 // n) << 8) + (((m2 % n) << 8) // n)  # mean power, Q8
        v8 = p8 - a4 * a4  # noise variance, Q8
        if v8 < 1:
            v8 = 1
        d = log2_q8(a4 * a4) - log2_q8(2 * v8)  # Es/N0 = a^2 / (2 var)
        self.snr = (d * 3083) >> 16 if d >= 0 else -((-d * 3083) >> 16)
        S = self.S
        # carrier amplitude in ADC codes = AMP * 2^ZSH / ZGAIN; dBuV = 20 log10(codes) + offset
        l2 = log2_q8(S[S_AMP]) + S[S_ZSH] * 256 - log2_q8(ZGAIN)
        self.rssi = ((l2 * 1541) >> 16) + RSSI_OFFSET_DB - AFE_GAIN_DB

    def _run(self):
        """Per-symbol loop over the ring (0: ring used up, 1: frame event due)."""
        while True:
            ev = _sym(self.ring, self.S, self.hist, self.W)
            if ev != 2:
                return ev
            _copy32(self.S_at_sync, self.S, S_NS)
            _copy32(self.hist_at_sync, self.hist, 256)
            if not _sync(self.S, self.hist, self.W):
                self.sync_rejects += 1
