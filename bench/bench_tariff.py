"""Calendar, tariff and billing figures on the Unix MicroPython port:
`python bench/bench_tariff.py`.

Prints the cost of meter.tariffs.current() and next_switch(), of one metering second of the
tariff feature (its two on_second listeners: active tariff, demand block, billing schedule),
the heap bytes each allocates (gc.mem_alloc delta, GC disabled), and how many local days were
computed. Italian F1/F2/F3 programme, two simulated days. Figures only, no thresholds.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

MP_SCRIPT = r"""
import gc
import time
import alfix
import civiltime
from datamodel import metering as mt

ITALY = bytes((0, 0, 0, 3, 0, 7, 0, 2, 0, 8, 0, 1, 0, 19, 0, 2, 0, 23, 0, 3,
               1, 0, 0, 3, 1, 7, 0, 2, 1, 23, 0, 3, 2, 0, 0, 3))
b = alfix.Bench("bench_tariff")
m = b.meter
m.model.set_table(0x0900, ITALY)
m.metering.set(mt.POWER, 4, 1500)
u0 = civiltime.seconds(2026, 12, 1)
N = 2 * 86400


def measure(label, fn, n):
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    t = time.ticks_us()
    fn(n)
    dt = time.ticks_diff(time.ticks_us(), t)
    a1 = gc.mem_alloc()
    gc.enable()
    print("%-44s %8.2f us %8.2f heap bytes" % (label, dt / n, (a1 - a0) / n))


def current(n):
    c = m.tariffs.current
    for u in range(u0, u0 + n):
        c(u)


def next_switch(n):
    ns = m.tariffs.next_switch
    for u in range(u0, u0 + n * 997, 997):
        ns(u)


def seconds(n):
    fns = m.on_second
    for u in range(u0, u0 + n):
        b.rtc.t = u
        for fn in fns:
            fn(u)


measure("tariffs.current(u), per call", current, N)
measure("tariffs.next_switch(u), per call", next_switch, 2000)
measure("tariff on_second listeners, per metering second", seconds, N)
print("local days computed: %d; billing closes: %d" % (m.tariffs.builds, m.billing.closes))
b.close()
"""


def main():
    p = subprocess.run(
        [micropython_exe(), "-X", "heapsize=8M", "-c", MP_SCRIPT],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    sys.stdout.write(p.stdout + p.stderr)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
