"""`make bench-adc`: direct-ADC metering cost -> stdout and build/bench/adc.json.

- unix port: wall time and heap per metering second (AdcFrontend.read over one second of
  preallocated blocks: 4000 V/I pairs, 25 blocks of 160, through the viper kernel);
- Cortex-M4: the asm_thumb kernel's instructions per pair on the emulated core
  (tools/thumb_emu.py, unicorn; cycles by its pessimistic timing model), the rest (the bytecode
  drain loop and the once-a-second integer conversion) as 1.15 x its x86-64 callgrind count,
  the calibration docs/phy.md uses; the viper kernel the same way for comparison;
- the PHY receive chain (tools/data/phy_bench.json, docs/phy.md) plus metering against the
  CPU budget (30 % of a 168 MHz M4 = about 30 M instructions/s);
- accuracy (tools/adc_ref.py): the 10-minute test waveform and the scenario generator "mixed".
Set ADC_BENCH_QUICK=1 to skip the accuracy runs.
"""

import json
import os
import random
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import adc_ref, thumb_emu  # noqa: E402
from tools.mpenv import micropython_exe, mp_env  # noqa: E402

OUT = ROOT / "build" / "bench"
QUICK = os.environ.get("ADC_BENCH_QUICK") == "1"
FS = 4000
M4_PER_X86 = 1.15  # docs/phy.md: viper/bytecode x86-64 instructions -> M4 (cycles) calibration
BUDGET_MIPS = 30.0

# one second of the "harmonics" scenario's codes, replayed from preallocated views; argv:
# mode (time | cg), seconds, kernel (viper | nop)
MP_BENCH = r"""
import sys, gc, time, micropython
from array import array
from metrology import scenario
from metrology.adc_frontend import AdcFrontend, AdcCal
from metrology.sample import Sample
from drivers.sim.adc_source import SimAdcSource
from adc_model import Replay
mode, secs, kern = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t = [0]
syn = SimAdcSource(scenario.load("harmonics"), lambda: t[0], t0_s=30)
whole = array('h', bytearray(4 * 4000))
t[0] = 1000
for k in range(25):
    whole[320 * k:320 * (k + 1)] = syn.take()
@micropython.viper
def nop(buf: ptr16, n: int, st: ptr32, ring: ptr16) -> int:
    st[0] += n
    return st[0]
src = Replay(whole, 160)
fe = AdcFrontend(src, AdcCal(), kernel=nop if kern == 'nop' else None)
s = Sample()
for _ in range(3):
    src.left = 25
    fe.measure(s)
if mode == 'time':
    gc.collect()
    a0 = gc.mem_alloc()
    t0 = time.ticks_us()
    for _ in range(secs):
        src.left = 25
        fe.measure(s)
    dt = time.ticks_diff(time.ticks_us(), t0)
    a1 = gc.mem_alloc()
    print(dt / secs, (a1 - a0) / secs, s.p_mw, s.v_mv, s.i_ma, s.f_mhz)
else:
    for _ in range(secs):
        src.left = 25
        fe.measure(s)
    print(s.p_mw)
"""


def run_mp(args, valgrind=None):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "b.py")
        with open(path, "w") as f:
            f.write(MP_BENCH)
        cmd = [micropython_exe(), "-X", "heapsize=8M", path, *map(str, args)]
        out = os.path.join(d, "cg.out")
        if valgrind:
            cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd
        p = subprocess.run(
            cmd, env=mp_env(), cwd=ROOT, capture_output=True, text=True, timeout=900
        )
        if p.returncode:
            raise RuntimeError(p.stdout + p.stderr)
        if not valgrind:
            return p.stdout.split()
        for line in p.stderr.splitlines():
            if "Collected" in line:
                return int(line.split("Collected :")[1].strip().replace(",", ""))
        raise RuntimeError(p.stderr)


def callgrind_per_second(kernel):
    """x86-64 instructions per metering second (difference of a 30 s and a 10 s run)."""
    a = run_mp(("cg", 10, kernel), valgrind=True)
    b = run_mp(("cg", 30, kernel), valgrind=True)
    return (b - a) / 20.0


