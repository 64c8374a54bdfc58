"""Helpers to run the STPM3x driver without the simulated IC's own allocations: a Serial that
replays the answers of one recorded read, and running a read coroutine that never has to wait
in one step (no event loop, nothing allocated by the caller)."""


class Replay:
    """interfaces.Serial replaying recorded 5-byte answers in turn, one per frame written."""

    def __init__(self, replies):
        self.replies = replies
        self.i = 0
        self.k = 5

    def write(self, buf):
        self.k = 0
        return len(buf)

    def any(self):
        return 5 - self.k

    def readinto(self, buf):
        if self.k >= 5:
            return None
        rep = self.replies[self.i]
        n = len(buf)
        for j in range(n):
            buf[j] = rep[self.k + j]
        self.k += n
        if self.k == 5:
            self.i = (self.i + 1) % len(self.replies)
        return n

    def configure(self, baudrate, bits=8, parity=None, stop=1):
        pass

    def tx_idle(self):
        return True


def run_now(coro):
    """Run a coroutine that completes without awaiting anything; its return value."""
    try:
        coro.send(None)
    except StopIteration as e:
        return e.value
    raise RuntimeError("the coroutine waited")
