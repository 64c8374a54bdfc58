"""MicroPython side of host_tests/py/test_store_kill.py (not a pytest module).

micropython store_worker.py work FLASH  -- continue from the stored counter, commit N+1, N+2, ...
                                           printing `committed N` after each put returns
micropython store_worker.py read FLASH  -- mount and print what is there (never writes)

Key 1 holds N (8 bytes, big-endian) followed by a payload derived from N whose length also
depends on N, so a value mixed from two writes is detected. Keys 10..12 are written once and
must survive every compaction.
"""

import sys

import store
from drivers.sim.flash import SimFlash

KEY = 1
STATIC = ((10, b"static-ten"), (11, bytes(range(40))), (12, b"x" * 100))


def payload(n):
    ln = 1 + (n * 7) % 120
    return bytes(((n * 31 + i * 17) ^ (n >> 8)) & 0xFF for i in range(ln))


def encode(n):
    return n.to_bytes(8, "big") + payload(n)


def decode(v):
    n = int.from_bytes(v[:8], "big")
    return n, v[8:] == payload(n)


def out(*a):
    print(*a)
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()


def main(mode, path):
    f = SimFlash(path, block_size=1024, n_blocks=3, program_unit=8)
    s = store.Store(f)
    st = s.stats()
    if mode == "read":
        v = s.get(KEY)
        if v is None:
            out("value none")
        else:
            n, ok = decode(v)
            out("value", n, "ok" if ok else "BAD")
        for k, exp in STATIC:
            got = s.get(k)
            out("static", k, "missing" if got is None else ("ok" if got == exp else "BAD"))
        out("stats", st["generation"], st["active"], 1 if st["dirty"] else 0, st["corrupt"])
        return
    v = s.get(KEY)
    n = decode(v)[0] if v is not None else 0
    for k, exp in STATIC:
        if s.get(k) != exp:
            s.put(k, exp)
    out("start", n)
    while True:
        n += 1
        s.put(KEY, encode(n))
        out("committed", n)


main(sys.argv[1], sys.argv[2])
