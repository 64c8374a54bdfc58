"""`make bench-memory`: RAM of the meter on the Unix MicroPython port (x64, 8-byte words), and an
estimate for the STM32F429 with the firmware frozen into flash. Figures only, no thresholds.

The MicroPython side (embedded below) runs with a fixed 1 MiB heap and prints, after gc.collect():
- the heap taken by importing the firmware's modules (bytecode, functions, module tables: on a
  frozen build most of this stays in flash),
- the heap the built Meter holds (store, MAC, application, supervisor, buffers: RAM on every
  build) and the free heap after boot,
- steady state over N READ exchanges on a scripted PHY, collecting before each: the largest
  live heap, the peak heap (live + what one exchange allocates before the next collection),
  and the bytes allocated per exchange (GC off).
Then the frozen-build estimate: the same modules compiled by mpy-cross for armv7emsp (what
goes to flash), and the meter's RAM scaled for 4-byte words (objects shrink about half;
bytearray buffers do not), given as a range.
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.mpenv import ROOT, micropython_exe, mp_env, mpy_cross_exe  # noqa: E402

N = 400
HEAP = "1M"

MP_SCRIPT = r"""
import gc, json, os, sys
gc.collect()
base = gc.mem_alloc()
import asyncio
import config
from app import Meter
from clock import ManualClock
from drivers.sim.flash import SimFlash
from drivers.sim.script_phy import ScriptPhy
from hw import Hardware
gc.collect()
code = gc.mem_alloc() - base

N = int(sys.argv[1])
ACA = bytes.fromhex("4d4d00004201")
REQ = bytes((13,)) + ACA + bytes((0x21, 0, 1, 0)) + b"\x02\x00\x3f"


state = sys.argv[2]
try:
    os.remove(state)
except OSError:
    pass
clock = ManualClock(1000)
phy = ScriptPhy(clock)
hw = Hardware("unix_sim", clock=clock, phy=phy, flash=SimFlash(state, 4096, 4))
cfg = config.load(overrides={"aca": ACA.hex(), "seed": 1})
gc.collect()
pre = gc.mem_alloc()
meter = Meter(hw, cfg, strict=True)
gc.collect()
meter_ram = gc.mem_alloc() - pre
reqs = []
for i in range(8):
    r = bytearray(REQ)
    r[8] = i << 4
    reqs.append(bytes(r))
sent = [0]


async def exchange(i):
    sent[0] += len(phy.sent)
    phy.sent.clear()  # the script's own record would grow the live heap
    phy.push(reqs[i & 7], clock.now_ms())
    for _ in range(5):
        await asyncio.sleep_ms(0)
    clock.advance(20)
    for _ in range(5):
        await asyncio.sleep_ms(0)
    clock.advance(400)


async def main():
    meter.start()
    asyncio.create_task(meter.supervisor.run())
    for i in range(20):  # warm up: first-use allocations
        await exchange(i)
    gc.collect()
    out = {"code": code, "meter": meter_ram, "after_boot": gc.mem_alloc(),
           "free_after_boot": gc.mem_free()}
    peak = live = 0
    for i in range(N):  # collect before each exchange: peak = live heap + one exchange's garbage
        gc.collect()
        a = gc.mem_alloc()
        live = a if a > live else live
        await exchange(i)
        a = gc.mem_alloc()
        peak = a if a > peak else peak
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    for i in range(100):
        await exchange(i)
    per = (gc.mem_alloc() - a0) // 100
    gc.enable()
    out.update({"peak": peak, "live_max": live, "per_exchange": per,
                "sent": sent[0] + len(phy.sent),
                "faults": meter.faults.count,
                "files": {m: sys.modules[m].__file__ for m in sys.modules
                          if getattr(sys.modules[m], "__file__", "").endswith(".py")}})
    meter.supervisor.stop()
    print(json.dumps(out))


asyncio.run(main())
"""


def mpy_sizes(files, tmp):
    total = 0
    for name, path in sorted(files.items()):
        out = os.path.join(tmp, name + ".mpy")
        src = path if os.path.isabs(path) else os.path.join(ROOT, path)
        if not os.path.exists(src):  # the port's own frozen modules (asyncio)
            continue
        subprocess.run([mpy_cross_exe(), "-march=armv7emsp", "-o", out, src], check=True, cwd=ROOT)
        total += os.path.getsize(out)
    return total


def main():
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "mem.py")
        with open(script, "w") as f:
            f.write(MP_SCRIPT)
        p = subprocess.run(
            [micropython_exe(), "-X", "heapsize=" + HEAP, script, str(N), tmp + "/f.bin"],
            env=mp_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if p.returncode:
            raise SystemExit(p.stdout + p.stderr)
        r = json.loads(p.stdout)
        assert r["sent"] == N + 120 and r["faults"] == 0, r
        flash = mpy_sizes(r["files"], tmp)
    kb = 1024
    print(f"Unix port (x64), heap {HEAP}, {len(r['files'])} firmware modules imported:")
    print(f"  modules imported (code + module tables)   {r['code'] / kb:8.1f} KiB")
    print(f"  Meter built (store, MAC, app, supervisor) {r['meter'] / kb:8.1f} KiB")
    print(f"  live heap after boot (+ warm-up)          {r['after_boot'] / kb:8.1f} KiB")
    print(f"  free heap after boot                      {r['free_after_boot'] / kb:8.1f} KiB")
    print(f"  steady state, {N} READ exchanges:")
    print(f"    largest live heap                       {r['live_max'] / kb:8.1f} KiB")
    print(f"    peak heap (live + one exchange)         {r['peak'] / kb:8.1f} KiB")
    print(f"    allocated per exchange (GC off)         {r['per_exchange']:8d} B")
    lo = r["meter"] * 0.5 / kb
    hi = r["meter"] / kb
    churn = r["per_exchange"] / kb
    print("STM32F429 estimate, frozen build (modules in flash):")
    print(f"  those modules as armv7emsp .mpy (flash)   {flash / kb:8.1f} KiB")
    print(f"  meter RAM at 4-byte words                 {lo:5.1f} .. {hi:5.1f} KiB")
    print(f"  + garbage per exchange until the next GC  {churn / 2:5.1f} .. {churn:5.1f} KiB")
    print(
        "  (plus the port's own RAM: asyncio, sys, the PHY driver buffers of the chosen backend, "
        "not counted here)"
    )


if __name__ == "__main__":
    main()
