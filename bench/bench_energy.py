"""`make bench-energy`: the energy engine's figures (docs/metering.md §8). Figures only.

1. MicroPython (unix port), the engine on simulated time with the deterministic front-end
   (host_tests/mp/fakes/metrology.py):
   - CPU per metering second: book + registers + listeners (`Engine._second`), mean µs;
   - heap per metering second: the engine's own work (0 expected) and the whole task loop with
     the fake front-end's read() coroutine (bench/bench_heap.py measures a real unix_sim meter);
   - the savers' time at a supply loss: the energy saver's put on a RAM flash (CPU only) and on
     unix_sim's SimFlash file, mean and max, and a checkpoint (with Store.ensure_free);
   - flash wear: 6 simulated hours of a household-like load on unix_sim's 8 x 4 KiB store,
     counting checkpoints, bytes programmed and erases; scaled to a day.
2. Flash life per board from those counts (STM32F429 bank 2 sectors 22-23: 2 x 128 KiB,
   10 000 cycles; ESP32 "mmstore": 16 x 4 KiB, 100 000 cycles), energy's share alone.
3. The kill figures: 200 announced cuts over a simulated week and 1,000 SIGKILLs
   (host_tests/py/test_energy_kill.py's functions); `--quick` runs 20 and 100, `--no-kills`
   none.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(
    0,
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "host_tests", "py"),
)
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

MP_SCRIPT = r"""
import gc, json, time, asyncio
from energy_bench import EnergyBench, START, fill
import store as _store
from selftest import RamFlash


out = {}
b = EnergyBench("bench_energy")
b.run(5)
e = b.meter.energy
s = e.sample
t0 = START + 6


# CPU per metering second (no checkpoint due in the timed seconds)
N = 2000
e._ck_t = t0 + 10 * N
us = 0
for i in range(N):
    fill(s, i)
    a = time.ticks_us()
    e._second(t0 + i, 1)
    us += time.ticks_diff(time.ticks_us(), a)
out["second_us"] = us / N
gc.collect()
a = gc.mem_alloc()
for i in range(N, N + 500):
    fill(s, i)
    e._second(t0 + i, 1)
out["engine_heap_per_s"] = (gc.mem_alloc() - a) / 500


# the whole task loop on a clock whose sleeps return at once (allocating nothing, as the
# boards' Clock); GC off, so mem_alloc counts every byte allocated
class FastClock:
    def __init__(self):
        self.t = 0

    def now_ms(self):
        return self.t

    def sleep_ms(self, ms):
        self.t += ms if ms > 0 else 0
        return asyncio.sleep_ms(0)


fb = EnergyBench("bench_energy_loop")
fc = FastClock()
fb.clock = fc
fb.rtc.clock = fc
fb.rtc.start = START
fb.boot()
fm = fb.meter
fm.hw.metrology.last = START


async def loop(n):
    task = asyncio.create_task(fm.energy.run())
    while fm.energy.seconds < 50:
        await asyncio.sleep_ms(0)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    s0 = fm.energy.seconds
    c0 = fm.energy.checkpoints
    while fm.energy.seconds < s0 + n:
        await asyncio.sleep_ms(0)
    got = gc.mem_alloc() - a
    gc.enable()
    task.cancel()
    return got / n, fm.energy.checkpoints - c0


out["loop_heap_per_s"], out["loop_checkpoints"] = asyncio.run(loop(50))
# the fake front-end's own share: its read on its own, same number of seconds
fake = fm.hw.metrology
gc.collect()
gc.disable()
a = gc.mem_alloc()
for i in range(50):
    fb.rtc.start += 1
    c = fake.read(s)
    try:
        c.send(None)
    except StopIteration:
        pass
out["fake_read_heap_per_s"] = (gc.mem_alloc() - a) / 50
gc.enable()

# savers: the energy put on a RAM flash (the CPU part) and on the SimFlash file
for name, st in (("ram", _store.Store(RamFlash(4096, 8))), ("simflash", b.meter.store)):
    e.meter.store = st
    st.ensure_free(1024)
    times = []
    for i in range(20):
        if st.stats()["free"] < 1024:
            st.ensure_free(1024)
        a = time.ticks_us()
        e.save()
        times.append(time.ticks_diff(time.ticks_us(), a))
    out["save_us_" + name] = (sum(times) / len(times), max(times))
    times = []
    for i in range(20):
        a = time.ticks_us()
        e.checkpoint(t0)
        times.append(time.ticks_diff(time.ticks_us(), a))
    out["checkpoint_us_" + name] = (sum(times) / len(times), max(times))
e.meter.store = b.meter.store
out["rec_bytes"] = len(e._rec)
b.close()
fb.close()

