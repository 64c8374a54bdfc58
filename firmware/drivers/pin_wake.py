"""The wake-up object between a pin's edge interrupt and the task that awaits the edge
(drivers/supply.py, drivers/button.py): the handler only counts and calls set(); the task
awaits wait() and then clear()s.

On a port pin (machine.Pin) it is an asyncio.ThreadSafeFlag, which a hard or soft interrupt
handler may set without allocating. A simulated pin whose edges are made by tasks of the
running loop (drivers.sim.pin.LoopPin: unix_sim's mains and button) brings its own,
an asyncio.Event: on the unix port a task waiting on a ThreadSafeFlag makes every
scheduling round of the loop cost about 1 ms (measured: 2000 yields 19 ms -> 2277 ms).
machine.Pin has no `wake_flag`, so a port pin always takes the first branch.
"""

import asyncio


def wake_flag(pin):
    own = getattr(pin, "wake_flag", None)
    return asyncio.ThreadSafeFlag() if own is None else own()
