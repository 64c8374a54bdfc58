"""Streaming B-PSK receiver, profile v1 (docs/phy.md section "Receiver").

rx = Receiver(on_frame=None); rx.feed(samples_u16, n) any number of times with any chunk size.
Completed frames: on_frame(buf, n, rx) is called from feed() with the payload in buf[:n]
(valid until the next frame), and rx.get_frame() returns the length of the latest unread frame
(0 if none) with its bytes in rx.frame. rx.rssi (dBuV), rx.snr (quarter-dB Es/N0) and
rx.t_sample (sample index of the frame end) describe the latest frame.
After construction nothing in feed() allocates on the heap (checked with heap_lock in tests).

Chain: per-sample kernel (DC tracker + fs/4 mixer into an int16 ring, phy.kernel) -> per symbol:
polyphase RRC matched filter at the strobe and half a symbol earlier (32 phases; _mf from rx_viper,
or rx_thumb in asm_thumb on stm32), Gardner timing loop, block AGC by shifts, sync detection
(differential pre-filter, coherent check on the last 16 preamble and 32 sync symbols, then a peak
search on the sync word; phase, frequency and amplitude from the 48 known symbols); inside a frame
each strobe is stored as int8 I/Q and z^2 is summed per 32-symbol block. Per frame (header, then
payload): blockwise non-data-aided carrier phase (angle of the block sums / 2, unwrapped from the
sync phase, smoothed, interpolated per symbol), soft symbols written in place -> header Viterbi +
CRC-8 -> payload Viterbi, de-whitening, CRC-32.
"""

import sys
from array import array

import micropython
from micropython import const

from phy import profile
from phy.crc import crc8, crc32_ok
from phy.fec import Viterbi
from phy.kernel import mix
from phy.rx_viper import _coh as _coh_viper
from phy.rx_viper import _mf as _mf_viper
from phy.rx_viper import mf_buffer
from phy.tables import COS256, DSYNC, POP8, SOFT_NOM, WHITEN, ZGAIN

# coherent sync check and matched filter: asm_thumb on stm32-class ports (bit exact with the
# viper ones), else viper
COH_KIND = "viper"
MF_KIND = "viper"
_coh = _coh_viper
_mf = _mf_viper
if sys.platform in ("pyboard", "stm32"):
    try:
        from phy.rx_thumb import _coh

        COH_KIND = "thumb"
    except (ImportError, SyntaxError, ValueError):
        pass
    try:
        from phy.rx_thumb import _mf

        MF_KIND = "thumb"
    except (ImportError, SyntaxError, ValueError):
        pass

_RING = const(2048)
_CHUNK = const(1024)
_B = const(1 << 28)  # bias for signed values kept in the state array
_B2 = const(1 << 29)  # bias of the matched-filter outputs (rx_viper._mf)
# state array indices
_N0 = const(0)  # next strobe sample index (absolute, same counter as the ring write position)
_MU = const(1)  # strobe fraction, Q16 samples
_TINT = const(2)  # timing-loop integrator, Q24 samples per symbol (biased)
_PI = const(3)  # previous strobe I (biased)
_PQ = const(4)
_LVL = const(5)  # average |I| + |Q|
_ZSH = const(6)  # right shift applied to the matched-filter output (block AGC)
_STATE = const(7)  # 0 search, 2 sync peak search, 1 receiving header/payload
_DREG = const(8)  # differential-bit register (30 bits)
_ZIDX = const(9)  # write index of the strobe history (128 entries)
_TH0 = const(10)  # carrier phase at the centre of block 0 from the sync, 1/65536 turn (biased)
_D0 = const(11)  # phase increment per 32-symbol block from the sync (biased)
_CNT = const(12)  # symbols stored after the 48 known ones
_NEED = const(13)  # symbols before the next event
_GZ = const(14)  # gain to int8 frame-buffer units (nominal amplitude SOFT_NOM), Q16
_BRE = const(15)  # running z^2 sum of the current block (biased)
_BIM = const(16)
_AMP = const(17)  # amplitude at sync (z units)
_HOLD = const(18)  # AGC decrease hold-off
_WPOS = const(19)  # copy of the ring write position
_SYNCS = const(20)  # sync detections (statistics)
_BEST = const(21)  # peak search: best |C|^2
_SINCE = const(22)  # peak search: strobes since the best
_WIN = const(23)  # peak search: 1 if the best also passes the 48-symbol check
_C1I = const(24)  # correlation sums at the best candidate (biased)
_C1Q = const(25)
_C2I = const(26)
_C2Q = const(27)
_BESTE = const(28)  # peak search: sync-symbol energy at the best
_ES = const(29)  # searching: average |z|^2 at the strobe (>> 6)
_EM = const(30)  # searching: average |z|^2 half a symbol earlier (>> 6)
_JH = const(31)  # hold-off after a half-symbol timing jump
_NS = const(32)

