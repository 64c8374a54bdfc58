"""`make bench-phy`: soft B-PSK PHY figures -> stdout, build/bench/*.png and build/bench/phy.json.

BER/FER: firmware TX and RX in Unix MicroPython, tools/channel.py in between (AWGN, ideal
front-end, 0 ppm) vs theory Q(sqrt(2Eb/N0)) and scikit-commpy's soft Viterbi on ideal BPSK.
Throughput and heap use: in-process MicroPython. Instruction counts: valgrind --tool=callgrind.
Set PHY_BENCH_QUICK=1 for a short run.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from math import erfc, sqrt
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import channel, phy_mp  # noqa: E402
from tools.mpenv import micropython_exe, mp_env  # noqa: E402

OUT = ROOT / "build" / "bench"
QUICK = os.environ.get("PHY_BENCH_QUICK") == "1"
FS_RX = 38400


def q(x):
    return 0.5 * erfc(x / sqrt(2))


def conv_ref_symbols(data):
    """Coded symbols (0/1) of the whitened payload+CRC as the firmware sends them (independent:
    commpy encoder, our CPython CRC/whitening)."""
    import zlib

    import commpy.channelcoding as cc

    body = bytes(data) + zlib.crc32(bytes(data)).to_bytes(4, "little")
    s, wh = 0x1FF, []
    for _ in body:
        b = 0
        for k in range(8):
            b |= (s & 1) << k
            s = (s >> 1) | (((s ^ (s >> 5)) & 1) << 8)
        wh.append(b)
    body = bytes(x ^ y for x, y in zip(body, wh))
    bits = [(b >> i) & 1 for b in body for i in range(8)] + [0] * 6
    tr = cc.Trellis(np.array([6]), np.array([[0o171, 0o133]]))
    return cc.conv_encode(np.array(bits), tr, "cont")


def run_point(frames, tx_list, ebn0, seed):
    """One Eb/N0 point: returns dict with coded bit errors, frame errors, raw symbol errors."""
    bit_err = bits = sym_err = syms = lost = 0
    for i, (fr, tx) in enumerate(zip(frames, tx_list)):
        adc = channel.channel(tx, ebn0_db=ebn0, frontend="ideal", lead_s=0.02, seed=seed + i)
        r = phy_mp.rx_samples(adc, soft=True)
        nb = len(fr) * 8
        if r["frames"] and r["frames"][0][0] == fr:
            soft = r["soft"][0][60:]
            ref = conv_ref_symbols(fr)
            sym_err += int(np.sum((soft < 0).astype(int) != ref))
            syms += len(ref)
        elif r["bad"]:
            d = np.frombuffer(r["bad"][0][: len(fr)], np.uint8) ^ np.frombuffer(fr, np.uint8)
            bit_err += int(np.unpackbits(d).sum())
            lost += 1
        else:
            bit_err += nb // 2  # not synchronised: count as half the bits wrong
            lost += 1
        bits += nb
    return dict(
        ebn0=ebn0,
        ber=bit_err / bits,
        fer=lost / len(frames),
        frames=len(frames),
        bits=bits,
        sym_ber=(sym_err / syms) if syms else None,
        syms=syms,
    )


def commpy_point(ebn0, nbits, rng):
    import commpy.channelcoding as cc

    tr = cc.Trellis(np.array([6]), np.array([[0o171, 0o133]]))
    bits = rng.integers(0, 2, nbits)
    bits[-6:] = 0
    coded = cc.conv_encode(bits, tr, "cont")
    esn0 = 10 ** ((ebn0 - 3.0103) / 10)
    y = (2.0 * coded - 1) + rng.normal(0, sqrt(1 / (2 * esn0)), len(coded))
    dec = cc.viterbi_decode(y, tr, tb_depth=42, decoding_type="unquantized")
    return float(np.mean(dec[: nbits - 6] != bits[: nbits - 6]))


MP_THROUGHPUT = r"""
import sys, time, gc, micropython
from array import array
from phy.rx import Receiver
from phy.tx import Transmitter
f = open(sys.argv[1], 'rb'); data = f.read(); f.close()
a = array('H', data)
views = [memoryview(a)[p:p + 480] for p in range(0, len(a), 480)]
got = [0]
def cb(b, n, r):
    got[0] += 1
r = Receiver(cb)
nv = len(views)
i = 0
while i < nv:
    v = views[i]; r.feed(v, len(v)); i += 1
gc.collect()
m0 = gc.mem_alloc(); t0 = time.ticks_us()
i = 0
while i < nv:
    v = views[i]; r.feed(v, len(v)); i += 1
