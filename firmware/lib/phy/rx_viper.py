"""Viper references of the receiver's coherent sync check _coh and matched filter _mf (phy.rx
uses them on every port but stm32, where phy.rx_thumb._coh and _mf have the same signatures and
bit-identical results)."""

from array import array

import micropython
from micropython import const

from phy.tables import KNOWN, MF_TAPS

_B = const(1 << 28)  # bias of the strobe history (phy.rx)


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
    out[0] = c1i + _B
    out[1] = c1q + _B
    out[2] = c2i + _B
    out[3] = c2q + _B
    out[4] = en2
    out[5] = cti * cti + ctq * ctq
    csi >>= 3
    csq >>= 3
    out[6] = csi * csi + csq * csq
    out[7] = ens


_B2 = const(1 << 29)  # bias of the matched-filter outputs (|sum| <= 32768 * 11289 < 2**29)
_MF_TAPS = const(15)  # word index of the taps in the mf buffer (after 4 outputs, 11 scratch)


# matched-filter taps offset by 0x8000 (read unsigned through ptr16, one subtraction to sign)
_TAPS_B = array("H", (t + 0x8000 for t in MF_TAPS))


def mf_buffer():
    """The buffer _mf works in: 4 outputs, a 22-sample scratch, the 32 x 20 taps as int32."""
    b = array("i", bytearray(4 * (_MF_TAPS + len(MF_TAPS))))
    for k in range(len(MF_TAPS)):
        b[_MF_TAPS + k] = MF_TAPS[k]
    return b


@micropython.viper
def _mf(ring: ptr16, n0: int, mu: int, mf: ptr32):
    """Polyphase RRC matched filter of the receiver (phy.rx), both rails, at the strobe n0 and
    half a symbol (2 samples) earlier. ring: int16, 2048 entries; samples s_j = ring[(n0 - 11 + j)
    & 2047], j = 0..21; taps h_k = MF_TAPS[20 * (mu >> 11) + k], k = 0..19 (mu: 0..65535), which
    mf_buffer() also holds as int32 in mf[15:] (the asm_thumb _mf reads them there).
    mid: sum of s_k * h_k (odd k -> ma, even -> mb); strobe: sum of s_(k+2) * h_k (odd -> ia,
    even -> ib). mf[0..3] = ia, ib, ma, mb + 2**29 (|sums| < 2**29; mf[4..14] is scratch).
    Unrolled when the 22 samples do not wrap at the end of the ring (the receiver's former inline
    code, unchanged)."""
    taps = ptr16(_TAPS_B)
    mask = 2047
    # strobe taps on ring[n0 - 9 + t], mid taps on ring[n0 - 11 + t], t = 0..19: in pairs of
    # samples the strobe uses the previous pair's taps; even t -> rail "b"
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
    mf[0] = ia + _B2
    mf[1] = ib + _B2
    mf[2] = ma + _B2
    mf[3] = mb + _B2
