"""Viper reference of the receiver's coherent sync check (phy.rx uses it on every port but
stm32, where phy.rx_thumb._coh has the same signature and bit-identical results)."""

import micropython
from micropython import const

from phy.tables import KNOWN

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