dt = time.ticks_diff(time.ticks_us(), t0); m1 = gc.mem_alloc()
t = Transmitter(); out = array('H', bytearray(2 * 1152)); fr = bytes(range(128))
n = t.prepare(fr); p = 0
while p < n:
    t.fill(out, p, 1152); p += 1152
gc.collect(); m2 = gc.mem_alloc(); t1 = time.ticks_us()
n = t.prepare(fr); p = 0
while p < n:
    t.fill(out, p, 1152); p += 1152
dt2 = time.ticks_diff(time.ticks_us(), t1); m3 = gc.mem_alloc()
print(len(a), dt, got[0], m1 - m0, m3 - m2, n, dt2)
"""

MP_KERNEL = r"""
import sys
from array import array
import micropython
kind = sys.argv[1]; n = int(sys.argv[2])
src = array('H', bytearray(2 * n))
ring = array('h', bytearray(2 * 2048))
st = array('i', (2048 << 8, 0, 2047, 0))
if kind == 'viper':
    from phy.kern_viper import mix
    for i in range(4):
        mix(src, n, ring, st)
else:
    def mix(src, n, ring, st):
        dc = st[0]; w = st[1]; mask = st[2]
        for i in range(n):
            t = (src[i] << 8) - dc
            dc += t >> 10
            y = t >> 8
            if (w + 1) & 2:
                y = -y
            ring[w & mask] = y
            w += 1
        st[0] = dc; st[1] = w
        return w
    for i in range(4):
        mix(src, n, ring, st)
