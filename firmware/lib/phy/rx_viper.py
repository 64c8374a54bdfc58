"""The receiver's per-symbol loop _sym in viper, with its state layout and helpers (phy.rx uses
it on every port but stm32, where phy.rx_thumb._sym has the same signature and bit-identical
results): matched filter _mf, coherent sync check _coh, AGC step _rescale, peak-search commit
_sync/_commit. The asm_thumb version inlines _mf, _coh and _rescale as subroutines."""

from array import array

import micropython
from micropython import const

from phy.tables import DSYNC, KNOWN, MF_TAPS, POP8, SOFT_NOM

_B = const(1 << 28)  # bias of the strobe history (phy.rx)


# outputs of the coherent check (_coh), words at W + W_CS
CS_C1I = const(0)  # first-half sum I (known symbols 0..23, biased)
CS_C1Q = const(1)
CS_C2I = const(2)  # second-half sum I (known symbols 24..47, biased)
CS_C2Q = const(3)
CS_E = const(4)  # energy / 64 of the 48 strobes
CS_C2 = const(5)  # |C|^2 / 64 over the 48
CS_CS2 = const(6)  # |Cs|^2 / 64 over the 32 sync symbols
CS_ES = const(7)  # energy / 64 of the 32 sync symbols


@micropython.viper
def _coh(hist: ptr32, zidx: int, out: ptr32):
    """Coherent correlation of the last 48 strobes with the known preamble tail + sync word.

    out[0..3] = first/second-half sums (I, Q, biased), out[4] = energy/64 of the 48,
    out[5] = |C|^2/64 over the 48, out[6] = |C|^2/64 over the 32 sync symbols only,
    out[7] = energy/64 of the 32 sync symbols.
    """
    known = ptr8(KNOWN)
    # known symbols 0..15: first half only; 16..23: first half and sync word; 24..47: second
    # half and sync word
    c1i = 0
    c1q = 0
    en2 = 0
    hk = (zidx - 48) & 127
    k = 0
    while k < 16:
        vi = hist[hk] - _B
        vq = hist[128 + hk] - _B
        e = (vi * vi + vq * vq) >> 6
        if known[k]:
            vi = 0 - vi
            vq = 0 - vq
        en2 += e
        c1i += vi
        c1q += vq
        hk = (hk + 1) & 127
        k += 1
    csi = 0
    csq = 0
    ens = 0
    while k < 24:
        vi = hist[hk] - _B
        vq = hist[128 + hk] - _B
        e = (vi * vi + vq * vq) >> 6
        if known[k]:
            vi = 0 - vi
            vq = 0 - vq
        ens += e
        csi += vi
        csq += vq
        hk = (hk + 1) & 127
        k += 1
    c1i += csi
    c1q += csq
    c2i = 0
    c2q = 0
    while k < 48:
        vi = hist[hk] - _B
        vq = hist[128 + hk] - _B
        e = (vi * vi + vq * vq) >> 6
        if known[k]:
            vi = 0 - vi
            vq = 0 - vq
        ens += e
        c2i += vi
        c2q += vq
        hk = (hk + 1) & 127
        k += 1
    csi += c2i
    csq += c2q
    en2 += ens
    cti = (c1i + c2i) >> 3
    ctq = (c1q + c2q) >> 3
    out[CS_C1I] = c1i + _B
    out[CS_C1Q] = c1q + _B
    out[CS_C2I] = c2i + _B
    out[CS_C2Q] = c2q + _B
    out[CS_E] = en2
    out[CS_C2] = cti * cti + ctq * ctq
    csi >>= 3
    csq >>= 3
    out[CS_CS2] = csi * csi + csq * csq
    out[CS_ES] = ens


_MF_TAPS = const(15)  # word index of the taps in W (words 0..14: rx_thumb's wrap scratch)


# matched-filter taps offset by 0x8000 (read unsigned through ptr16, one subtraction to sign)
_TAPS_B = array("H", (t + 0x8000 for t in MF_TAPS))


