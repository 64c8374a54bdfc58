"""`make bench-metrology`: what the STPM3x driver costs per metering second on the Unix port,
and the heap one read allocates. Figures only, no thresholds.

The MicroPython side (embedded below) measures, with `time.ticks_us`:
- the driver alone: N reads against a Serial replaying one recorded read's answers (the UART's
  work is the port's), each read run to completion in one step;
- the driver with the simulated STPM3x (unix_sim's front-end: the IC model integrates the
  scenario `mixed` at every latch), one read per simulated second;
and the bytes allocated per driver read with the GC off (target 0: preallocated buffers).
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

N = 5000

MP_SCRIPT = r"""
import gc, sys, time
from drivers.sim.stpm3x_sim import Stpm3xSim
from drivers.stpm3x import Stpm3x
from jump_clock import JumpClock
from metrology import scenario
from metrology.sample import Sample
from stpm_replay import Replay, run_now

N = int(sys.argv[1])
clock = JumpClock()
dev = Stpm3xSim(scenario.load("mixed", seed=1), clock)
drv = Stpm3x(dev.serial(), clock)
s = Sample()
import asyncio
asyncio.run(drv.read(s))  # probe, rate change, configuration, baseline
dev.begin()
t0 = time.ticks_us()
for k in range(1, 601):
    clock.set(dev.t0_ms + 1000 * k)
    run_now(drv.read(s))
sim_us = time.ticks_diff(time.ticks_us(), t0) / 600
drv._ser = Replay([bytes(drv._rx[5 * k : 5 * k + 5]) for k in range(8)])


class Tick:
    # a clock that allocates nothing when it moves (ManualClock.set builds a list)
    def __init__(self, t):
        self.t = t

    def now_ms(self):
        return self.t


clock = Tick(clock.now_ms())
drv._clock = clock


def all_reads(reads):
    # awaited the way the energy engine awaits it: no StopIteration object per read
    for c in reads:
        clock.t += 1000
        yield from c


reads = [drv.read(s) for _ in range(N)]  # the coroutine objects: the engine's await makes one
gc.collect()
t0 = time.ticks_us()
run_now(all_reads(reads))
drv_us = time.ticks_diff(time.ticks_us(), t0) / N
reads = [drv.read(s) for _ in range(N)]
gc.collect()
gc.disable()
f0 = gc.mem_free()
run_now(all_reads(reads))
per = (f0 - gc.mem_free()) / N
gc.enable()
print("driver read (replayed answers): %.1f us per metering second" % drv_us)
print("driver + simulated STPM3x (scenario mixed): %.1f us per metering second" % sim_us)
print("heap allocated per driver read: %.1f bytes" % per)
print("on the UART: 40 bytes each way per read = %.2f ms at 115200 Bd" % (400 / 115.2))
"""


def main():
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bench_metrology_mp.py")
        with open(path, "w") as f:
            f.write(MP_SCRIPT)
        p = subprocess.run(
            [micropython_exe(), path, str(N)],
            env=mp_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
    if p.returncode:
        sys.stderr.write(p.stderr)
        return 1
    print("STPM3x front-end on the Unix port (%s reads)" % N)
    sys.stdout.write(p.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