"""


def run_mp(script, *args, timeout=600, valgrind=None):
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(script)
        path = f.name
    cmd = [micropython_exe(), "-X", "heapsize=8M", path, *map(str, args)]
    if valgrind:
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={valgrind}"] + cmd
    p = subprocess.run(cmd, env=mp_env(), capture_output=True, text=True, timeout=timeout)
    os.unlink(path)
    if p.returncode:
        raise RuntimeError(p.stdout + p.stderr)
    return p.stdout + p.stderr


def callgrind_total(n, kind):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        log = run_mp(MP_KERNEL, kind, n, valgrind=out)
        for line in log.splitlines():
            if "Collected" in line:
                return int(line.split("Collected :")[1].strip().replace(",", ""))
    raise RuntimeError(log)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    res = {}
    rng = np.random.default_rng(1)
    nfr = 12 if QUICK else 60
    frames = [bytes(rng.integers(0, 256, 128, dtype=np.uint8)) for _ in range(nfr)]
    tx_all = phy_mp.tx_frames(frames)
    n1 = phy_mp.frame_symbols(128) * 36
    tx_list = [tx_all[i * n1 : (i + 1) * n1] for i in range(nfr)]

    t0 = time.time()
    coded = [
        run_point(frames, tx_list, e, 100 * int(e * 10)) for e in (2.0, 3.0, 3.5, 4.0, 4.5, 5.0)
    ]
    # uncoded: raw channel-symbol error rate of the same receiver, x axis Es/N0 (= Eb uncoded)
    unc = []
    for esn0 in (4.0, 6.0, 7.0, 8.0, 8.5):
        p = run_point(frames, tx_list, esn0 + 3.0103, 7000 + int(esn0 * 10))
        unc.append(dict(esn0=esn0, ber=p["sym_ber"], syms=p["syms"]))
    t_ber = time.time() - t0
    cref = []
    for e in (2.0, 3.0, 4.0):
        cref.append(dict(ebn0=e, ber=commpy_point(e, 6000 if QUICK else 30000, rng)))
    res["coded"] = coded
    res["uncoded"] = unc
    res["commpy"] = cref
    res["ber_bench_s"] = round(t_ber, 1)
    print("coded (firmware RX, %d x 128-byte frames per point):" % nfr)
    for c in coded:
        print("  Eb/N0 %.1f dB  BER %.2e  FER %.3f" % (c["ebn0"], c["ber"], c["fer"]))
    print("uncoded channel symbols (Es/N0):")
    for u in unc:
        print(
            "  %.1f dB  BER %.2e (%d symbols)  theory %.2e"
            % (u["esn0"], u["ber"] or 0, u["syms"], q(sqrt(2 * 10 ** (u["esn0"] / 10))))
        )
    print("commpy soft Viterbi, ideal BPSK:")
    for c in cref:
        print("  Eb/N0 %.1f dB  BER %.2e" % (c["ebn0"], c["ber"]))

    # throughput + heap per frame
    fr = [bytes(rng.integers(0, 256, 128, dtype=np.uint8)) for _ in range(4)]
    adc = channel.channel(phy_mp.tx_frames(fr, gap_samples=20000), ebn0_db=8, seed=5)
    with tempfile.NamedTemporaryFile(suffix=".u16", delete=False) as f:
        adc.astype("<u2").tofile(f.name)
        out = run_mp(MP_THROUGHPUT, f.name).split()
    os.unlink(f.name)
    ns, dt, got, heap_rx, heap_tx, ntx, dt_tx = map(int, out[:7])
    res["rx_realtime_x"] = round(ns / FS_RX / (dt / 1e6), 1)
    res["rx_frames_in_throughput_run"] = got
    res["heap_bytes_per_rx_frame"] = heap_rx / max(got, 1)
    res["heap_bytes_per_tx_frame"] = heap_tx
    res["tx_realtime_x"] = round(ntx / 345600 / (dt_tx / 1e6), 1)
    print(
        "RX throughput %.0fx real time (%d samples, %d frames)" % (res["rx_realtime_x"], ns, got)
    )
    print("TX fill %.1fx real time at 345.6 kHz" % res["tx_realtime_x"])
    print(
        "heap bytes per RX frame %s, per TX frame %s" % (res["heap_bytes_per_rx_frame"], heap_tx)
    )

    # callgrind: per-sample kernel instructions (x86-64), viper vs bytecode
    cg = {}
    for kind, (a, b) in (("viper", (20000, 120000)), ("bytecode", (2000, 12000))):
        ia, ib = callgrind_total(a, kind), callgrind_total(b, kind)
        cg[kind] = (ib - ia) / (4 * (b - a))
    res["callgrind_instr_per_sample_x86"] = cg
    print(
        "kernel instr/sample (x86-64 callgrind): viper %.1f, bytecode %.1f"
        % (cg["viper"], cg["bytecode"])
    )

    # Cortex-M4 estimate
    thumb_loop = 17.5  # asm loop: 19 instructions, neg skipped on half the samples
    viper_m4 = (
        31 * cg["viper"] / 12.0
    )  # notes: viper ptr16 loop 31 instr on M4 ~ 12 on x86 (scaled)
    sym_rate = 9600
    sym_viper_m4 = 600  # per-symbol MF (22 taps x ~20) + Gardner + PLL, viper on M4 (estimate)
    load_thumb = (thumb_loop * FS_RX + sym_viper_m4 * 2 * sym_rate) / 1e6
    res["m4_estimate"] = dict(
        kernel_thumb_instr_per_sample=thumb_loop,
        kernel_viper_instr_per_sample_est=round(viper_m4, 1),
        per_symbol_viper_instr_est=sym_viper_m4 * 2,
        mips_with_thumb_kernel=round(load_thumb, 2),
        percent_of_168MHz_at_1_5_cpi=round(100 * load_thumb * 1.5 / 168, 1),
        viterbi_instr_per_255B_frame_est=int(2078 * 64 * 40),
    )
    print("M4 estimate:", res["m4_estimate"])

    # plot
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    e = np.linspace(0, 10, 101)
    ax.semilogy(
        e, [q(sqrt(2 * 10 ** (x / 10))) for x in e], "k-", label="BPSK theory Q(sqrt(2Eb/N0))"
    )
    ax.semilogy(
        [u["esn0"] for u in unc],
        [max(u["ber"] or 1e-7, 1e-7) for u in unc],
        "bo-",
        label="firmware RX uncoded (Es/N0)",
    )
    ax.semilogy(
        [c["ebn0"] for c in coded],
        [max(c["ber"], 1e-7) for c in coded],
        "rs-",
        label="firmware RX coded BER",
    )
    ax.semilogy(
        [c["ebn0"] for c in coded],
        [max(c["fer"], 1e-7) for c in coded],
        "r^--",
        label="firmware RX FER (128 B)",
    )
    ax.semilogy(
        [c["ebn0"] for c in cref],
        [max(c["ber"], 1e-7) for c in cref],
        "gd-",
        label="commpy soft Viterbi (ideal)",
    )
    ax.set_xlabel("Eb/N0 (dB)")
    ax.set_ylabel("error rate")
    ax.set_ylim(1e-6, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    png = OUT / "phy_ber.png"
    fig.savefig(png, dpi=110)
    res["png"] = [str(png.relative_to(ROOT))]
    print("wrote", png)
    (OUT / "phy.json").write_text(json.dumps(res, indent=1))
    print("wrote", OUT / "phy.json")


if __name__ == "__main__":
    main()