_TKP_ACQ = const(400)
_TKP_TRK = const(100)
_TKI_TRK = const(2)
_TINT_MAX = const(25600)  # Q24: +-0.15 % of a sample per symbol (~ +-380 ppm)
_DTHR = const(13)  # differential-bit errors accepted (of 30) before the coherent check
_CTHR = const(36)  # coherent check |C|^2 >= (_CTHR / 240) * 48 * E
_CTHR2 = const(24)  # the peak must also pass the 48-symbol check at 0.1 (rejects noise peaks)
_PKCONF = const(24)  # commit when no higher sync-word peak followed within this many strobes
_STHR = const(40)  # sync word at the peak: |Cs|^2 >= (_STHR / 160) * 32 * Es
# the header is decoded as soon as it is complete (decoding it 64 symbols later, with its phase
# interpolated instead of extrapolated, measured no better and keeps false syncs busy longer)
_HDR_EV = const(60)
_KNOWN_N = const(48)  # known symbols (preamble tail + sync) at the start of the frame buffer

# atan(2^-i) in 1/65536 turns, for the CORDIC
_ATAN = array("H", (8192, 4836, 2555, 1297, 651, 326, 163, 81, 41, 20, 10, 5, 3, 1))
_LOG2T = array(
    "H", (0, 22, 44, 63, 82, 101, 118, 134, 150, 165, 179, 193, 207, 220, 232, 244, 256)
)


@micropython.viper
def _atan2(y: int, x: int) -> int:
    """Angle of (x, y) in 1/65536 turns (0..65535)."""
    t = ptr16(_ATAN)
    a = 0
    if x < 0:
        x = 0 - x
        y = 0 - y
        a = 32768
    i = 0
    while i < 14:
        if y > 0:
            nx = x + (y >> i)
            y = y - (x >> i)
            a += t[i]
        else:
            nx = x - (y >> i)
            y = y + (x >> i)
            a -= t[i]
        x = nx
        i += 1
    return a & 0xFFFF


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
def _dewhiten(buf: ptr8, n: int):
    w = ptr8(WHITEN)
    i = 0
    while i < n:
        buf[i] ^= w[i]
        i += 1


from phy.tables import CONV_OUT as _CONV_OUT  # noqa: E402


@micropython.viper
def _rescale(hist: ptr32, S: ptr32, down: int):
    """AGC step: halve (down) or double the strobe history and the peak-search state."""
    k = 0
    while k < 256:
        v = hist[k] - _B
        hist[k] = ((v >> 1) if down else (v << 1)) + _B
        k += 1
    if down:
        S[_BESTE] = S[_BESTE] >> 2
        k = _C1I
        while k <= _C2Q:
            S[k] = ((S[k] - _B) >> 1) + _B
            k += 1


