"""MicroPython half of `make bench-smitp` (bench/bench_smitp.py runs it; not a CPython module).

micropython bench/smitp_mp.py latency STATE_DIR CASE N ROUNDS
micropython bench/smitp_mp.py heap STATE_DIR CASE N      (CASE "sec": open+seal only)
micropython bench/smitp_mp.py instr STATE_DIR CASE N 0|1 (build N frames; 1: and run them)
    request frame in -> answer frame out through mac.link.Mac + al.Application + smitp.security
    on a store on the unix_sim flash (drivers.sim.flash.SimFlash, 8 x 4 KiB, a file), the same
    wiring as app.Meter. CASE: plain_read, auth_read_ctr, auth_write_ctr (LMON window 32),
    auth_write_ctr_window1 (an LMON record per message). Prints: samples, microseconds median,
    p99 and max over all samples, then the same for the samples during which the process was
    never preempted (its run_delay in /proc/self/schedstat did not move); flash writes; or heap
    bytes per exchange (gc.mem_alloc, GC off).
micropython bench/smitp_mp.py wear BLOCK_SIZE N_BLOCKS EXTRA_BYTES MESSAGES WINDOW
    authenticated messages through smitp.security on a RAM NOR flash of that geometry, with the
    live records of today's meter plus EXTRA_BYTES of other records; prints the store's stats.
"""

import gc
import sys
import time

import sec_fixture as fx
import storekeys
from smitp import security

STATUS = b"\x00\x3f"


def _pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, (len(xs) * p) // 100)]


def _run_delay():
    """Linux: total ns this process has waited for a CPU (/proc/self/schedstat field 2). It
    changes only when the process was preempted or delayed, so a sample between two equal
    readings ran undisturbed by the other processes of the host."""
    try:
        with open("/proc/self/schedstat", "rb") as f:
            return f.read().split()[1]
    except OSError:
        return None


def _case(name, stack, make, n, rounds):
    """make(stack) -> the next request frame (built outside the timed section)."""
    mac = stack.mac
    every = []
    quiet = []
    for _ in range(rounds * n):
        f = make(stack)
        stack.t_ms += 10_000
        t_ms = stack.t_ms
        d0 = _run_delay()
        t0 = time.ticks_us()
        mac.on_rx(f, None, t_ms)
        out = mac.poll(t_ms + 5_000)
        t1 = time.ticks_us()
        d1 = _run_delay()
        if out is None:
            raise SystemExit("%s: no answer" % name)
        dt = time.ticks_diff(t1, t0)
        every.append(dt)
        if d0 is not None and d0 == d1:
            quiet.append(dt)
    q = quiet or [0]
    print(
        "latency %s %d %d %d %d %d %d %d"
        % (
            name,
            len(every),
            _pct(every, 50),
            _pct(every, 99),
            max(every),
            len(quiet),
            _pct(q, 99),
            max(q),
        )
    )


def _heap(name, stack, make, n):
    mac = stack.mac
    frames = [None] * n  # preallocated: the crypto garbage of make() fragments the heap
    for i in range(n):
        frames[i] = make(stack)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for f in frames:
        stack.t_ms += 10_000
        mac.on_rx(f, None, stack.t_ms)
        mac.poll(stack.t_ms + 5_000)
    b = gc.mem_alloc()
    gc.enable()
    print("heap %s %d %.1f" % (name, n, (b - a) / n))


def _sec_heap(n):
    sec, _ = fx.make(window=1 << 30)
    reqs = [None] * (n + 1)
    for i in range(n + 1):
        reqs[i] = fx.request(102, STATUS, i + 1, 1)
    data = bytes(8)
    r = sec.open(reqs[0], 1)
    sec.seal(r, 103, data)
    gc.collect()
    gc.disable()
    a = gc.mem_alloc()
    for i in range(1, n + 1):
        r = sec.open(reqs[i], 1)
        sec.seal(r, 103, data)
    b = gc.mem_alloc()
    gc.enable()
    print("heap sec.open+seal %d %.1f" % (n, (b - a) / n))