def thumb_per_pair():
    """(instructions, cycles) per pair of adc_thumb.run on the emulated M4, 160-pair blocks of
    a 50 Hz waveform with noise, state carried block to block."""
    sys.path.insert(0, str(ROOT / "host_tests" / "py"))
    import test_adc_thumb as t

    rng = random.Random(5)
    codes = t.wave(rng, 4000, 50.0, 1600, 900, 0.6)
    code = thumb_emu.extract(t.KERN, "run")
    st = struct.pack("<%di" % t.ST_WORDS, *t.fresh_state(20 << 8))
    ring = struct.pack("<%dh" % (2 * t.RING), *([2048] * (2 * t.RING)))
    ins = cyc = 0
    for k in range(25):
        b = struct.pack("<320h", *codes[320 * k : 320 * (k + 1)])
        r = thumb_emu.run(code, [b, 160, st, ring], cycles=True)
        st, ring = r.bufs[1], r.bufs[2]
        ins += r.insns[0]
        cyc += r.insns[1]
    return ins / 4000.0, cyc / 4000.0


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    res = {}
    us, heap, p_mw, v_mv, i_ma, f_mhz = map(float, run_mp(("time", 200, "viper")))
    res["unix_us_per_metering_second"] = round(us, 1)
    res["unix_heap_bytes_per_metering_second"] = heap
    res["unix_check_p_w_v_i_f"] = [p_mw / 1000, v_mv / 1000, i_ma / 1000, f_mhz / 1000]
    print(
        "unix port: %.1f us per metering second (%.3f %% of a core), heap %.1f bytes per second"
        % (us, us / 1e4, heap)
    )
    full = callgrind_per_second("viper")
    rest = callgrind_per_second("nop")
    kern_x86 = (full - rest) / FS
    ins, cyc = thumb_per_pair()
    m4_rest = M4_PER_X86 * rest  # per second: drain loop, kernel calls, the read's conversion
    thumb_mips = (ins * FS + m4_rest) / 1e6
    thumb_mcyc = (cyc * FS + m4_rest) / 1e6
    viper_mips = (M4_PER_X86 * kern_x86 * FS + m4_rest) / 1e6
    res["m4"] = dict(
        pairs_per_second=FS,
        thumb_instr_per_pair_emulated=round(ins, 1),
        thumb_cycles_per_pair_model=round(cyc, 1),
        viper_kernel_x86_instr_per_pair=round(kern_x86, 1),
        viper_kernel_instr_per_pair_est=round(M4_PER_X86 * kern_x86, 1),
        rest_x86_instr_per_second=round(rest),
        rest_instr_per_second_est=round(m4_rest),
        metering_mips_thumb=round(thumb_mips, 3),
        metering_mcycles_thumb=round(thumb_mcyc, 3),
        metering_percent_of_168mhz_thumb=round(100 * thumb_mcyc / 168, 2),
        metering_mips_viper=round(viper_mips, 3),
        metering_percent_of_168mhz_viper=round(100 * viper_mips / 168, 2),
    )
    phy = json.loads((ROOT / "tools" / "data" / "phy_bench.json").read_text())["m4_estimate"]
    tot_mips = phy["mips_with_thumb_kernels"] + thumb_mips
    tot_mcyc = phy["rx_chain_mcycles_per_s_est"] + thumb_mcyc
    res["phy_plus_metering"] = dict(
        phy_mips=phy["mips_with_thumb_kernels"],
        phy_mcycles=phy["rx_chain_mcycles_per_s_est"],
        total_mips=round(tot_mips, 2),
        percent_of_budget=round(100 * tot_mips / BUDGET_MIPS, 1),
        total_mcycles=round(tot_mcyc, 2),
        percent_of_168mhz=round(100 * tot_mcyc / 168, 1),
    )
    print(
        "Cortex-M4 (168 MHz): asm_thumb kernel %.1f instr/pair emulated (%.1f cycles, model);"
        " viper kernel %.1f instr/pair est.; the rest %.0f instr/s est.\n"
        "  metering: %.3f M instr/s, %.3f M cycles/s = %.2f %% of the CPU (viper kernel: %.2f %%)"
        % (
            ins,
            cyc,
            M4_PER_X86 * kern_x86,
            m4_rest,
            thumb_mips,
            thumb_mcyc,
            100 * thumb_mcyc / 168,
            100 * viper_mips / 168,
        )
    )
    print(
        "  PHY receive chain %.2f + metering %.2f = %.2f M instr/s = %.1f %% of the %.0f M budget;"
        " %.2f M cycles/s = %.1f %% of 168 MHz"
        % (
            phy["mips_with_thumb_kernels"],
            thumb_mips,
            tot_mips,
            100 * tot_mips / BUDGET_MIPS,
            BUDGET_MIPS,
            tot_mcyc,
            100 * tot_mcyc / 168,
        )
    )
    if not QUICK:
        res["accuracy_test_waveform"] = adc_ref.compare(adc_ref.accuracy_scenario(), 600)
        res["accuracy_mixed"] = adc_ref.compare(adc_ref.expand_generator("mixed", 600), 600)
        for k in ("accuracy_test_waveform", "accuracy_mixed"):
            r = res[k]
            print(
                "accuracy, %s: active %+.4f %%, reactive %+.3f %% of apparent, RMS V %.4f/%.4f %%,"
                " I %.4f/%.4f %% (mean/max per second)"
                % (
                    k,
                    r["energy_err_pct"],
                    r["reactive_err_pct_of_apparent"],
                    r["v_rms_err_pct_mean"],
                    r["v_rms_err_pct_max"],
                    r["i_rms_err_pct_mean"],
                    r["i_rms_err_pct_max"],
                )
            )
    (OUT / "adc.json").write_text(json.dumps(res, indent=1))
    print("-> build/bench/adc.json")


if __name__ == "__main__":
    main()
