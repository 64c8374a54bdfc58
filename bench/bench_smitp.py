"""`make bench-smitp`: the SMITP security layer's figures on the unix port (issue #10).

1. Latency, request frame in -> answer frame out (mac.link.Mac.on_rx + poll, al.Application,
   smitp.security, a store on the unix_sim flash file), for a plain READ, an authenticated READ
   (CTR, ECC 1), an authenticated WRITE (CTR, ECC 5; the AL refuses WRITE today with a sealed
   NACK, so this is the security work plus the LMON persist, not a register write) with the
   default LMON window (32) and with window 1 (an LMON record on every message). Median, p99 and
   max over all samples, and p99/max over the "undisturbed" samples, during which the process
   was never preempted (Linux run_delay unchanged): the host is shared (its load average is
   printed) and a lost scheduler slice adds 4 ms or more that is not our code. Target p99 < 10 ms.
2. Heap bytes per exchange (gc.mem_alloc delta, GC off), whole stack and sec.open+seal alone;
   x64 instructions per exchange from callgrind (load-independent), if valgrind is installed.
3. Flash wear: LMON records per authenticated message (measured through Security), then those
   records put through the real store (its wear levelling as it is) on each board's flash
   geometry until every block has been erased several times; erases per block per message from
   store.stats() give the years until the first block reaches its rated cycles at one
   authenticated message per minute. Live set: today's records (keys, LMON, boot count, TCT)
   and the same plus 2 KiB of other records (a fuller data model). Other writers are not counted.
Figures only, no thresholds.
"""

import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench.bench_crypto import run as run_mp  # noqa: E402

MP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smitp_mp.py")
N, ROUNDS = 1000, 5
CASES = ("plain_read", "auth_read_ctr", "auth_write_ctr", "auth_write_ctr_window1")
PER_YEAR = 525_960  # messages at one per minute (365.25 days)
# name, block size, blocks, rated erase cycles, note
FLASHES = (
    ("unix_sim file", 4096, 8, 100_000, "boards/unix_sim.py; rated as the ESP32's NOR"),
    ("ESP32 mmstore", 4096, 16, 100_000, "boards/esp32_devkitc.py: 16 x 4 KiB sectors"),
    ("STM32F429 bank 2", 131072, 2, 10_000, "128 KiB sectors; 2 = the store's minimum"),
)
WINDOWS = (32, 1)
EXTRAS = (0, 2048)


def run(*args, prefix=()):
    out = run_mp([str(a) for a in args], MP, prefix)
    return [ln.split() for ln in out.splitlines() if ln]


def latency(tmp):
    print("load average %.2f %.2f %.2f (2 cores shared)" % os.getloadavg())
    print()
    print("request frame in -> answer frame out, unix port, microseconds")
    print(
        "%-24s %7s %6s %7s %7s | %7s %7s %7s | %11s"
        % ("case", "samples", "median", "p99", "max", "undist.", "p99", "max", "heap B/exch")
    )
    writes = []
    for case in CASES:
        lat = heap = None
        for w in run("latency", tmp, case, N, ROUNDS):
            if w[0] == "latency":
                lat = w
            elif w[0] == "writes":
                writes.append(w)
        heap = run("heap", tmp, case, N)[0]
        print(
            "%-24s %7s %6s %7s %7s | %7s %7s %7s | %11s"
            % (case, lat[2], lat[3], lat[4], lat[5], lat[6], lat[7], lat[8], heap[3])
        )
    sec = run("heap", tmp, "sec", N)[0]
    print("%-24s %s B per authenticated open()+seal()" % ("heap in smitp.security", sec[3]))
    print()
    print("flash work on the unix_sim flash (SimFlash, 8 x 4 KiB) during the latency runs")
    for w in writes:
        n = int(w[2])
        print(
            "%-24s %5d messages: %5s LMON records (%.4f/message), %7s bytes programmed, %s erases"
            % (w[1], n, w[4], int(w[4]) / n, w[6], w[8])
        )


def instructions(tmp):
    """x64 instructions per exchange from two callgrind runs (independent of host load)."""
    if not shutil.which("valgrind"):
        print("valgrind not found: instruction counts skipped")
        return
    n = 200
    print()
    print("x64 instructions per exchange (callgrind; (I(build+run) - I(build)) / %d)" % n)
    for case in CASES:
        total = []
        for ex in (0, 1):
            d = os.path.join(tmp, "cg_%s_%d" % (case, ex))
            os.mkdir(d)
            out = os.path.join(d, "cg.out")
            cg = ("valgrind", "--tool=callgrind", "--callgrind-out-file=" + out)
            run("instr", d, case, n, ex, prefix=cg)
            with open(out) as f:
                total.append(int(re.search(r"(?:summary|totals):\s+(\d+)", f.read()).group(1)))
        print("%-24s %10.0f" % (case, (total[1] - total[0]) / n))


def wear():
    print()
    print("flash wear from the LMON records at 1 authenticated message per minute")
    print(
        "%-18s %6s %6s %14s %8s %9s %12s %12s"
        % ("flash", "window", "live B", "records/msg", "msgs", "max erase", "erases/yr", "years")
    )
    for name, bs, nb, cycles, note in FLASHES:
        for window in WINDOWS:
            for extra in EXTRAS:
                per_block = (bs - 24 - 400 - extra) // 32
                msgs = 4 * nb * per_block * window
                w = run("wear", bs, nb, extra, msgs, window)[0]
                n, measured, live = int(w[4]), int(w[5]), int(w[6])
                erases = [int(x) for x in "".join(w[8:]).strip("[]").split(",")]
                rate = max(erases) / n * PER_YEAR
                years = cycles / rate if rate else float("inf")
                print(
                    "%-18s %6d %6d %14s %8d %9d %12.1f %12.0f"
                    % (
                        name,
                        window,
                        live,
                        "%d/%d" % (measured, min(n, 64)),
                        n,
                        max(erases),
                        rate,
                        years,
                    )
                )
        print("    (%s; %d cycles)" % (note, cycles))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        latency(tmp)
        instructions(tmp)
    wear()


if __name__ == "__main__":
    main()