def mf_buffer():
    """The head of W: 15 words of scratch (rx_thumb copies a wrapping 22-sample window to word 4),
    then the 32 x 20 matched-filter taps as int32."""
    b = array("i", bytearray(4 * (_MF_TAPS + len(MF_TAPS))))
    for k in range(len(MF_TAPS)):
        b[_MF_TAPS + k] = MF_TAPS[k]
    return b


# atan(2^-i) in 1/65536 turns, for the CORDIC
_ATAN = array("H", (8192, 4836, 2555, 1297, 651, 326, 163, 81, 41, 20, 10, 5, 3, 1))


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


# --- receiver state array S (phy.rx.Receiver.S; rx_thumb._sym uses the same indices)
S_N0 = const(0)  # next strobe sample index (absolute, same counter as the ring write position)
S_MU = const(1)  # strobe fraction, Q16 samples
S_TINT = const(2)  # timing-loop integrator, Q24 samples per symbol (biased)
S_PI = const(3)  # previous strobe I (biased)
S_PQ = const(4)
S_LVL = const(5)  # average |I| + |Q|
S_ZSH = const(6)  # right shift applied to the matched-filter output (block AGC)
S_STATE = const(7)  # 0 search, 2 sync peak search, 1 receiving header/payload
S_DREG = const(8)  # differential-bit register (30 bits)
S_ZIDX = const(9)  # write index of the strobe history (128 entries)
S_TH0 = const(10)  # carrier phase at the centre of block 0 from the sync, 1/65536 turn (biased)
S_D0 = const(11)  # phase increment per 32-symbol block from the sync (biased)
S_CNT = const(12)  # symbols stored after the 48 known ones
S_NEED = const(13)  # symbols before the next event
S_GZ = const(14)  # gain to int8 frame-buffer units (nominal amplitude SOFT_NOM), Q16
S_BRE = const(15)  # running z^2 sum of the current block (biased)
S_BIM = const(16)
S_AMP = const(17)  # amplitude at sync (z units)
S_HOLD = const(18)  # AGC decrease hold-off
S_WPOS = const(19)  # copy of the ring write position
S_SYNCS = const(20)  # sync detections (statistics)
S_BEST = const(21)  # peak search: best |C|^2
S_SINCE = const(22)  # peak search: strobes since the best
S_WIN = const(23)  # peak search: 1 if the best also passes the 48-symbol check
S_C1I = const(24)  # correlation sums at the best candidate (biased)
S_C1Q = const(25)
S_C2I = const(26)
S_C2Q = const(27)
S_BESTE = const(28)  # peak search: sync-symbol energy at the best
S_ES = const(29)  # searching: average |z|^2 at the strobe (>> 6)
S_EM = const(30)  # searching: average |z|^2 half a symbol earlier (>> 6)
S_JH = const(31)  # hold-off after a half-symbol timing jump
S_NS = const(32)

_TKP_ACQ = const(400)
_TKP_TRK = const(100)
_TKI_TRK = const(2)
_TINT_MAX = const(25600)  # Q24: +-0.15 % of a sample per symbol (~ +-380 ppm)
_DTHR = const(13)  # differential-bit errors accepted (of 30) before the coherent check
_CTHR = const(36)  # coherent check |C|^2 >= (_CTHR / 240) * 48 * E
_CTHR2 = const(24)  # the peak must also pass the 48-symbol check at 0.1 (rejects noise peaks)
_PKCONF = const(24)  # commit when no higher sync-word peak followed within this many strobes
_DTH_MAX = const(12743)  # 70 degrees in 1/65536 turns: preamble vs sync-word phase (_sync)
_STHR = const(40)  # sync word at the peak: |Cs|^2 >= (_STHR / 160) * 32 * Es
# the header is decoded as soon as it is complete (decoding it 64 symbols later, with its phase
# interpolated instead of extrapolated, measured no better and keeps false syncs busy longer)
HDR_EV = const(60)