# wear: 6 simulated hours on unix_sim's store geometry
w = EnergyBench("bench_energy_wear")
f = w.meter.hw.flash
p0 = f.bytes_programmed
H = 6 * 3600
w.run(H)
st = w.meter.store.stats()
out["wear"] = {
    "sim_s": H,
    "checkpoints": w.meter.energy.checkpoints,
    "bytes_programmed": f.bytes_programmed - p0,
    "erases": sum(f.erase_counts),
    "compactions": st["compactions"],
    "live": st["live"],
    "block": st["block_size"],
    "blocks": st["n_blocks"],
}
w.close()
print(json.dumps(out))
"""


def mp_figures():
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(MP_SCRIPT)
        path = f.name
    try:
        p = subprocess.run(
            [micropython_exe(), "-X", "heapsize=4M", path],
            env=mp_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    finally:
        os.unlink(path)
    if p.returncode:
        raise SystemExit(p.stdout + p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])


def footprint(n):
    # store record: header 12 + value + CRC 4, padded to 8, + commit 8 (docs/store.md)
    return ((12 + n + 4 + 7) & ~7) + 8


BOARDS = (
    # name, block bytes, blocks, erase cycles
    ("STM32F429 bank 2 (2 x 128 KiB)", 128 * 1024, 2, 10_000),
    ("ESP32 mmstore (16 x 4 KiB)", 4096, 16, 100_000),
)


def life(checkpoints_per_day, rec, live):
    rows = []
    per_day = checkpoints_per_day * footprint(rec)
    for name, bs, n, cycles in BOARDS:
        usable = bs - 24 - live
        compactions = per_day / usable
        erases_per_block = compactions / n
        rows.append(
            (name, per_day, compactions, erases_per_block, cycles / erases_per_block / 365)
        )
    return rows


def main():
    quick = "--quick" in sys.argv
    t = time.monotonic()
    mp = mp_figures()
    print("== energy engine on the unix port (x64), simulated time")
    print(f"CPU per metering second (book, registers, quality): {mp['second_us']:.1f} µs")
    print(f"heap per metering second, the engine's own work:    {mp['engine_heap_per_s']:.1f} B")
    print(
        f"heap per metering second, the whole task loop:      {mp['loop_heap_per_s']:.1f} B "
        f"(of which the fake front-end's read: {mp['fake_read_heap_per_s']:.1f} B; the rest is "
        f"its read() coroutine and one checkpoint's share; checkpoints in the window: "
        f"{mp['loop_checkpoints']}; a real meter: make bench-heap)"
    )
    for k in ("ram", "simflash"):
        s, c = mp["save_us_" + k], mp["checkpoint_us_" + k]
        print(
            f"energy saver ({k:8s}): mean {s[0]:.0f} µs, max {s[1]} µs; "
            f"checkpoint mean {c[0]:.0f} µs, max {c[1]} µs"
        )
    rec = mp["rec_bytes"]
    w = mp["wear"]
    per_day = w["checkpoints"] * 86400 / w["sim_s"]
    print(
        f"state record {rec} B = {footprint(rec)} B of flash per put; "
        f"{w['checkpoints']} checkpoints in {w['sim_s'] // 3600} h -> {per_day:.0f}/day"
    )
    print(
        f"unix_sim store (8 x 4 KiB), 6 h: {w['bytes_programmed']} B programmed, "
        f"{w['compactions']} compactions, {w['erases']} erases, live set {w['live']} B"
    )
    print("== flash life, energy's writes alone (live set as measured on unix_sim)")
    for name, b_day, comp, epb, years in life(per_day, rec, w["live"]):
        print(
            f"{name}: {b_day / 1024:.0f} KiB/day, {comp:.2f} compactions/day, "
            f"{epb:.3f} erases/block/day -> {years:.0f} years"
        )
    if "--no-kills" in sys.argv:
        return
    sys.path.insert(0, os.path.join(ROOT, "host_tests", "py"))
    import test_energy_kill as k

    cuts, kills = (20, 100) if quick else (200, 1000)
    print(f"== {cuts} announced cuts over a simulated week")
    with tempfile.TemporaryDirectory() as d:
        t1 = time.monotonic()
        f = k.announced(d, cuts, 20261130)
        print(f, f"{time.monotonic() - t1:.0f} s")
    print(f"== {kills} SIGKILLs at random moments")
    with tempfile.TemporaryDirectory() as d:
        t1 = time.monotonic()
        f = k.sigkills(d, kills, 20261201)
        print(f, f"{time.monotonic() - t1:.0f} s")
    print(f"total {time.monotonic() - t:.0f} s")


if __name__ == "__main__":
    main()
