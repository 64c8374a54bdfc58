"""MicroPython worker: the STPM3x driver reading the simulated IC once a simulated second.

    micropython stpm_worker.py SCENARIO SEED SECONDS [FAULT ...]

FAULT: crc:FROM:TO:RATE (reply CRC errors between seconds), rxcrc:FROM:TO:RATE (damaged
frames to the IC: it answers DSP_CR1), stall:AT:MS, absurd:AT:N,
reset:AT (the IC resets), cal:GV:GI:PH:OFF (calibration) with sensor:GV:GI:PHDEG:OFFW.
Prints one line per second `k ok dt_ms ep_mws eq_mvars v_mv i_ma p_mw f_mhz status place`
(place: where a failed read was logged, else -) and at the
end `end errors faults_count places...`. Time is a jumping ManualClock: no real waiting.
"""

import asyncio
import sys

from drivers.sim.stpm3x_sim import Stpm3xSim
from drivers.stpm3x import Stpm3x
from jump_clock import JumpClock
from metrology import scenario
from metrology.sample import Sample


def main(argv):
    name, seed, seconds = argv[0], int(argv[1]), int(argv[2])
    faults = [a.split(":") for a in argv[3:]]
    clock = JumpClock()
    dev = Stpm3xSim(scenario.load(name, seed=seed), clock)
    drv = Stpm3x(dev.serial(), clock)
    for f in faults:
        if f[0] == "sensor":
            dev.sensor_gain_v, dev.sensor_gain_i = float(f[1]), float(f[2])
            dev.sensor_phase_deg, dev.sensor_offset_w = float(f[3]), float(f[4])
        elif f[0] == "cal":
            drv.set_calibration(int(f[1]), int(f[2]), int(f[3]), int(f[4]))
    s = Sample()
    ok = asyncio.run(drv.read(s))  # init and baseline
    print("base", int(ok), s.status)
    dev.begin()
    t0 = clock.now_ms()
    for k in range(1, seconds + 1):
        dev.crc_error_rate = dev.rx_error_rate = 0.0
        for f in faults:
            if f[0] == "crc" and int(f[1]) <= k < int(f[2]):
                dev.crc_error_rate = float(f[3])
            elif f[0] == "rxcrc" and int(f[1]) <= k < int(f[2]):
                dev.rx_error_rate = float(f[3])
            elif f[0] == "stall" and int(f[1]) == k:
                dev.stall_ms(int(f[2]))
            elif f[0] == "absurd" and int(f[1]) == k:
                dev.absurd = int(f[2])
            elif f[0] == "reset" and int(f[1]) == k:
                dev.reset_ic()
        now = clock.now_ms()
        clock.advance(t0 + 1000 * k - now)  # reads start on the whole second
        s.clear()
        ok = asyncio.run(drv.read(s))
        print(
            k,
            int(ok),
            s.dt_ms,
            s.ep_mws,
            s.eq_mvars,
            s.v_mv,
            s.i_ma,
            s.p_mw,
            s.f_mhz,
            s.status,
            "-" if ok else drv.log.recent()[-1][1],
        )
    places = " ".join(p for _, p, _ in drv.log.recent())
    print("end", drv.errors, drv.log.count, places)


main(sys.argv[1:])
