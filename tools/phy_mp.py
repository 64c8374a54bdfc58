"""Run the firmware PHY (phy.tx / phy.rx) in a real Unix MicroPython process from CPython.

codes = tx_frames([b"...", ...])                  # DAC codes (np.uint16) at TX rate, concatenated
res = rx_samples(adc_u16)                          # dict(frames=[(bytes, rssi, snr, t)], stats)
"""

import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

DRIVER = str(ROOT / "tools" / "phy_mp_driver.py")


def _env():
    env = mp_env()
    extra = os.environ.get("PHY_MP_PATH")  # experiments: a modified phy package first
    if extra:
        env["MICROPYPATH"] = extra + os.pathsep + env["MICROPYPATH"]
    return env


def _run(args, timeout=600):
    p = subprocess.run(
        [micropython_exe(), "-X", "heapsize=8M", DRIVER, *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if p.returncode:
        raise RuntimeError(p.stdout + p.stderr)
    return p.stdout


def tx_frames(frames, gap_samples=0, phase_deg=None):
    """Frames -> one uint16 array of DAC codes, each frame followed by gap_samples of mid-scale
    (phase_deg: the TX carrier phase, default the profile's)."""
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in.txt"), os.path.join(d, "out.u16")
        with open(src, "w") as f:
            for fr in frames:
                f.write(bytes(fr).hex() + "\n")
        out = _run(["tx", src, dst] + ([] if phase_deg is None else [str(phase_deg)]))
        data = np.fromfile(dst, dtype="<u2")
    lens = [int(x.split()[1]) for x in out.splitlines() if x.startswith("TX")]
    if not gap_samples:
        return data
    parts, p = [], 0
    for n in lens:
        parts += [data[p : p + n], np.full(gap_samples, 2048, np.uint16)]
        p += n
    return np.concatenate(parts)


def frame_symbols(n):
    """Mirror of phy.profile.frame_symbols (checked against it in the tests)."""
    return 48 + 32 + 60 + ((n + 4) * 8 + 6) * 2


def tx_frame_list(frames):
    """Frames -> list of per-frame uint16 arrays."""
    data = tx_frames(frames)
    out, p = [], 0
    for fr in frames:
        n = frame_symbols(len(fr)) * 36
        out.append(data[p : p + n])
        p += n
    return out


def rx_samples(adc, chunk=480, soft=False):
    """ADC codes -> decoded frames from the firmware receiver."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "in.u16")
        np.asarray(adc, dtype="<u2").tofile(src)
        out = _run(["rx", src, str(chunk)] + (["soft"] if soft else []))
    frames, softs, stats, bad, bad_t = [], [], None, [], []
    for line in out.splitlines():
        w = line.split()
        if w and w[0] == "FRAME":
            frames.append((bytes.fromhex(w[1]), int(w[2]), int(w[3]), int(w[4])))
        elif w and w[0] == "BAD":
            bad.append(bytes.fromhex(w[1]))
            bad_t.append(int(w[2]))
        elif w and w[0] == "SOFT":
            softs.append(np.frombuffer(bytes.fromhex(w[1]), np.int8))
        elif w and w[0] == "STATS":
            stats = dict(
                zip(("syncs", "header_errors", "crc_errors", "frames_ok"), map(int, w[1:]))
            )
    return dict(frames=frames, soft=softs, stats=stats, bad=bad, bad_t=bad_t)
