"""Error floor and false syncs of the firmware receiver (Unix MicroPython), for bench/bench_phy.py.

floor_point(): FER at one Eb/N0 with noise of a random length (uniform 0..50 ms, seeded) before
every frame, as on a real line, where a false sync on that noise may straddle the preamble.
false_syncs(): syncs per second on noise alone (white at the ADC, which is AWGN through the ideal
front end, and AWGN through the Butterworth coupler model). By hand:
    python tools/phy_floor.py --frames 4000 6 8      python tools/phy_floor.py --noise 300
"""

import argparse
import os
import sys

import numpy as np
from scipy import signal

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools import channel, phy_ber, phy_mp  # noqa: E402

LEAD_MAX_S = 0.05
DISTINCT = 200  # distinct payloads; longer runs cycle through them (each frame its own noise)


def floor_point(n, ebn0, seed, distinct=None):
    frames, txl = distinct or phy_ber.make_frames(DISTINCT)
    fr = [frames[i % len(frames)] for i in range(n)]
    tl = [txl[i % len(txl)] for i in range(n)]
    r = phy_ber.run_point(fr, tl, ebn0, seed, lead_max_s=LEAD_MAX_S)
    r["lead_max_s"] = LEAD_MAX_S
    return r


def noise_codes(kind, seconds, seed, sigma=100.0):
    """ADC codes of noise alone: 'white' at 38.4 kHz or 'butter' (coupler model, 345.6 kHz
    noise through channel.py's 4th-order band-pass, then every 9th sample)."""
    rng = np.random.default_rng(seed)
    if kind == "white":
        x = rng.normal(0, sigma, int(seconds * channel.FS_RX))
    else:
        w = rng.normal(0, 1, int(seconds * channel.FS_TX))
        sos = signal.butter(4, [78e3, 95e3], btype="band", fs=channel.FS_TX, output="sos")
        x = signal.sosfilt(sos, w)[:: channel.FS_TX // channel.FS_RX]
        x *= sigma / np.std(x)
    return np.clip(np.round(x + 2048), 0, 4095).astype(np.uint16)


def false_syncs(seconds, seed=42):
    out = []
    for kind, sigma in (("white", 30.0), ("white", 200.0), ("butter", 100.0)):
        st = phy_mp.rx_samples(noise_codes(kind, seconds, seed, sigma))["stats"]
        out.append(
            dict(noise=kind, sigma_codes=sigma, seconds=seconds, per_s=st["syncs"] / seconds, **st)
        )
    return out


def describe(r):
    return (
        "Eb/N0 %.1f dB: FER %.2e (no sync %d, CRC %d; wrong through CRC-32 %d) of %d frames;"
        " syncs %d, header errors %d"
        % (
            r["ebn0"],
            r["fer"],
            r["lost_nosync"],
            r["lost_crc"],
            r["wrong"],
            r["frames"],
            r["syncs"],
            r["header_errors"],
        )
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ebn0", type=float, nargs="*")
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--noise", type=float, default=0.0, help="seconds of noise-only input")
    a = ap.parse_args()
    for e in a.ebn0:
        r = floor_point(a.frames, e, 5000 + int(e * 10))
        print(describe(r))
    if a.noise:
        for r in false_syncs(a.noise):
            print("%(noise)s sigma %(sigma_codes).0f: %(per_s).3f false syncs/s" % r)


if __name__ == "__main__":
    main()
