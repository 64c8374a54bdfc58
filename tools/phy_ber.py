"""Coded/uncoded error rates of the firmware receiver (Unix MicroPython) over tools/channel.py.

One Eb/N0 point = many frames, each through its own channel realisation (seeded), concatenated
into one ADC stream and decoded by one micropython process; points run in parallel processes.
Used by bench/bench_phy.py and by hand:  python tools/phy_ber.py 3.0 3.5 4.0 [--frames N]
"""

import argparse
import os
import sys
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools import channel, phy_mp  # noqa: E402

RAMP = 2  # last symbols of a frame under the TX half-cosine ramp (docs/phy.md)


def conv_ref_symbols(data):
    """Coded symbols (0/1) of the whitened payload+CRC as the firmware sends them (independent:
    commpy encoder, zlib CRC-32, whitening written here)."""
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


def make_frames(n, size=128, seed=1):
    rng = np.random.default_rng(seed)
    frames = [bytes(rng.integers(0, 256, size, dtype=np.uint8)) for _ in range(n)]
    return frames, phy_mp.tx_frame_list(frames)


_CLEAN = {}  # id(tx array) -> ideal_rx() of it (the same frames recur across points)


def _fast(chan):
    return chan.get("frontend", "ideal") == "ideal" and not any(
        chan.get(k) for k in ("ppm", "cfo_hz", "multipath", "interferer", "impulse_db")
    )


def unwrap_t(ts):
    """Frame-end sample indices of the receiver, which subtracts 2**23 from its counters when
    they reach 2**24 (phy.rx.Receiver.feed), back to indices into the whole stream (in order)."""
    out, off, prev = [], 0, None
    for t in ts:
        if prev is not None and t + off < prev - (1 << 22):
            off += 1 << 23
        prev = t + off
        out.append(prev)
    return out


