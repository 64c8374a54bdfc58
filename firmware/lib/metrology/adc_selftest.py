"""On-board self-test of the direct-ADC metering kernel: adc_selftest.run() -> True if it passes.

Fails at once if metrology.adc_kernel could not load the asm_thumb kernel the port needs
(adc_kernel.FAULT). Runs the selected kernel (asm_thumb on stm32, viper elsewhere) over a fixed
pseudo-random V/I vector (a 50 Hz pair of sines plus noise and a few clipped codes) in blocks of
uneven sizes, and compares a checksum of the state words and the delay line with the stored
value (tripwires.ADC_RUN); on stm32 it also runs the viper reference and compares bit for bit.
"""

from array import array

from tripwires import ADC_RUN as EXPECTED

from metrology import adc_kernel
from metrology.adc_viper import RING, ST_SIZE, ST_WORDS
from metrology.adc_viper import run as run_viper

_BLOCKS = (160, 1, 15, 16, 17, 64, 0, 97, 230)
# a quarter of a 50 Hz cycle at 4 kHz in 16 steps of 2.5 samples, sin * 1024 (no floats)
_QSIN = (0, 100, 200, 297, 392, 483, 569, 650, 724, 792, 851, 903, 946, 980, 1004, 1019, 1024)


def _sin(p):
    # p: 1/64 cycles
    q = p & 63
    if q <= 16:
        return _QSIN[q]
    if q <= 32:
        return _QSIN[32 - q]
    if q <= 48:
        return -_QSIN[q - 32]
    return -_QSIN[64 - q]


def _vector():
    n = sum(_BLOCKS)
    v = array("h", bytearray(4 * n))
    s = 4321
    for k in range(n):
        s = (s * 1103515245 + 12345) & 0x7FFFFFFF
        p = (k * 64 * 5) // 400  # 50 Hz at 4 kHz: 80 samples a cycle
        x = 2048 + (_sin(p) * 3 >> 1) + ((s >> 16) & 7) - 3
        y = 2040 + _sin(p - 6) + ((s >> 20) & 7) - 3
        if (s >> 8) & 255 == 7:
            y = 4095
        v[2 * k] = x
        v[2 * k + 1] = y
    return v


def _run(kern):
    v = _vector()
    st = array("i", bytearray(4 * ST_WORDS))
    st[11] = 2048
    st[12] = 2040
    st[13] = (20 << 8) + 77
    st[21] = 0x7FFFFFFF
    st[23] = 24
    st[24] = 56
    st[25] = 120
    st[26] = 8192
    ring = array("h", bytearray(4 * RING))
    pos = 0
    for n in _BLOCKS:
        kern(memoryview(v)[2 * pos : 2 * (pos + n)], n, st, ring)
        pos += n
    c = 0
    for k in range(ST_SIZE):
        c = (c * 31 + (st[k] & 0xFFFFFF)) & 0xFFFFFF
    for k in range(2 * RING):
        c = (c * 31 + ring[k]) & 0xFFFFFF
    return c


def run(log=print):
    if adc_kernel.FAULT:
        log("adc selftest: kernel FAULT " + adc_kernel.FAULT)
        return False
    got = _run(adc_kernel.run)
    ok = got == EXPECTED
    if not ok:
        log("adc selftest: %s kernel checksum %d, expected %d" % (adc_kernel.KIND, got, EXPECTED))
    if adc_kernel.run is not run_viper:
        ref = _run(run_viper)
        if ref != got:
            log("adc selftest: thumb %d != viper %d" % (got, ref))
            ok = False
    return ok
