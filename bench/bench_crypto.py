"""`make bench-crypto`: smitp.crypto figures on the Unix MicroPython port (x64 viper).

Runs a MicroPython script (embedded below) that prints throughput (bytes/s) of CMAC and CTR at
16/64/128-byte messages and heap bytes allocated per call (gc.mem_alloc delta over many calls,
GC disabled), then, if valgrind is installed, the x64 instructions per 64-byte CMAC from two
callgrind runs with different loop counts (startup cost cancels). Figures only, no thresholds.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

MP_SCRIPT = r"""
import gc
import sys
import time
from smitp import crypto, tmac

KEY = bytes(range(16))
IV = bytes(range(100, 116))


def rate(fn, size, n):
    t = time.ticks_us()
    for _ in range(n):
        fn()
    dt = time.ticks_diff(time.ticks_us(), t)
    return size * n * 1000000 // dt, dt * 1000 // n


def heap(fn, n=2000):
    fn()
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for _ in range(n):
        fn()
    b = gc.mem_alloc()
    gc.enable()
    return (b - a) / n


def speed():
    c = crypto.Cmac(KEY)
    r = crypto.Ctr(KEY)
    out = bytearray(16)
    print("%-26s %6s %12s %10s" % ("operation", "bytes", "bytes/s", "ns/call"))
    for size in (16, 64, 128):
        msg = bytes(range(size))
        buf = bytearray(size)
        rows = (
            ("Cmac.cmac_into", lambda: c.cmac_into(out, msg)),
            ("cmac(key, msg)", lambda: crypto.cmac(KEY, msg)),
            ("Ctr.ctr_into (in place)", lambda: r.ctr_into(buf, IV, buf)),
            ("ctr(key, iv, data)", lambda: crypto.ctr(KEY, IV, msg)),
        )
        for name, fn in rows:
            bps, ns = rate(fn, size, 20000)
            print("%-26s %6d %12d %10d" % (name, size, bps, ns))
    msg = bytes(64)
    buf = bytearray(64)
    aca = bytes(6)
    print()
    print("heap bytes allocated per call (64-byte message, unix port, 64-bit)")
    for name, fn in (
        ("cmac(key, msg)", lambda: crypto.cmac(KEY, msg)),
        ("Cmac.cmac(msg)", lambda: c.cmac(msg)),
        ("Cmac.cmac_into(out, msg)", lambda: c.cmac_into(out, msg)),
        ("ctr(key, iv, data)", lambda: crypto.ctr(KEY, IV, msg)),
        ("Ctr.ctr(iv, data)", lambda: r.ctr(IV, msg)),
        ("Ctr.ctr_into(out, iv, data)", lambda: r.ctr_into(buf, IV, buf)),
        ("tmac(Cmac, ...)", lambda: tmac.tmac(c, 102, aca, 5, 0x12345678)),
    ):
        print("%-30s %8.1f" % (name, heap(fn)))


def loop(kind, n):
    c = crypto.Cmac(KEY)
    r = crypto.Ctr(KEY)
    out = bytearray(16)
    msg = bytes(64)
    buf = bytearray(64)
    if kind == "cmac_into":
        for _ in range(n):
            c.cmac_into(out, msg)
    elif kind == "cmac":
        for _ in range(n):
            crypto.cmac(KEY, msg)
    elif kind == "ctr_into":
        for _ in range(n):
            r.ctr_into(buf, IV, buf)


if sys.argv[1] == "speed":
    speed()
else:
    loop(sys.argv[1], int(sys.argv[2]))
"""


def run(args, script, prefix=()):
    p = subprocess.run(
        [*prefix, micropython_exe(), "-X", "heapsize=8M", script, *args],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if p.returncode != 0:
        raise SystemExit(p.stdout + p.stderr)
    return p.stdout


def callgrind_instructions(script, kind, n, tmp):
    out = os.path.join(tmp, f"cg.{kind}.{n}")
    run(
        [kind, str(n)],
        script,
        prefix=("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"),
    )
    with open(out) as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise SystemExit("no totals in callgrind output")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "bench_crypto_mp.py")
        with open(script, "w") as f:
            f.write(MP_SCRIPT)
        print("smitp.crypto on the unix port (%s)" % micropython_exe())
        print(run(["speed"], script))
        if not shutil.which("valgrind"):
            print("valgrind not found: instruction counts skipped")
            return
        n1, n2 = 200, 2200
        print(
            "instructions per call (callgrind, 64-byte message, (I(%d)-I(%d))/%d)"
            % (n2, n1, n2 - n1)
        )
        for kind in ("cmac_into", "cmac", "ctr_into"):
            i1 = callgrind_instructions(script, kind, n1, tmp)
            i2 = callgrind_instructions(script, kind, n2, tmp)
            print("%-30s %10.0f" % (kind, (i2 - i1) / (n2 - n1)))


if __name__ == "__main__":
    main()
