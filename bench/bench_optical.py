"""Optical-port engine figures on the Unix MicroPython port: `python bench/bench_optical.py`.

Prints the engine's cost per received character (noise while idle, a sign-on, programming
commands), the time to run a whole readout session, and the heap bytes allocated by each
(gc.mem_alloc delta, GC disabled). Figures only, no thresholds. For scale: at 9600 Bd a
character arrives every 1042 us, at 300 Bd every 33 ms.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

MP_SCRIPT = r"""
import gc
import time
from optical import iec21
from optical_harness import PASSWORD, Harness, frame


def measure(label, fn, nbytes, n):
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    t = time.ticks_us()
    for _ in range(n):
        fn()
    dt = time.ticks_diff(time.ticks_us(), t)
    a1 = gc.mem_alloc()
    gc.enable()
    per = dt / n
    print("%-34s %9.1f us/run %7.2f us/char %7d heap bytes/run" % (
        label, per, per / nbytes if nbytes else 0, (a1 - a0) // n))


h = Harness()
eng = h.eng
noise = bytes((i * 37 + 11) & 0x7F for i in range(256)).replace(b"/", b"x")
measure("noise while idle (256 chars)", lambda: eng.on_rx(noise, 0), len(noise), 200)

req = b"/?!\r\n"


def sign_on():
    eng.on_rx(req, 0)
    eng.poll(1000)
    eng.abort(0)


measure("sign-on + identification", sign_on, len(req), 2000)


def readout_session():
    eng.on_rx(req, 0)
    eng.poll(300)
    eng.on_rx(b"\x06050\r\n", 400)
    out = eng.poll(1400)
    assert out is not None and out[0] == 2


measure("whole readout session (3 lines)", readout_session, 11, 500)

h2 = Harness()
h2.feed(b"/?!\r\n")
h2.run(200)
h2.feed(b"\x06051\r\n")
h2.run(1000)
h2.feed(frame(b"P1", b"(" + PASSWORD + b")"))
h2.run(200)
h2.take()
r1 = frame(b"R1", b"0001()")
t = [10000]


def read_cmd():
    t[0] += 300
    h2.eng.on_rx(r1, t[0])
    h2.eng.poll(t[0] + 200)


measure("R1 command + answer", read_cmd, len(r1), 1000)
"""


def main():
    env = mp_env()
    r = subprocess.run(
        [micropython_exe(), "-c", MP_SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True
    )
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    sys.exit(r.returncode)


if __name__ == "__main__":
    main()
