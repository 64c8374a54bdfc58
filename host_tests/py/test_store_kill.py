"""System test: SIGKILL a MicroPython process while it commits to the store on sim flash.

A worker (store_worker.py) counts N upward in key 1 of a drivers.sim.flash file, printing
`committed N` after each put returns; SimFlash writes 4 bytes per os write, so a kill can tear a
record, a compaction or an erase. After each kill a reader process mounts the store and prints
what it recovers. Invariants after every kill: the payload matches its N; N >= the last
committed value and N <= that + 1 (the put in flight); the write-once keys are intact. The next
worker continues from the recovered N, so compactions rotate through all blocks across kills.

STORE_KILLS (default 200) sets the number of kills; each comes after a seeded number of
`committed` lines (0..KILL_AFTER_MAX), so no test timing is involved.
"""

import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "store_worker.py")
KILLS = int(os.environ.get("STORE_KILLS", "200"))
SEED = 20240607
KILL_AFTER_MAX = 3  # commits before the kill: 0..3, seeded


def _lines(raw):
    text = raw.decode(errors="replace")
    parts = text.split("\n")
    return [p.strip() for p in parts[:-1]]  # the last piece may be a line cut by the kill


def read_store(flash):
    p = subprocess.run(
        [micropython_exe(), WORKER, "read", str(flash)],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    value, ok, statics, stats = None, True, {}, None
    for line in _lines(p.stdout):
        w = line.split()
        if w[0] == "value" and w[1] != "none":
            value, ok = int(w[1]), w[2] == "ok"
        elif w[0] == "static":
            statics[int(w[1])] = w[2]
        elif w[0] == "stats":
            stats = [int(x) for x in w[1:]]
    return value, ok, statics, stats


def test_store_survives_sigkill(tmp_path):
    rng = random.Random(SEED)
    flash = tmp_path / "flash.bin"
    known = 0  # value recovered after the previous kill
    t0 = time.monotonic()
    gens = []
    torn = 0
    for i in range(KILLS):
        w = subprocess.Popen(
            [micropython_exe(), WORKER, "work", str(flash)],
            env=mp_env(),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        # kill after a seeded number of commits (an event count, not a delay); the worker keeps
        # writing while the signal is on its way, so the kill lands inside the next put
        want, seen = rng.randrange(KILL_AFTER_MAX + 1), []
        while sum(ln.startswith(b"committed ") for ln in seen) < want:
            line = w.stdout.readline()
            if not line:
                break
            seen.append(line)
        w.send_signal(signal.SIGKILL)
        raw = b"".join(seen) + w.stdout.read()  # the same buffered reader: nothing skipped
        err = w.stderr.read()
        w.wait(timeout=30)
        assert w.returncode == -signal.SIGKILL, (w.returncode, err)
        started = None
        committed = []
        for line in _lines(raw):
            if line.startswith("start "):
                started = int(line.split()[1])
            elif line.startswith("committed "):
                committed.append(int(line.split()[1]))
        if started is not None:
            assert started == known, (i, started, known)
        assert committed == list(range(known + 1, known + 1 + len(committed))), i
        floor = committed[-1] if committed else known
        value, ok, statics, stats = read_store(flash)
        value = value or 0
        assert ok, f"kill {i}: payload does not match its counter {value}"
        assert floor <= value <= floor + 1, (i, floor, value)
        assert "BAD" not in statics.values(), (i, statics)
        if started is not None:
            assert set(statics.values()) == {"ok"}, (i, statics)
        assert stats[3] == 0, "committed records damaged"
        gens.append(stats[0])
        torn += stats[2]
        known = value
    dt = time.monotonic() - t0
    print(f"{KILLS} kills in {dt:.1f}s; final N={known}, generation {gens[-1]}, torn tails {torn}")
    assert known > KILLS  # real progress across kills
    assert gens[-1] > 3 * 3  # compactions cycled through the 3-block ring several times
    assert torn > 0  # some kills did land mid-record