# --- work area W (work_buffer()): matched-filter buffer (mf_buffer layout), the coherent
# check's 8 outputs, the per-block z^2 sums, the frame buffer (int8 I/Q per symbol from the
# first known symbol; phy.rx writes the soft symbols in place from its start). Byte offsets;
# rx_thumb._sym has their values (2620, 2652, 3724) as immediates. W[0:60] (the 15 words before
# the taps) is scratch: its contents after _sym differ between the viper and asm_thumb versions.
NSYM = const(4264)  # 48 known + header + payload symbols of the longest frame (checked)
_NBLK = const((NSYM + 31) >> 5)  # 32-symbol blocks
W_SCR = const(16)  # rx_thumb copies a wrapping 22-sample matched-filter window here (word 4)
W_TAPS = const(4 * _MF_TAPS)  # the 32 x 20 matched-filter taps as int32
W_CS = const(W_TAPS + 4 * 640)  # after the scratch and the taps
W_BLK = const(W_CS + 4 * 8)
W_ZB = const(W_BLK + 4 * 2 * _NBLK)
W_SIZE = const(W_ZB + 2 * NSYM)
KNOWN_N = const(48)  # known symbols (preamble tail + sync) at the start of the frame buffer


def work_buffer():
    """The receiver's work area W (layout above), taps filled in."""
    w = bytearray(W_SIZE)
    m = mf_buffer()
    w[: 4 * len(m)] = bytes(m)
    return w


@micropython.viper
def _rescale(hist: ptr32, S: ptr32, down: int):
    """AGC step: halve (down) or double the strobe history and the peak-search state."""
    k = 0
    while k < 256:
        v = hist[k] - _B
        hist[k] = ((v >> 1) if down else (v << 1)) + _B
        k += 1
    if down:
        S[S_BESTE] = S[S_BESTE] >> 2
        k = S_C1I
        while k <= S_C2Q:
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
    S[S_BRE] = bre + _B
    S[S_BIM] = bim + _B


