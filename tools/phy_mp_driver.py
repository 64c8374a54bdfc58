# MicroPython driver for tools/phy_mp.py (runs under the unix port, MICROPYPATH from mpenv).
# usage: micropython phy_mp_driver.py tx <in_hex_lines> <out_u16> [phase_deg] (frames -> DAC codes)
#        micropython phy_mp_driver.py rx <in_u16> <chunk> [soft]    (ADC codes -> frames)
import sys
from array import array


def tx(src, dst, phase_deg=None):
    from phy.tx import Transmitter

    t = Transmitter() if phase_deg is None else Transmitter(phase_deg)
    buf = array("H", bytearray(2 * 36 * 64))
    with open(src) as f, open(dst, "wb") as o:
        for line in f:
            line = line.strip()
            if not line:
                continue
            fr = bytes.fromhex(line)
            n = t.prepare(fr)
            p = 0
            while p < n:
                m = min(len(buf), n - p)
                t.fill(buf, p, m)
                o.write(memoryview(buf)[:m])
                p += m
            print("TX", n)


def rx(src, chunk, soft):
    from phy import profile
    from phy.rx import Receiver

    def cb(b, n, r):
        print("FRAME", bytes(b[:n]).hex(), r.rssi, r.snr, r.t_sample)
        if soft:
            ns = profile.HEADER_SYMBOLS + profile.payload_symbols(n)
            print("SOFT", bytes(r.soft[:ns]).hex())

    def bad(b, n, r):
        print("BAD", bytes(b[:n]).hex(), r.t_end)

    r = Receiver(cb)
    r.on_crc_error = bad
    buf = array("H", bytearray(2 * chunk))
    mv = memoryview(buf)
    with open(src, "rb") as f:
        while True:
            k = f.readinto(mv)
            if not k:
                break
            r.feed(buf, k // 2)
    print("STATS", r.syncs, r.header_errors, r.crc_errors, r.frames_ok)


if sys.argv[1] == "tx":
    tx(sys.argv[2], sys.argv[3], float(sys.argv[4]) if len(sys.argv) > 4 else None)
else:
    rx(sys.argv[2], int(sys.argv[3]), len(sys.argv) > 4)
