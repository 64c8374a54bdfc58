"""On-board self-test of the per-sample kernel: phy.selftest.run() -> True if all checks pass.

Runs the selected kernel (asm_thumb on stm32, viper elsewhere) on a fixed pseudo-random vector
with an odd start offset and compares a checksum of its output with the stored value; on stm32
the viper reference is also run and compared with the thumb result bit for bit.
"""

import sys
from array import array

EXPECTED = (8554772, 524337, 205)  # (checksum, dc, wpos); verified against a plain-Python model


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


def run(verbose=True):
    from phy import kernel
    from phy.kern_viper import mix as mix_viper

    v = _vector(203)
    got = _run(kernel.mix, v, 203)
    ok = got == EXPECTED
    if verbose:
        print("phy selftest kernel=%s got=%r expected=%r" % (kernel.KIND, got, EXPECTED))
    if kernel.KIND != "viper":
        ref = _run(mix_viper, v, 203)
        if verbose:
            print("viper reference", ref)
        ok = ok and ref == got
    return ok


if __name__ == "__main__":
    sys.exit(0 if run() else 1)