@micropython.viper
def _sym(ring: ptr16, S: ptr32, hist: ptr32, W: ptr8) -> int:
    """The receiver's per-symbol loop (phy.rx.Receiver): from the strobe S[S_N0] while its 11
    samples after are in the ring (written up to S[S_WPOS]): matched filter, block AGC, Gardner
    timing loop, then by state: search (strobe history, differential pre-filter, coherent check,
    entering the peak search), peak search (best sync-word peak), in frame (int8 I/Q store, z^2
    block sums). Returns 0 when the ring is used up, 1 when a frame event is due (S[S_CNT] reached
    S[S_NEED]), 2 when the peak search commits (phy.rx does the commit, _sync, then calls again).
    All state is in S (indices below), hist and the work area W (work_buffer())."""
    taps = ptr16(_TAPS_B)
    mask = 2047
    cs = ptr32(int(W) + W_CS)
    zb = ptr8(int(W) + W_ZB)
    blk = ptr32(int(W) + W_BLK)
    pop = ptr8(POP8)
    dsync = int(DSYNC)
    wpos = S[S_WPOS]
    n0 = S[S_N0]
    mu = S[S_MU]
    tint = S[S_TINT] - _B
    pi = S[S_PI] - _B
    pq = S[S_PQ] - _B
    lvl = S[S_LVL]
    zsh = S[S_ZSH]
    state = S[S_STATE]
    dreg = S[S_DREG]
    zidx = S[S_ZIDX]
    cnt = S[S_CNT]
    need = S[S_NEED]
    gz = S[S_GZ]
    hold = S[S_HOLD]
    bre = S[S_BRE] - _B
    bim = S[S_BIM] - _B
    best = S[S_BEST]
    since = S[S_SINCE]
    win = S[S_WIN]
    es = S[S_ES]
    em = S[S_EM]
    jh = S[S_JH]
    ev = 0
    while n0 + 11 <= wpos:
        # --- polyphase RRC matched filter, both rails, at the strobe n0 and half a symbol (2
        # samples) earlier: samples s_j = ring[(n0 - 11 + j) & 2047], j = 0..21; taps h_k =
        # MF_TAPS[20 * (mu >> 11) + k], k = 0..19. mid: sum of s_k * h_k (odd k -> ma, even ->
        # mb); strobe: sum of s_(k+2) * h_k (odd -> ia, even -> ib); |sums| < 2**29. Unrolled
        # when the 22 samples do not wrap at the end of the ring (rx_thumb's MF subroutine
        # reads the taps as int32 from W, mf_buffer()) ---
        tb = (mu >> 11) * 20
        ia = 0
        ib = 0
        ma = 0
        mb = 0
        hp0 = 0
        hp1 = 0
        r = (n0 - 11) & mask
        if r <= mask - 21:
            # no wrap: unrolled
            v = ring[r]
            v = (v ^ 0x8000) - 0x8000
            mb += v * (taps[tb] - 0x8000)
            v = ring[r + 1]
            v = (v ^ 0x8000) - 0x8000
            ma += v * (taps[tb + 1] - 0x8000)
            v = ring[r + 2]
            v = (v ^ 0x8000) - 0x8000
            ib += v * (taps[tb] - 0x8000)
            mb += v * (taps[tb + 2] - 0x8000)
            v = ring[r + 3]
            v = (v ^ 0x8000) - 0x8000
            ia += v * (taps[tb + 1] - 0x8000)
            ma += v * (taps[tb + 3] - 0x8000)
            v = ring[r + 4]
            v = (v ^ 0x8000) - 0x8000
            ib += v * (taps[tb + 2] - 0x8000)
            mb += v * (taps[tb + 4] - 0x8000)
            v = ring[r + 5]
            v = (v ^ 0x8000) - 0x8000
            ia += v * (taps[tb + 3] - 0x8000)
            ma += v * (taps[tb + 5] - 0x8000)
            v = ring[r + 6]
            v = (v ^ 0x8000) - 0x8000
            ib += v * (taps[tb + 4] - 0x8000)
            mb += v * (taps[tb + 6] - 0x8000)
            v = ring[r + 7]
            v = (v ^ 0x8000) - 0x8000
            ia += v * (taps[tb + 5] - 0x8000)
            ma += v * (taps[tb + 7] - 0x8000)
            v = ring[r + 8]
            v = (v ^ 0x8000) - 0x8000
            ib += v * (taps[tb + 6] - 0x8000)
            mb += v * (taps[tb + 8] - 0x8000)
            v = ring[r + 9]
            v = (v ^ 0x8000) - 0x8000
            ia += v * (taps[tb + 7] - 0x8000)
            ma += v * (taps[tb + 9] - 0x8000)
            v = ring[r + 10]
            v = (v ^ 0x8000) - 0x8000
            ib += v * (taps[tb + 8] - 0x8000)
            mb += v * (taps[tb + 10] - 0x8000)
            v = ring[r + 11]
            v = (v ^ 0x8000) - 0x8000
            ia += v * (taps[tb + 9] - 0x8000)
            ma += v * (taps[tb + 11] - 0x8000)
            v = ring[r + 12]
            v = (v ^ 0x8000) - 0x8000
            ib += v * (taps[tb + 10] - 0x8000)
            mb += v * (taps[tb + 12] - 0x8000)
            v = ring[r + 13]
            v = (v ^ 0x8000) - 0x8000
            ia += v * (taps[tb + 11] - 0x8000)
            ma += v * (taps[tb + 13] - 0x8000)
            v = ring[r + 14]
            v = (v ^ 0x8000) - 0x8000
            ib += v * (taps[tb + 12] - 0x8000)
            mb += v * (taps[tb + 14] - 0x8000)
            v = ring[r + 15]
            v = (v ^ 0x8000) - 0x8000
            ia += v * (taps[tb + 13] - 0x8000)
            ma += v * (taps[tb + 15] - 0x8000)
            v = ring[r + 16]
            v = (v ^ 0x8000) - 0x8000
            ib += v * (taps[tb + 14] - 0x8000)
            mb += v * (taps[tb + 16] - 0x8000)
            v = ring[r + 17]
            v = (v ^ 0x8000) - 0x8000
            ia += v * (taps[tb + 15] - 0x8000)
            ma += v * (taps[tb + 17] - 0x8000)
            v = ring[r + 18]
            v = (v ^ 0x8000) - 0x8000
            ib += v * (taps[tb + 16] - 0x8000)
            mb += v * (taps[tb + 18] - 0x8000)
            v = ring[r + 19]
            v = (v ^ 0x8000) - 0x8000
            ia += v * (taps[tb + 17] - 0x8000)
            ma += v * (taps[tb + 19] - 0x8000)
            v = ring[r + 20]
            v = (v ^ 0x8000) - 0x8000
            ib += v * (taps[tb + 18] - 0x8000)
            v = ring[r + 21]
            v = (v ^ 0x8000) - 0x8000
            ia += v * (taps[tb + 19] - 0x8000)
        else:
            idx = n0 - 11
            while True:
                v0 = ring[idx & mask]
                v0 = (v0 ^ 0x8000) - 0x8000
                v1 = ring[(idx + 1) & mask]
                v1 = (v1 ^ 0x8000) - 0x8000
                ib += v0 * hp0
                ia += v1 * hp1
                if idx == n0 + 9:
                    break
                h0 = taps[tb] - 0x8000
                h1 = taps[tb + 1] - 0x8000
                mb += v0 * h0
                ma += v1 * h1
                hp0 = h0
                hp1 = h1
                tb += 2
                idx += 2
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
        # |z| < 2^14 keeps every product below inside 32-bit machine ints (the Gardner error, the
        # level, the frame store), so the 64-bit unix port and the 32-bit boards agree bit for bit
        if zi > 16383:
            zi = 16383
        if zi < -16383:
            zi = -16383
        if zq > 16383:
            zq = 16383
        if zq < -16383:
            zq = -16383
        if mi > 16383:
            mi = 16383
        if mi < -16383:
            mi = -16383
        if mq > 16383:
            mq = 16383
        if mq < -16383:
            mq = -16383
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
                if cs[CS_CS2] > best:
                    best = cs[CS_CS2]
                    S[S_BESTE] = cs[CS_ES]
                    win = 1 if cs[CS_C2] * 5 >= cs[CS_E] * _CTHR2 else 0
                    since = 0
                    S[S_C1I] = cs[CS_C1I]
                    S[S_C1Q] = cs[CS_C1Q]
                    S[S_C2I] = cs[CS_C2I]
                    S[S_C2Q] = cs[CS_C2Q]
                else:
                    since += 1
                if since >= _PKCONF and (best * 5 < S[S_BESTE] * _STHR or win == 0):
                    state = 0  # no sync-word peak: back to search
                elif since >= _PKCONF:
                    ev = 2  # commit: phy.rx.Receiver._sync, then this loop goes on in frame
            else:
                x = dreg ^ dsync
                nerr = pop[x & 255] + pop[(x >> 8) & 255] + pop[(x >> 16) & 255] + pop[x >> 24]
                if nerr <= _DTHR:
                    _coh(hist, zidx, cs)
                    if cs[CS_C2] * 5 >= cs[CS_E] * _CTHR or cs[CS_CS2] * 5 >= cs[CS_ES] * _STHR:
                        state = 2
                        best = cs[CS_CS2]
                        S[S_BESTE] = cs[CS_ES]
                        since = 0
                        win = 1 if cs[CS_C2] * 5 >= cs[CS_E] * _CTHR2 else 0
                        S[S_C1I] = cs[CS_C1I]
                        S[S_C1Q] = cs[CS_C1Q]
                        S[S_C2I] = cs[CS_C2I]
                        S[S_C2Q] = cs[CS_C2Q]
        else:
            # --- in frame: store the scaled complex symbol, accumulate z^2 per block ---
            g = cnt + 48
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
    S[S_N0] = n0
    S[S_MU] = mu
    S[S_TINT] = tint + _B
    S[S_PI] = pi + _B
    S[S_PQ] = pq + _B
    S[S_LVL] = lvl
    S[S_ZSH] = zsh
    S[S_STATE] = state
    S[S_DREG] = dreg
    S[S_ZIDX] = zidx
    S[S_CNT] = cnt
    S[S_NEED] = need
    S[S_GZ] = gz
    S[S_HOLD] = hold
    S[S_BRE] = bre + _B
    S[S_BIM] = bim + _B
    S[S_BEST] = best
    S[S_SINCE] = since
    S[S_WIN] = win
    S[S_ES] = es
    S[S_EM] = em
    S[S_JH] = jh
    return ev


