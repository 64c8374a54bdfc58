"""Per-sample RX front kernel, viper reference (the unix port and xtensa use this one).

mix(src, n, ring, st) -> new write position
  src  : uint16 ADC codes (array 'H' / memoryview), n samples from its start
  ring : int16 ring buffer (array 'h'), length = st[2] + 1 (power of two, multiple of 4)
  st   : array('i') [dc_q8, wpos, mask, start]; samples src[start:start+n] are used
For each sample x: t = (x << 8) - dc; y = t >> 8; dc += t >> 10 (DC tracker, ~1.6 Hz corner at
38.4 kHz); then the fs/4 mixer: I rail on even wpos, Q rail on odd wpos, sign + - - + by wpos & 3;
ring[wpos & mask] = +-y; wpos += 1. Same arithmetic as mix in kern_thumb.py (bit exact).
"""

import micropython


@micropython.viper
def mix(src: ptr16, n: int, ring: ptr16, st: ptr32) -> int:
    dc = st[0]
    w = st[1]
    mask = st[2]
    i = st[3]
    n += i
    while i < n:
        t = (src[i] << 8) - dc
        dc += t >> 10
        y = t >> 8
        if (w + 1) & 2:
            y = 0 - y
        ring[w & mask] = y
        w += 1
        i += 1
    st[0] = dc
    st[1] = w
    return w
