"""Plain-Python model of the direct-ADC metering kernel (metrology.adc_viper.run), written from
its docstring: the sums kept as unbounded ints, the crossings and cycles as described. Used to
check the viper kernel (and, through it, the asm_thumb one) word for word. And Replay, a block
source over one preallocated second of codes (the tests' and bench/bench_adc.py's)."""

RING = 64


def model(buf, n, st, ring):
    """Same contract as adc_viper.run, on lists (st, ring modified in place)."""
    dcv, dci, dq = st[11], st[12], st[13]
    d, m = dq >> 8, dq & 255
    hys, cmin, cmax = st[23], st[24], st[25]
    prev = st[26] - 8192
    sums = [0, 0, 0, 0]
    for k in range(n):
        x, y = buf[2 * k], buf[2 * k + 1]
        if x in (0, 4095) or y in (0, 4095) or x > 4095 or y > 4095:
            st[27] += 1
        v, i = x - dcv, y - dci
        w = st[14]
        ring[w % RING] = x
        ring[w % RING + RING] = x
        a, b = ring[(w - d) % RING], ring[(w - d - 1) % RING]
        vd = ((a * (256 - m) + b * m + 128) >> 8) - dcv
        st[14] = w + 1
        st[1] += v
        st[2] += i
        sums[0] += v * v
        sums[1] += i * i
        sums[2] += v * i
        sums[3] += vd * i
        if st[15]:
            if v >= 0:
                t = ((st[0] - 1) << 12) + ((-prev) << 12) // (v - prev)
                if st[16] == 0:
                    st[17] = t
                st[18] = t
                st[16] += 1
                st[15] = 0
                if st[19] >= cmin:
                    _cycle(st)
                st[19] = st[20] = 0
        elif v < -hys:
            st[15] = 1
        st[20] += v * v
        st[19] += 1
        if st[19] >= cmax:
            _cycle(st)
            st[19] = st[20] = 0
        prev = v
        st[0] += 1
    for j, s in enumerate(sums):
        total = (st[3 + 2 * j] << 24) + st[4 + 2 * j] + s
        st[3 + 2 * j] = total >> 24
        st[4 + 2 * j] = total & 0xFFFFFF
    st[26] = prev + 8192
    return st[0]


def _cycle(st):
    ms = st[20] // st[19]
    if ms < st[21]:
        st[21] = ms
    if ms > st[22]:
        st[22] = ms


class Replay:
    """A block source (fs, take()) handing out the preallocated views of `whole` in a loop,
    `left` of them until refilled: metering with no allocation in the source."""

    fs = 4000

    def __init__(self, whole, block):
        n = len(whole) // 2
        self.views = tuple(memoryview(whole)[2 * k : 2 * (k + block)] for k in range(0, n, block))
        self.left = 0
        self.k = 0

    def take(self):
        if not self.left:
            return None
        self.left -= 1
        v = self.views[self.k]
        self.k = (self.k + 1) % len(self.views)
        return v