@micropython.viper
def _halves_agree(hist: ptr32, h0: int) -> int:
    """1 if the 16 preamble symbols and the 32 sync symbols of the window starting at strobe
    history index h0 correlate with the known symbols at phases within _DTH_MAX of each other
    and the preamble part is coherent: |P|^2 >= 0.06 * 16 * (its energy); a noise peak passes
    each of the two tests with probability ~0.4."""
    known = ptr8(KNOWN)
    ai = 0
    aq = 0
    bi = 0
    bq = 0
    ep = 0
    k = 0
    while k < 48:
        hk = (h0 + k) & 127
        vi = hist[hk] - _B
        vq = hist[128 + hk] - _B
        if known[k]:
            vi = 0 - vi
            vq = 0 - vq
        if k < 16:
            ai += vi
            aq += vq
            ep += (vi * vi + vq * vq) >> 6
        else:
            bi += vi
            bq += vq
        k += 1
    # |v| <= 16383 (clamped in _sym): the sums stay inside 32-bit ints after >> 4
    pi = ai >> 4
    pq = aq >> 4
    if (pi * pi + pq * pq) * 25 <= ep * 6:
        return 0
    d = (int(_atan2(bq, bi)) - int(_atan2(aq, ai))) & 0xFFFF
    if d >= 32768:
        d -= 65536
    return 1 if (0 - _DTH_MAX) <= d <= _DTH_MAX else 0


