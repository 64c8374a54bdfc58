"""On-board self-test of the asm kernels: phy.selftest.run() -> True if all checks pass.

Fails at once if phy.kernel could not load the asm_thumb kernels a port needs (kernel.FAULT).
Runs the selected per-sample kernel (asm_thumb on stm32, viper elsewhere) on a fixed
pseudo-random vector with an odd start offset and compares a checksum of its output with the
stored value; on stm32 the viper reference is also run and compared with the thumb result bit for
bit. Same for the Viterbi add-compare-select (phy.fec._acs, asm_thumb on stm32) on 70 steps of
pseudo-random soft values: survivor bytes and path metrics against a stored checksum and, when
the selected one is not viper, against fec._acs_viper. And the receiver's per-symbol loop
(phy.rx._sym, asm_thumb on stm32: matched filter, AGC, timing loop, coherent sync check, peak
search, frame store) on a pseudo-random 2048-sample mixer ring from the search, peak-search and
in-frame states, with the matched-filter window wrapping at the ring's end: a checksum of the
return codes, the state, the strobe history and the work area against the stored value and,
when the selected one is not viper, against rx_viper._sym.
"""

import sys
from array import array

# the stored checksums are regression tripwires, all kept in tripwires.py
from tripwires import PHY_ACS as EXPECTED_ACS
from tripwires import PHY_MIX as EXPECTED
from tripwires import PHY_SYM as EXPECTED_SYM


def _vector(n):
    v = array("H", bytearray(2 * n))
    s = 12345
    for i in range(n):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        v[i] = 1500 + ((s >> 16) & 1023)
    return v


def _run(mix, v, n):
    ring = array("h", bytearray(2 * 256))
    st = array("i", (2048 << 8, 5, 255, 3))
    w = mix(v, n - 3, ring, st)
    c = 0
    for i in range(256):
        c = (c * 31 + (ring[i] & 0xFFFF)) & 0xFFFFFF
    return c, st[0], w


def _acs_run(acs):
    n = 70
    pm = array("i", bytearray(4 * 132))
    for i in range(64):
        pm[i] = (1 << 24) - 100000
    pm[0] = 1 << 24
    soft = bytearray(2 * n)
    s = 777
    for i in range(2 * n):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        soft[i] = (s >> 16) & 255
    surv = bytearray(8 * n)
    acs(pm, soft, n, surv)
    c = 0
    for b in surv:
        c = (c * 31 + b) & 0xFFFFFF
    d = 0
    for x in pm:
        d = (d * 31 + (x & 0xFFFFFFF)) & 0xFFFFFF
    return c, d


def _sym_run(sym):
    """The receiver's per-symbol loop on a pseudo-random mixer ring from three states: search
    (AGC, coherent checks on noise), peak search, and in frame up to a frame event; a checksum of
    the return codes, S, the strobe history and the work area after the matched-filter taps."""
    from phy import rx_viper as v

    ring = array("h", bytearray(2 * 2048))
    s = 999
    for i in range(2048):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        ring[i] = ((s >> 16) & 4095) - 2048
    S = array("i", bytearray(4 * v.S_NS))
    hist = array("i", bytearray(4 * 256))
    for i in range(256):
        hist[i] = 1 << 28
    w = v.work_buffer()
    c = 0
    S[v.S_N0] = 16
    for state, wpos in ((0, 1500), (2, 1900), (1, 4000)):
        for k in (v.S_TINT, v.S_PI, v.S_PQ, v.S_BRE, v.S_BIM, v.S_C1I, v.S_C1Q, v.S_C2I, v.S_C2Q):
            if state != 1 or k < v.S_C1I:
                S[k] = S[k] or 1 << 28
        S[v.S_STATE] = state
        S[v.S_WPOS] = wpos
        S[v.S_LVL] = S[v.S_LVL] or 800
        S[v.S_ZSH] = S[v.S_ZSH] or 10
        S[v.S_GZ] = 3000
        S[v.S_NEED] = 300
        c = (c * 31 + sym(ring, S, hist, w)) & 0xFFFFFF
        for x in S:
            c = (c * 31 + (x & 0xFFFFFFF)) & 0xFFFFFF
        for x in hist:
            c = (c * 31 + (x & 0xFFFFFFF)) & 0xFFFFFF
        for i in range(v.W_CS, v.W_ZB + 800):
            c = (c * 31 + w[i]) & 0xFFFFFF
    return c


def _check(name, kind, runner, kernel, reference, expected, verbose):
    """Run the selected kernel on its fixed vector; on a board also compare with viper."""
    got = runner(kernel)
    ok = got == expected
    if verbose:
        print("phy selftest %s=%s got=%r expected=%r" % (name, kind, got, expected))
    if kind != "viper":
        ref = runner(reference)
        if verbose:
            print("viper reference", ref)
        ok = ok and ref == got
    return ok


def run(verbose=True):
    from phy import fec, kernel, rx
    from phy.kern_viper import mix as mix_viper
    from phy.rx_viper import _sym as sym_viper

    v = _vector(203)

    def mix_run(mix):
        return _run(mix, v, 203)

    checks = (
        ("kernel", kernel.KIND, mix_run, kernel.mix, mix_viper, EXPECTED),
        ("acs", fec.ACS_KIND, _acs_run, fec._acs, fec._acs_viper, EXPECTED_ACS),
        ("sym", rx.SYM_KIND, _sym_run, rx._sym, sym_viper, EXPECTED_SYM),
    )
    ok = kernel.FAULT is None
    if not ok and verbose:
        print("phy selftest FAIL: asm_thumb kernels required but not loaded:", kernel.FAULT)
    for c in checks:
        ok = _check(*c, verbose) and ok
    return ok


if __name__ == "__main__":
    sys.exit(0 if run() else 1)
