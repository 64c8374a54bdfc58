"""Supervision of the meter's asyncio tasks (docs/architecture.md, "Supervision").

    sup = Supervisor(faults, clock, reset, watchdog)
    sup.spawn("plc_rx", meter.plc_rx)   # a callable returning a fresh coroutine each time
    await sup.run()                     # never returns unless a reset was requested

- Every task runs inside a guard: an exception or a cancellation that ends it is recorded in
  `faults` (type, task name, time) and the task is started again after a back-off that doubles
  from backoff_ms up to _BACKOFF_MAX_MS. A supervised task must never return: a return counts as
  a failure too (TaskReturned).
- A task that fails more than restarts_max times in a row (a run shorter than _STABLE_MS counts
  as "in a row") gets no more restarts: the supervisor calls `reset()` (machine.reset on a
  board; a recording or exiting callable on unix_sim) and stops supervising.
- Exceptions of tasks nobody awaits (drivers' own tasks, per-connection handlers) reach the
  loop's exception handler, which records them as place "asyncio".
- The watchdog is fed by its own task on the loop's real-time sleep, so a blocked loop starves
  it; the hardware counts real time even when the meter runs on simulated time.
"""

import asyncio

from clock import wait_or_timeout
from micropython import const

_BACKOFF_MS = const(100)
_BACKOFF_MAX_MS = const(10_000)
_RESTARTS_MAX = const(5)
_STABLE_MS = const(60_000)
_FEED_MS = const(1_000)


class TaskReturned(Exception):
    """A supervised task's coroutine returned; they are meant to run forever."""


class _Entry:
    def __init__(self, name, factory):
        self.name = name
        self.factory = factory
        self.task = None
        self.started_ms = 0
        self.failures = 0  # in a row
        self.restarts = 0  # since boot
        self.due_ms = -1  # when a restart is due, -1 = running


class Supervisor:
    def __init__(
        self,
        faults,
        clock,
        reset,
        watchdog=None,
        restarts_max=_RESTARTS_MAX,
        backoff_ms=_BACKOFF_MS,
        feed_ms=_FEED_MS,
    ):
        self.faults = faults
        self.clock = clock
        self._reset = reset
        self.watchdog = watchdog
        self.restarts_max = restarts_max
        self.backoff_ms = backoff_ms
        self.feed_ms = feed_ms
        self.entries = []
        self.reset_reason = None
        self.feeds = 0
        self._changed = asyncio.Event()
        self._stopping = False
        self._feeder = None

    # --- tasks -----------------------------------------------------------------------------------

    def spawn(self, name, factory):
        """Start factory() as a supervised task called name; return its entry."""
        e = _Entry(name, factory)
        self.entries.append(e)
        self._start(e)
        return e

    def task(self, name):
        """The current asyncio task of the supervised task called name (e.g. to cancel it)."""
        for e in self.entries:
            if e.name == name:
                return e.task
        return None

    def _start(self, e):
        e.due_ms = -1
        e.started_ms = self.clock.now_ms()
        e.task = asyncio.create_task(self._guard(e))

    async def _guard(self, e):
        try:
            await e.factory()
            exc = TaskReturned(e.name)
        except asyncio.CancelledError as c:  # killed from outside (REPL, a bug)
            if self._stopping:
                raise
            exc = c
        except Exception as x:
            exc = x
        self._changed.set()
        self.faults.record(exc, e.name)

    def _schedule(self, e, now):
        """e has ended: plan its restart, or the reset when it keeps failing."""
        if now - e.started_ms >= _STABLE_MS:
            e.failures = 0
        e.failures += 1
        if e.failures > self.restarts_max:
            self.request_reset("task %s failed %d times in a row" % (e.name, e.failures))
            return
        back = self.backoff_ms << (e.failures - 1)
        e.due_ms = now + (back if back < _BACKOFF_MAX_MS else _BACKOFF_MAX_MS)

    def request_reset(self, reason):
        self.reset_reason = reason
        self._changed.set()
        self._reset()

    # --- the supervising loop --------------------------------------------------------------------

    def install(self):
        """Route exceptions of unawaited tasks into faults; start feeding the watchdog."""
        asyncio.get_event_loop().set_exception_handler(self._on_loop_exception)
        if self.watchdog is not None and self._feeder is None:
            self._feeder = asyncio.create_task(self._feed())

    def _on_loop_exception(self, loop, context):
        exc = context.get("exception")
        if exc is None:
            exc = RuntimeError(context.get("message", "asyncio"))
        self.faults.record(exc, "asyncio")

    async def _feed(self):
        wd = self.watchdog
        while self.reset_reason is None:
            wd.feed()
            self.feeds += 1
            await asyncio.sleep_ms(self.feed_ms)

    async def run(self):
        """Supervise until a reset is requested."""
        self.install()
        while self.reset_reason is None:
            self._changed.clear()
            now = self.clock.now_ms()
            wake = None
            for e in self.entries:
                if e.due_ms < 0 and e.task.done():
                    self._schedule(e, now)
                    if self.reset_reason is not None:
                        return
                if e.due_ms >= 0:
                    if now >= e.due_ms:
                        e.restarts += 1
                        self._start(e)
                    elif wake is None or e.due_ms < wake:
                        wake = e.due_ms
            if wake is None:
                await self._changed.wait()
            else:
                await wait_or_timeout(self._changed, self.clock, wake - now)

    def stop(self):
        """Cancel every supervised task (tests, a clean shutdown); no restarts follow."""
        self._stopping = True
        for e in self.entries:
            if e.task is not None and not e.task.done():
                e.task.cancel()
        if self._feeder is not None:
            self._feeder.cancel()
        self.reset_reason = "stopped"
        self._changed.set()

    def status(self):
        d = {}
        for e in self.entries:
            d[e.name] = {
                "running": e.due_ms < 0 and not e.task.done(),
                "restarts": e.restarts,
                "failures": e.failures,
            }
        return {"tasks": d, "reset": self.reset_reason, "feeds": self.feeds}