def _stack(state_dir, window):
    from drivers.sim.flash import SimFlash

    path = "%s/flash_w%d.bin" % (state_dir, window)
    return fx.Stack(SimFlash(path, 4096, 8), window=window)


def _plain(st, mon=None):
    return fx.frame(b"\x02" + STATUS, 0)


def _read(st, mon=None):
    mon = st.sec.lmon + 1 if mon is None else mon
    return fx.frame(fx.request(102, STATUS, mon, 1), 1)


def _write(st, mon=None):
    mon = st.sec.lmon + 1 if mon is None else mon
    return fx.frame(fx.request(104, b"\x00\x50\x00\x00\x0e\x10", mon, 5), 5)


_CASES = {
    "plain_read": (security.LMON_WINDOW, _plain),
    "auth_read_ctr": (security.LMON_WINDOW, _read),
    "auth_write_ctr": (security.LMON_WINDOW, _write),
    "auth_write_ctr_window1": (1, _write),
}


def latency(state_dir, case, n, rounds):
    window, make = _CASES[case]
    st = _stack(state_dir, window)
    e0 = sum(st.store.stats()["erases"])
    w0 = st.flash.bytes_programmed
    r0 = st.sec.stats["lmon_writes"]
    _case(case, st, make, n, rounds)
    print(
        "writes %s %d lmon_records %d programmed_bytes %d erases %d"
        % (
            case,
            n * rounds,
            st.sec.stats["lmon_writes"] - r0,
            st.flash.bytes_programmed - w0,
            sum(st.store.stats()["erases"]) - e0,
        )
    )


def instr(state_dir, case, n, exchange):
    """Build n request frames, then (exchange=1) run them: two callgrind runs differ only by
    the exchanges, so (I1 - I0) / n is the instruction count of one exchange."""
    window, make = _CASES[case]
    st = _stack(state_dir, window)
    lm = st.sec.lmon
    frames = [None] * n
    for i in range(n):
        frames[i] = make(st, lm + 1 + i)
    if exchange:
        mac = st.mac
        for f in frames:
            st.t_ms += 10_000
            mac.on_rx(f, None, st.t_ms)
            if mac.poll(st.t_ms + 5_000) is None:
                raise SystemExit("instr: no answer")


def heap(state_dir, case, n):
    if case == "sec":
        _sec_heap(n)
        return
    window, make = _CASES[case]
    _heap(case, _stack(state_dir, window), make, n)


def wear(bs, nb, extra, messages, window):
    from selftest import RamFlash
    from store import Store

    s = Store(RamFlash(bs, nb))
    s.put(storekeys.BOOT_COUNT, b"\x00\x00\x00\x01")
    s.put(storekeys.TCT, b"\xff")
    k = 0x7000  # bench-only keys, outside the registry's range in use
    while extra > 0:
        n = 256 if extra > 256 else extra
        s.put(k, bytes(n))
        extra -= n + 24
        k += 1
    sec, _ = fx.make(s, window)
    # 64 real messages give the records per message; then the same LMON ceiling records are
    # put in bulk through the real store (one per `window` messages), as Security would.
    mon = 0
    puts0 = sec.stats["lmon_writes"]
    for _ in range(min(messages, 64)):
        mon += 1
        r = sec.open(fx.request(102, STATUS, mon, 1), 1)
        if r.kind != security.AUTH:
            raise SystemExit("wear: request refused")
    measured = sec.stats["lmon_writes"] - puts0
    ceil = int.from_bytes(s.get(storekeys.LMON), "big")
    for _ in range((messages - mon) // window):
        ceil += window
        s.put(storekeys.LMON, ceil.to_bytes(8, "big"))
    st = s.stats()
    print(
        "wear %d %d %d %d %d %d %d %s"
        % (bs, nb, window, messages, measured, st["live"], st["compactions"], st["erases"])
    )


if sys.argv[1] == "latency":
    latency(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
elif sys.argv[1] == "instr":
    instr(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
elif sys.argv[1] == "heap":
    heap(sys.argv[2], sys.argv[3], int(sys.argv[4]))
else:
    wear(*[int(x) for x in sys.argv[2:7]])
