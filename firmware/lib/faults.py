"""The meter's fault record: every exception that firmware code catches instead of letting it
end the program is counted and remembered here (type name, place, time).

    faults = Faults(now_ms=clock.now_ms)
    try:
        ...
    except Exception as e:
        faults.record(e, "mac.rx")     # re-raises when strict
    faults.count                        # every fault since boot (also those pushed out)
    faults.recent()                     # [(type_name, place, t_ms), ...] oldest first

The ring keeps the last `size` faults in preallocated lists, so recording allocates nothing
once warm (type names and places are interned strings). `strict=True` re-raises after
recording: tests run strict, so a fault that production code would swallow fails the test.
Set _DEBUG to 1 to print every fault with its traceback as it is recorded.
"""

from micropython import const

_DEBUG = const(0)
_SIZE = const(8)


class Faults:
    def __init__(self, now_ms=None, size=_SIZE, strict=False):
        self._now = now_ms
        self.strict = strict
        self.count = 0
        self._type = [None] * size
        self._place = [None] * size
        self._t = [0] * size
        self._next = 0  # ring slot the next fault goes to

    def record(self, exc, place):
        """Count and remember exc caught at place (a short dotted name); re-raise if strict."""
        i = self._next
        self._type[i] = type(exc).__name__
        self._place[i] = place
        self._t[i] = self._now() if self._now is not None else 0
        self._next = (i + 1) % len(self._t)
        self.count += 1
        if _DEBUG:
            import sys

            print("fault", self.count, place, self._t[i])
            sys.print_exception(exc)
        if self.strict:
            raise exc

    def recent(self):
        """The remembered faults, oldest first: [(type_name, place, t_ms), ...]."""
        n = len(self._t)
        kept = self.count if self.count < n else n
        out = []
        for k in range(kept):
            i = (self._next - kept + k) % n
            out.append((self._type[i], self._place[i], self._t[i]))
        return out
