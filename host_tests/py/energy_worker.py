"""MicroPython side of host_tests/py/test_energy_kill.py and bench/bench_energy.py (not a pytest
module): the unix_sim meter on simulated time with the deterministic front-end.

    micropython energy_worker.py STATE_DIR START SEED CUT

Builds boards.unix_sim's hardware in STATE_DIR (its flash file, its supply pin), then replaces
the clock by a simulated one that jumps to the next sleeper as soon as every task is idle, the
RTC by one following it from UTC second START, and the front-end by fakes.metrology. Prints:
    boot                                   before the meter is built (the store is mounted)
    start KIND LAST_T PULSES R0..R9 C0..C4 the restored state: KIND (first|power|checkpoint|
                                           lost), registers in exact mW·s, quality counters
    s T                                    after each metering second T is booked
    saved T US                             the savers ran at a supply loss, US µs of real
                                           time (CUT > 0: the supply pin drops after second
                                           CUT is booked)
Then it keeps running (announced cut: the supply stays away) until it is killed.
"""

import asyncio
import sys
import time

import config
from app import Meter
from clock import ManualClock
from fakes.metrology import ClockRtc, FakeMetrology

import boards.unix_sim as board


def out(*a):
    print(*a)


async def pump(clock):
    # simulated time: when every task waits, jump to the earliest sleeper's deadline
    while True:
        for _ in range(3):
            await asyncio.sleep_ms(0)
        nx = clock.next_wakeup()
        if nx is not None:
            clock.set(nx)


def main(state, start, seed, cut):
    cfg = config.load(None, {"state_dir": state, "seed": 1})
    hw = board.build(cfg)
    clock = ManualClock(0)
    hw.clock = clock
    hw.rtc = ClockRtc(clock, start)
    hw.metrology = FakeMetrology(hw.rtc, seed)
    out("boot")
    m = Meter(hw, cfg)
    e = m.energy
    kind = e.restored.split()[0]
    regs = [e.energy.exact(i) for i in range(10)]
    out("start", kind, e.last_t, e.energy.pulses, *(regs + e.quality.counts))

    def second(t):
        out("s", t)
        if t == cut:
            hw.supply.pin.value(0)

    t0 = [0]
    energy_saver = m.savers[0]

    def timed():  # stays first: the real time every saver takes, from the energy one on
        t0[0] = time.ticks_us()
        energy_saver()

    def saved():
        out("saved", e.last_t, time.ticks_diff(time.ticks_us(), t0[0]))

    m.savers[0] = timed
    m.on_second.append(second)
    m.savers.append(saved)

    async def run():
        asyncio.create_task(pump(clock))
        await m.run()

    asyncio.run(run())


main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
