"""Display figures on the Unix MicroPython port: `python bench/bench_display.py`.

Prints, per display refresh: the time and heap bytes of a full manager refresh with a changed
energy value (HT1621 glass on the simulated chip, and the SSD1306 framebuf), of a refresh whose
frame did not change (nothing sent), and the number of pin writes one HT1621 refresh makes (the
figure that sets its cost on a board: about 3 per clock). Figures only, no thresholds.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

MP_SCRIPT = r"""
import gc
import time
import display_fixture as fx
from datamodel import metering as mt
from drivers.display import Screen
from drivers.ht1621 import Ht1621


class CountPin:
    def __init__(self):
        self.writes = 0

    def value(self, v=None):
        self.writes += 1


def measure(label, fn, n):
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    t = time.ticks_us()
    for i in range(n):
        fn(i)
    dt = time.ticks_diff(time.ticks_us(), t)
    a1 = gc.mem_alloc()
    gc.enable()
    print("%-44s %9.1f us %7d heap bytes" % (label, dt / n, (a1 - a0) // n))


b = fx.DisplayBench("bench")
b.measurements()
b.past_sw_id()
me = b.meter.metering
mgr = b.mgr


def changed(i):
    me.set(mt.ACTIVE_IMPORT, 4, 1000000 + 100 * i)  # the same second: no status word read
    mgr.refresh()


measure("refresh, changed value, HT1621 (sim chip)", changed, 300)
measure("refresh, frame unchanged (nothing sent)", lambda i: mgr.refresh(), 300)


class NullScreen(Screen):
    def show(self):
        pass


mgr.display = NullScreen()
measure("refresh, changed value, SSD1306 framebuf", changed, 300)
b.close()

pins = [CountPin(), CountPin(), CountPin()]
d = Ht1621(*pins)
for p in pins:
    p.writes = 0
d.render(mgr.shown)
print("HT1621 refresh: %d pin writes (CS %d, WR %d, DATA %d) for 39 + 137 clocks" % (
    sum(p.writes for p in pins), pins[0].writes, pins[1].writes, pins[2].writes))
"""


def main():
    p = subprocess.run(
        [micropython_exe(), "-c", MP_SCRIPT],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    print(p.stdout, end="")
    if p.returncode:
        print(p.stderr, file=sys.stderr)
    return p.returncode


if __name__ == "__main__":
    sys.exit(main())