@micropython.viper
def _commit(hist: ptr32, zidx: int, since: int, zb: ptr8, blk: ptr32, gz: int, S: ptr32):
    """Copy the 48 known strobes and the `since` strobes after them into the frame buffer
    (int8 I/Q scaled by gz, Q16) and start the per-block z^2 sums."""
    n = 48 + since
    bre = 0
    bim = 0
    g = 0
    while g < n:
        hk = (zidx - n + g) & 127
        xi = hist[hk] - _B
        xq = hist[128 + hk] - _B
        if xi > 16383:
            xi = 16383
        if xi < -16383:
            xi = -16383
        if xq > 16383:
            xq = 16383
        if xq < -16383:
            xq = -16383
        xi = (xi * gz) >> 16
        xq = (xq * gz) >> 16
        if xi > 127:
            xi = 127
        if xi < -127:
            xi = -127
        if xq > 127:
            xq = 127
        if xq < -127:
            xq = -127
        zb[2 * g] = xi & 0xFF
        zb[2 * g + 1] = xq & 0xFF
        bre += xi * xi - xq * xq
        bim += (xi * xq) << 1
        if (g & 31) == 31:
            k = (g >> 5) << 1
            blk[k] = bre + _B
            blk[k + 1] = bim + _B
            bre = 0
            bim = 0
        g += 1
    S[_BRE] = bre + _B
    S[_BIM] = bim + _B


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
        self.S = array("i", bytearray(4 * _NS))
        self.hist = array("i", bytearray(4 * 256))
        n_sym = _KNOWN_N + profile.HEADER_SYMBOLS + profile.payload_symbols(profile.MAX_PAYLOAD)
        # frame buffer: int8 I/Q per symbol from the first known symbol; the soft symbols are
        # written in place from its start (header, then payload), see _derot
        self.zb = bytearray(2 * n_sym)
        self.soft = memoryview(self.zb)
        self.soft_pl = self.soft[profile.HEADER_SYMBOLS :]
        self.blk = array("i", bytearray(4 * 2 * ((n_sym + 31) >> 5)))
        self.ph = array("i", bytearray(4 * ((n_sym + 31) >> 5)))
        self.cs = array("i", bytearray(4 * 8))
        self.mfb = mf_buffer()
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
        self.frames_ok = 0
        self.crc_errors = 0
        self.header_errors = 0
        self.reset()

    def reset(self):
        S = self.S
        for i in range(_NS):
            S[i] = 0
        S[_N0] = self.st[1] + 16
        S[_TINT] = _B
        S[_PI] = _B
        S[_PQ] = _B
        S[_LVL] = 800
        S[_ZSH] = 10
        S[_BRE] = _B
        S[_BIM] = _B
        for i in range(256):
            self.hist[i] = _B

    @property
    def syncs(self):
        return self.S[_SYNCS]

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
            if st[1] >= 1 << 24:  # rebase the absolute sample counters (keeps ints small)
                st[1] -= 1 << 23
                self.S[_N0] -= 1 << 23
                self.t_sample -= 1 << 23
                self.t_end -= 1 << 23
            self.S[_WPOS] = st[1]
            while True:
                ev = self._run()
                if ev == 0:
                    break
                self._event()

    def get_frame(self):
        """Length of the latest unread frame (bytes in self.frame), or 0."""
        if self.unread:
            self.unread = False
            return self.frame_len
        return 0

    def _to_search(self):
        S = self.S
        S[_STATE] = 0
        S[_DREG] = 0

    def _event(self):
        S = self.S
        if S[_NEED] == _HDR_EV:
            g1 = _KNOWN_N + profile.HEADER_SYMBOLS
            self._soft(_KNOWN_N, g1)
            hdr = self.hdr
            self.vit.decode(self.soft, 24, hdr)
            L = hdr[0]
            if crc8(hdr, 2) != hdr[2] or (hdr[1] >> 4) != profile.PROFILE_VERSION or L == 0:
                self.header_errors += 1
                self._to_search()
                return
            self.flen = L
            S[_NEED] = profile.HEADER_SYMBOLS + profile.payload_symbols(L)
            return
        L = self.flen
        g0 = _KNOWN_N + profile.HEADER_SYMBOLS
        self._soft(g0, g0 + profile.payload_symbols(L))
        nb = (L + profile.CRC_BYTES) * 8
        fr = self.frame
        self.vit.decode(self.soft_pl, nb, fr)
        _snr_acc(self.soft_pl, fr, nb, self.acc)
        _dewhiten(fr, L + profile.CRC_BYTES)
        self._to_search()
        self.t_end = S[_WPOS]
        if not crc32_ok(fr, L):
            self.crc_errors += 1
            if self.on_crc_error is not None:
                self.on_crc_error(fr, L, self)
            return
        self.frames_ok += 1
        self.frame_len = L
        self.unread = True
        self.t_sample = S[_WPOS]
        self._metrics()
        if self.on_frame is not None:
            self.on_frame(fr, L, self)

    def _soft(self, g0, g1):
        """Carrier phase over all blocks received so far, then soft symbols for g0..g1-1."""
        S = self.S
        nb = (_KNOWN_N + S[_CNT]) >> 5
        slope = _phase(self.blk, nb, self.ph, S[_TH0] - _B, S[_D0] - _B)
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
        l2 = log2_q8(S[_AMP]) + S[_ZSH] * 256 - log2_q8(ZGAIN)
        self.rssi = ((l2 * 1541) >> 16) + RSSI_OFFSET_DB - AFE_GAIN_DB

    @micropython.viper
    def _run(self) -> int:
        ring = ptr16(self.ring)
        S = ptr32(self.S)
        hist = ptr32(self.hist)
        zb = ptr8(self.zb)
        blk = ptr32(self.blk)
        cs = ptr32(self.cs)
        mfb = ptr32(self.mfb)
        pop = ptr8(POP8)
        wpos = S[_WPOS]
        n0 = S[_N0]
        mu = S[_MU]
        tint = S[_TINT] - _B
        pi = S[_PI] - _B
        pq = S[_PQ] - _B
        lvl = S[_LVL]
        zsh = S[_ZSH]
        state = S[_STATE]
        dreg = S[_DREG]
        zidx = S[_ZIDX]
        cnt = S[_CNT]
        need = S[_NEED]
        gz = S[_GZ]
        hold = S[_HOLD]
        bre = S[_BRE] - _B
        bim = S[_BIM] - _B
        best = S[_BEST]
        since = S[_SINCE]
        win = S[_WIN]
        es = S[_ES]
        em = S[_EM]
        jh = S[_JH]
        ev = 0
        while n0 + 11 <= wpos:
            # --- polyphase matched filter at n0 - 2 (mid) and n0 (strobe): phy.rx_viper._mf,
            # asm_thumb on stm32 (strobe taps on ring[n0 - 9 + t], mid taps on ring[n0 - 11 + t],
            # t = 0..19; rail "a" = odd sample offsets, "b" = even) ---
            _mf(ring, n0, mu, mfb)
            ia = mfb[0] - _B2
            ib = mfb[1] - _B2
            ma = mfb[2] - _B2
            mb = mfb[3] - _B2
            # idx of j odd = n0 - 11 + odd: even when n0 is even -> rail "a" is I then
            if n0 & 1:
                zi = ib >> zsh
                zq = ia >> zsh
                mi = mb >> zsh
                mq = ma >> zsh
            else:
                zi = ia >> zsh
                zq = ib >> zsh
                mi = ma >> zsh
                mq = mb >> zsh
            # --- level and block AGC (search only; the strobe history is rescaled with it) ---
            a = zi if zi >= 0 else 0 - zi
            a += zq if zq >= 0 else 0 - zq
            lvl += (a - lvl) >> 3
            if state != 1:
                if lvl > 1600:
                    _rescale(hist, S, 1)
                    best >>= 2
                    zsh += 1
                    lvl >>= 1
                    zi >>= 1
                    zq >>= 1
                    mi >>= 1
                    mq >>= 1
                    pi >>= 1
                    pq >>= 1
                    hold = 24
                elif lvl < 400 and zsh > 0 and hold == 0 and state == 0:
                    _rescale(hist, S, 0)
                    zsh -= 1
                    lvl <<= 1
                    hold = 24
                if hold > 0:
                    hold -= 1
            # --- Gardner timing error, normalised by the level ---
            e = (pi - zi) * mi + (pq - zq) * mq
            l2 = (lvl * lvl) >> 12
            if l2 < 1:
                l2 = 1
            en = (e // l2) if e >= 0 else 0 - ((0 - e) // l2)
            if en > 4096:
                en = 4096
            if en < -4096:
                en = -4096
            # integrator in Q24 samples per symbol, rounded proportional term (a truncating
            # shift here biases the loop, more so at low SNR where the detector gain drops)
            if state != 1:
                # proportional only before the frame: on noise (and on a preamble still being
                # acquired) the integrator random-walks to the clamp, so it leaks to 0 here
                tint -= tint >> 4
                adj = (en * _TKP_ACQ + 128) >> 8
            else:
                tint += en * _TKI_TRK
                adj = (en * _TKP_TRK + 128) >> 8
            if tint > _TINT_MAX:
                tint = _TINT_MAX
            if tint < 0 - _TINT_MAX:
                tint = 0 - _TINT_MAX
            mu += 262144 + ((tint + 128) >> 8) + adj
            if state != 1:
                # hang-up escape: on the alternating preamble a strobe near the zero crossings
                # leaves the Gardner detector at its unstable point; when the energy half a
                # symbol earlier clearly exceeds the strobe energy, jump by half a symbol
                es += (((zi * zi + zq * zq) >> 6) - es) >> 3
                em += (((mi * mi + mq * mq) >> 6) - em) >> 3
                if jh > 0:
                    jh -= 1
                elif em > es + (es >> 1):
                    mu -= 131072
                    t = es
                    es = em
                    em = t
                    jh = 16
            n0 += mu >> 16
            mu &= 0xFFFF
            if state != 1:
                # --- history, differential pre-filter, coherent check, peak search ---
                hist[zidx] = zi + _B
                hist[128 + zidx] = zq + _B
                zidx = (zidx + 1) & 127
                d = 1 if (zi * pi + zq * pq) < 0 else 0
                dreg = ((dreg << 1) | d) & 0x3FFFFFFF
                if state == 2:
                    _coh(hist, zidx, cs)
                    if cs[6] > best:
                        best = cs[6]
                        S[_BESTE] = cs[7]
                        win = 1 if cs[5] * 5 >= cs[4] * _CTHR2 else 0
                        since = 0
                        S[_C1I] = cs[0]
                        S[_C1Q] = cs[1]
                        S[_C2I] = cs[2]
                        S[_C2Q] = cs[3]
                    else:
                        since += 1
                    if since >= _PKCONF and (best * 5 < S[_BESTE] * _STHR or win == 0):
                        state = 0  # no sync-word peak: back to search
                    elif since >= _PKCONF:
                        # --- commit: carrier phase, frequency and amplitude from the best window
                        c1i = S[_C1I] - _B
                        c1q = S[_C1Q] - _B
                        c2i = S[_C2I] - _B
                        c2q = S[_C2Q] - _B
                        th1 = int(_atan2(c1q, c1i))
                        th2 = int(_atan2(c2q, c2i))
                        tha = int(_atan2(c1q + c2q, c1i + c2i))
                        dth = (th2 - th1) & 0xFFFF
                        if dth >= 32768:
                            dth -= 65536
                        # phase at the centre of block 0 (known symbol 15.5; tha is at 23.5)
                        S[_TH0] = tha - dth // 3 + _B
                        S[_D0] = (dth * 4) // 3 + _B
                        ai = c1i + c2i
                        aq = c1q + c2q
                        if ai < 0:
                            ai = 0 - ai
                        if aq < 0:
                            aq = 0 - aq
                        if ai < aq:
                            t = ai
                            ai = aq
                            aq = t
                        amp = ((ai * 123 + aq * 51) >> 7) // 48
                        if amp < 32:
                            amp = 32
                        S[_AMP] = amp
                        gz = (int(SOFT_NOM) << 16) // amp
                        _commit(hist, zidx, since, zb, blk, gz, S)
                        bre = S[_BRE] - _B
                        bim = S[_BIM] - _B
                        state = 1
                        cnt = since
                        need = _HDR_EV
                        S[_SYNCS] += 1
                else:
                    x = dreg ^ int(DSYNC)
                    nerr = pop[x & 255] + pop[(x >> 8) & 255] + pop[(x >> 16) & 255] + pop[x >> 24]
                    if nerr <= _DTHR:
                        _coh(hist, zidx, cs)
                        if cs[5] * 5 >= cs[4] * _CTHR or cs[6] * 5 >= cs[7] * _STHR:
                            state = 2
                            best = cs[6]
                            S[_BESTE] = cs[7]
                            since = 0
                            win = 1 if cs[5] * 5 >= cs[4] * _CTHR2 else 0
                            S[_C1I] = cs[0]
                            S[_C1Q] = cs[1]
                            S[_C2I] = cs[2]
                            S[_C2Q] = cs[3]
            else:
                # --- in frame: store the scaled complex symbol, accumulate z^2 per block ---
                g = cnt + 48
                # |z| < 2^14 and gz <= 2^16 keep the products inside 32-bit machine ints
                if zi > 16383:
                    zi = 16383
                if zi < -16383:
                    zi = -16383
                if zq > 16383:
                    zq = 16383
                if zq < -16383:
                    zq = -16383
                xi = (zi * gz) >> 16
                if xi > 127:
                    xi = 127
                if xi < -127:
                    xi = -127
                xq = (zq * gz) >> 16
                if xq > 127:
                    xq = 127
                if xq < -127:
                    xq = -127
                zb[2 * g] = xi & 0xFF
                zb[2 * g + 1] = xq & 0xFF
                bre += xi * xi - xq * xq
                bim += (xi * xq) << 1
                if (g & 31) == 31:
                    k = (g >> 5) << 1
                    blk[k] = bre + _B
                    blk[k + 1] = bim + _B
                    bre = 0
                    bim = 0
                cnt += 1
                if cnt >= need:
                    ev = 1
            pi = zi
            pq = zq
            if ev:
                break
        S[_N0] = n0
        S[_MU] = mu
        S[_TINT] = tint + _B
        S[_PI] = pi + _B
        S[_PQ] = pq + _B
        S[_LVL] = lvl
        S[_ZSH] = zsh
        S[_STATE] = state
        S[_DREG] = dreg
        S[_ZIDX] = zidx
        S[_CNT] = cnt
        S[_NEED] = need
        S[_GZ] = gz
        S[_HOLD] = hold
        S[_BRE] = bre + _B
        S[_BIM] = bim + _B
        S[_BEST] = best
        S[_SINCE] = since
        S[_WIN] = win
        S[_ES] = es
        S[_EM] = em
        S[_JH] = jh
        return ev