def run_point(frames, tx_list, ebn0, seed, lead_max_s=None, **chan):
    """Returns dict(ebn0, ber, ber_synced, fer, frames, bits, sym_ber, syms, lost_nosync,
    lost_crc, wrong, esn0_soft, syncs, header_errors, crc_errors, seconds); ber counts a frame
    that was not synchronised as half its bits wrong. lead_max_s: noise of a random length,
    uniform in 0..lead_max_s (seeded), before every frame instead of the fixed lead_s.
    AWGN through the ideal front end at 0 ppm uses channel.ideal_rx (each frame's noise-free
    signal computed once, seeded by its index) plus i.i.d. noise per frame and point."""
    kw = dict(frontend="ideal", lead_s=0.02, tail_s=0.02)
    kw.update(chan)
    lead_rng = np.random.default_rng(seed + 77)
    segs, ends, p = [], [], 0
    for i, tx in enumerate(tx_list):
        if lead_max_s is not None:
            kw["lead_s"] = float(lead_rng.uniform(0, lead_max_s))
        if _fast(kw):
            if id(tx) not in _CLEAN:
                _CLEAN[id(tx)] = (tx, channel.ideal_rx(tx, seed=1000 + i))
            y, p_sig = _CLEAN[id(tx)][1]
            rng = np.random.default_rng(seed + i)
            n0, n1 = int(kw["lead_s"] * channel.FS_RX), int(kw["tail_s"] * channel.FS_RX)
            y = np.concatenate([np.zeros(n0), y, np.zeros(n1)])
            y = y + rng.normal(0, channel.awgn_codes_rms(p_sig, ebn0), len(y))
            a = channel.adc(y)
        else:
            a = channel.channel(tx, ebn0_db=ebn0, seed=seed + i, **kw)
        segs.append(a)
        p += len(a)
        ends.append(p)
    ends = np.array(ends)
    r = phy_mp.rx_samples(np.concatenate(segs), soft=True)
    got = {}
    t_ok = unwrap_t([f[3] for f in r["frames"]])
    for (data, _rssi, _snr, _t), t, soft in zip(r["frames"], t_ok, r["soft"]):
        i = int(np.searchsorted(ends, t - 544))
        if i < len(frames):
            got.setdefault(i, ("ok", data, soft))
    for data, t in zip(r["bad"], unwrap_t(r["bad_t"])):
        i = int(np.searchsorted(ends, t - 544))
        if i < len(frames):
            got.setdefault(i, ("bad", data, None))
    bit_err = bits = sym_err = syms = nosync = crc = wrong = 0
    err_synced = bits_synced = 0
    yd = []
    for i, fr in enumerate(frames):
        nb = len(fr) * 8
        bits += nb
        kind, data, soft = got.get(i, (None, None, None))
        if kind is not None:
            bits_synced += nb
        if kind == "ok" and data != fr:
            wrong += 1  # passed the CRC-32 with wrong bytes
        if kind == "ok" and data == fr:
            # channel symbols of the payload block, without the last RAMP ones (the TX
            # amplitude ramp: tail symbols sent at reduced amplitude by design)
            ref = conv_ref_symbols(fr)[:-RAMP]
            y = soft[60 : 60 + len(ref)]
            sym_err += int(np.sum((y < 0).astype(int) != ref))
            yd.append(y.astype(float) * (1 - 2 * ref))
            syms += len(ref)
        elif kind is not None and len(data) == len(fr):
            d = np.frombuffer(data, np.uint8) ^ np.frombuffer(fr, np.uint8)
            e = int(np.unpackbits(d).sum())
            bit_err += e
            err_synced += e
            crc += 1
        else:
            bit_err += nb // 2  # not synchronised (or wrong length): half the bits wrong
            nosync += 1
    n = len(frames)
    esn0_soft = None
    if yd:
        y = np.concatenate(yd)
        esn0_soft = float(10 * np.log10(np.mean(y) ** 2 / (2 * np.var(y))))
    return dict(
        esn0_soft=esn0_soft,
        ebn0=ebn0,
        ber=bit_err / bits,
        # decoder output errors over the frames that were synchronised (header decoded): the
        # figure to set against the reference decoder, which has no sync loss
        ber_synced=(err_synced / bits_synced) if bits_synced else None,
        fer=(nosync + crc) / n,
        frames=n,
        bits=bits,
        sym_ber=(sym_err / syms) if syms else None,
        syms=syms,
        lost_nosync=nosync,
        lost_crc=crc,
        wrong=wrong,
        seconds=p / channel.FS_RX,
        **r["stats"],
    )


def run_points(frames, tx_list, points, workers=2, counts=None, **chan):
    """points: list of (ebn0, seed) -> list of run_point results, `workers` in parallel.
    counts: optional list of (_, n): use the first n frames for each point."""
    ns = [len(frames)] * len(points) if counts is None else [n for _, n in counts]
    with ThreadPoolExecutor(workers) as ex:
        futs = [
            ex.submit(run_point, frames[:n], tx_list[:n], e, s, **chan)
            for (e, s), n in zip(points, ns)
        ]
        return [f.result() for f in futs]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ebn0", type=float, nargs="+")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--ppm", type=float, default=0.0)
    ap.add_argument("--uncoded", action="store_true", help="x axis is Es/N0")
    a = ap.parse_args()
    frames, txl = make_frames(a.frames)
    off = 3.0103 if a.uncoded else 0.0
    pts = [(e + off, 1000 + int(e * 100)) for e in a.ebn0]
    for r in run_points(frames, txl, pts, ppm=a.ppm):
        print(
            "Eb/N0 %.2f  BER %.2e  FER %.3f (nosync %d crc %d / %d)  symBER %s (%d) soft Es/N0 %s"
            % (
                r["ebn0"],
                r["ber"],
                r["fer"],
                r["lost_nosync"],
                r["lost_crc"],
                r["frames"],
                "%.2e" % r["sym_ber"] if r["sym_ber"] is not None else "-",
                r["syms"],
                "%.2f" % r["esn0_soft"] if r["esn0_soft"] is not None else "-",
            )
        )


if __name__ == "__main__":
    main()
