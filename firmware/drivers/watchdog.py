"""The interfaces.Watchdog adapter, one code path for every board.

    wd = Watchdog(machine.WDT, 8000)           # stm32 / esp32: the port's hardware watchdog
    wd = Watchdog(SimWdt.factory(clock), 8000)  # unix_sim: same adapter, simulated countdown
    wd.feed()

The hardware watchdog cannot be stopped once started (machine.WDT docs), so the adapter creates
it on the first feed(): a board arms it only once the supervisor that feeds it runs, and a
REPL session before that is not reset under the user. `make(timeout=ms)` is called with the
keyword machine.WDT takes (extmod/machine_wdt.c: WDT(id=0, timeout=5000), timeout in ms;
stm32 IWDG allows up to ~32 s, ports/stm32/machine_wdt.c make_iwdt; esp32 any > 0 ms,
ports/esp32/machine_wdt.c).
"""


class Watchdog:
    def __init__(self, make, timeout_ms):
        if timeout_ms < 1:
            raise ValueError("timeout_ms")
        self._make = make
        self.timeout_ms = timeout_ms
        self._wdt = None
        self.feeds = 0

    def armed(self):
        return self._wdt is not None

    def feed(self):
        w = self._wdt
        if w is None:
            w = self._wdt = self._make(timeout=self.timeout_ms)
        w.feed()
        self.feeds += 1


class WatchdogReset(Exception):
    """A simulated watchdog was starved: on a board the MCU would have reset here."""


class SimWdt:
    """unix_sim countdown on the injected clock: records feeds; when a feed (or check()) comes
    later than `timeout` ms after the previous one, it counts a reset and calls on_reset(late_ms)
    (default: raise WatchdogReset, which ends the task that fed late)."""

    def __init__(self, clock, timeout, on_reset=None):
        self._clock = clock
        self.timeout = timeout
        self.on_reset = on_reset
        self.last = clock.now_ms()
        self.feeds = 0
        self.resets = 0

    @classmethod
    def factory(cls, clock, on_reset=None):
        def make(timeout):
            return cls(clock, timeout, on_reset)

        return make

    def check(self):
        late = self._clock.now_ms() - self.last - self.timeout
        if late > 0:
            self.resets += 1
            self.last = self._clock.now_ms()  # a reset restarts the countdown
            if self.on_reset is None:
                raise WatchdogReset("watchdog starved %d ms past %d ms" % (late, self.timeout))
            self.on_reset(late)

    def feed(self):
        self.check()
        self.last = self._clock.now_ms()
        self.feeds += 1
