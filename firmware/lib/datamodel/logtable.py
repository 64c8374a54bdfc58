"""Tables of the data model: append-only logs (event log, profiles, billing data) and parameter
tables (tariffs, holidays), kept in RAM and persisted in the store (docs/smitp.md §4).

LogTable: a ring of `capacity` records of `recsize` bytes. Records are numbered by RNO, which
counts every record ever appended; the records present are max(base, end - capacity) .. end - 1
(`base` moves to `end` on clear). The ring is persisted in chunks (store keys key0 + i); chunk
value = END(4) | BASE(4) | its ring slots. An append rewrites only its slot's chunk, in one atomic
store put, so a power cut loses at most the record being appended. At load, END/BASE are taken
from the chunk with the highest (END, BASE); every chunk's slots are current because a slot is
only ever written together with its chunk.

ParamTable: 0..capacity records, replaced as a whole (WRITETAB commit), one store value.
"""

import struct

from micropython import const

_CHUNK_BYTES = const(96)  # ring bytes per chunk: a small put per append (flash wear)
_HDR = const(8)


def time_range(table, t0, t1):
    """RNO range (first, end) from the first to the last present record of a log table whose
    TIME (its first 4 bytes) is in [t0, t1]; (end, end) if none. Every record is looked at:
    after the clock was set back, times are not monotonic, and records in between may then
    lie outside [t0, t1]."""
    first = None
    end = None
    for rno in range(table.first(), table.end):
        r = table.record(rno)
        t = (r[0] << 24) | (r[1] << 16) | (r[2] << 8) | r[3]
        if t0 <= t <= t1:
            if first is None:
                first = rno
            end = rno + 1
    if first is None:
        return table.end, table.end
    return first, end


class LogTable:
    def __init__(self, store, key0, recsize, capacity):
        self.store = store
        self.key0 = key0
        self.recsize = recsize
        self.capacity = capacity
        self.per = max(1, min(capacity, _CHUNK_BYTES // recsize))
        self.nchunks = (capacity + self.per - 1) // self.per
        self.ring = bytearray(capacity * recsize)
        self.end = 0
        self.base = 0
        self._load()

    def _load(self):
        best = (0, 0)
        n = self.per * self.recsize
        for i in range(self.nchunks):
            v = self.store.get(self.key0 + i)
            if v is None or len(v) != _HDR + n:
                continue
            e, b = struct.unpack_from(">II", v, 0)
            if b > e:
                continue
            start = i * n
            take = min(n, len(self.ring) - start)
            self.ring[start : start + take] = v[_HDR : _HDR + take]
            if (e, b) > best:
                best = (e, b)
        self.end, self.base = best

    def _persist(self, chunk):
        n = self.per * self.recsize
        v = bytearray(_HDR + n)
        struct.pack_into(">II", v, 0, self.end, self.base)
        start = chunk * n
        take = min(n, len(self.ring) - start)
        v[_HDR : _HDR + take] = self.ring[start : start + take]
        self.store.put(self.key0 + chunk, v)

    def first(self):
        return max(self.base, self.end - self.capacity)

    def count(self):
        return self.end - self.first()

    def record(self, rno):
        """Record rno (must be present) as a memoryview into the ring."""
        s = (rno % self.capacity) * self.recsize
        return memoryview(self.ring)[s : s + self.recsize]

    def last(self):
        return None if self.count() == 0 else bytes(self.record(self.end - 1))

    def append(self, rec):
        if len(rec) != self.recsize:
            raise ValueError("record size")
        slot = self.end % self.capacity
        s = slot * self.recsize
        old = self.end
        prev = bytes(self.ring[s : s + self.recsize])  # the oldest record, when the ring is full
        self.ring[s : s + self.recsize] = rec
        self.end += 1
        try:
            self._persist(slot // self.per)
        except OSError:
            self.end = old  # not durable: not appended, and the overwritten record comes back
            self.ring[s : s + self.recsize] = prev
            raise
        return old

    def clear(self):
        old = self.base
        self.base = self.end
        try:
            self._persist(0)
        except OSError:
            self.base = old
            raise

    def time_range(self, t0, t1):
        return time_range(self, t0, t1)

    def snapshot(self):
        return (bytes(self.ring), self.end, self.base)


class Empty:
    """A log table with no records: what a feature's flash ring reads as on a board without
    the flash for it (datamodel/registers.py: an L row whose capacity is None)."""

    base = 0
    end = 0
    capacity = 0

    def __init__(self, recsize):
        self.recsize = recsize

    def first(self):
        return 0

    def count(self):
        return 0

    def last(self):
        return None

    def time_range(self, t0, t1):
        return 0, 0

    def snapshot(self):
        return ()


class ParamTable:
    def __init__(self, store, key, recsize, capacity, default, rule):
        self.store = store
        self.key = key
        self.recsize = recsize
        self.capacity = capacity
        self.default = default
        self.rule = rule
        self.data = b""
        v = store.get(key)
        if v is None or not self.valid(v):
            v = default
        self.data = bytes(v)

    def valid(self, v):
        rs = self.recsize
        if len(v) % rs or len(v) > rs * self.capacity:
            return False
        for i in range(0, len(v), rs):
            if not self.rule(memoryview(v)[i : i + rs]):
                return False
        return True

    def set(self, v):
        """Replace every record (already validated); durable on return."""
        self.store.put(self.key, v)
        self.data = bytes(v)

    # the LogTable reading interface, so block reads treat both alike
    base = 0

    @property
    def end(self):
        return len(self.data) // self.recsize

    def first(self):
        return 0

    def count(self):
        return self.end

    def record(self, rno):
        s = rno * self.recsize
        return memoryview(self.data)[s : s + self.recsize]

    def snapshot(self):
        return self.data