@micropython.viper
def _sync(S: ptr32, hist: ptr32, W: ptr8) -> int:
    """Commit of the peak search (_sym returned 2): carrier phase, frequency and amplitude from
    the best window, the known strobes and those after them into the frame buffer, state 1;
    returns 1. Returns 0 (back to search, state 0) when the 16 preamble symbols and the sync word
    of the window disagree in phase by more than _DTH_MAX (_halves_agree): on a real frame they
    differ by the carrier offset (+-200 ppm: +-13 degrees over 20 symbols) plus noise; on a noise
    peak (found by maximising the sync word's correlation) the preamble part is independent."""
    c1i = S[S_C1I] - _B
    c1q = S[S_C1Q] - _B
    c2i = S[S_C2I] - _B
    c2q = S[S_C2Q] - _B
    th1 = int(_atan2(c1q, c1i))
    th2 = int(_atan2(c2q, c2i))
    dth = (th2 - th1) & 0xFFFF
    if dth >= 32768:
        dth -= 65536
    if not _halves_agree(hist, S[S_ZIDX] - 48 - S[S_SINCE]):
        S[S_STATE] = 0
        return 0
    tha = int(_atan2(c1q + c2q, c1i + c2i))
    # phase at the centre of block 0 (known symbol 15.5; tha is at 23.5)
    S[S_TH0] = tha - dth // 3 + _B
    S[S_D0] = (dth * 4) // 3 + _B
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
    S[S_AMP] = amp
    gz = (int(SOFT_NOM) << 16) // amp
    S[S_GZ] = gz
    since = S[S_SINCE]
    _commit(hist, S[S_ZIDX], since, ptr8(int(W) + W_ZB), ptr32(int(W) + W_BLK), gz, S)
    S[S_STATE] = 1
    S[S_CNT] = since
    S[S_NEED] = HDR_EV
    S[S_SYNCS] += 1
    return 1
