"""`make bench-latency`: how close the meter answers to TEL = 20 ms after a request's end, on the
Unix MicroPython port. Figures only, no thresholds.

1. In process: the real Meter (MAC, application layer, store, supervisor, one asyncio loop on
   the real clock) on a scripted PHY. A request is handed up `handup` ms after it ended on the
   air (info.t_end_ms); the answer's delay is measured from that end to phy.send() in
   microseconds (time.ticks_us). With the MAC timing from the frame end, the delay stays at
   TEL whatever the hand-up delay; the MAC's own work per request (on_rx) is timed too.
2. End to end over the direct TCP link: a CPython client sends READ 0x003F to a meter process
   (firmware/main.py, plc_listen) and times the answer; this adds the loopback TCP and the
   client's own scheduling.
Prints median / p99 / max for each.
"""

import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402

N = 300

MP_SCRIPT = r"""
import asyncio, json, os, sys, time
import config
from app import Meter
from clock import Clock
from drivers.sim.flash import SimFlash
from drivers.sim.script_phy import ScriptPhy
from hw import Hardware

N = int(sys.argv[1])
HANDUP = int(sys.argv[2])
ACA = bytes.fromhex("4d4d00004201")
# LT | ADDRESS | CTL (RA1, no route) | reserved (tag) | INF-control (poll) | LSAP | READ 0x003F
REQ = bytes((13,)) + ACA + bytes((0x21, 0, 1, 0)) + b"\x02\x00\x3f"


async def main(meter, phy, clock):
    meter.start()
    asyncio.create_task(meter.supervisor.run())
    end_us = []
    rx_us = []
    mac = meter.mac
    on_rx = mac.on_rx

    def timed(frame, info, now):  # the MAC's own work per request
        t = time.ticks_us()
        on_rx(frame, info, now)
        rx_us.append(time.ticks_diff(time.ticks_us(), t))

    mac.on_rx = timed
    for i in range(N):
        req = bytearray(REQ)
        req[8] = (i & 7) << 4  # another tag each time: not a duplicate
        t_end = clock.now_ms()
        end_us.append(time.ticks_us())
        if HANDUP:
            await asyncio.sleep_ms(HANDUP)
        phy.push(req, t_end)
        await asyncio.sleep_ms(60)
    meter.supervisor.stop()
    d = [time.ticks_diff(s[1], e) for s, e in zip(phy.sent, end_us)]
    print(json.dumps({"delay_us": d, "rx_us": rx_us, "sent": len(phy.sent),
                      "faults": meter.faults.count}))


state = sys.argv[3]
try:
    os.remove(state)
except OSError:
    pass
clock = Clock()
phy = ScriptPhy(clock)
hw = Hardware("unix_sim", clock=clock, phy=phy, flash=SimFlash(state, 4096, 4))
cfg = config.load(overrides={"aca": ACA.hex(), "seed": 1})
meter = Meter(hw, cfg, strict=True)
asyncio.run(main(meter, phy, clock))
"""


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def show(name, xs, unit, scale=1.0):
    xs = [x / scale for x in xs]
    print(
        f"  {name:<44} median {pct(xs, 50):7.2f}  p99 {pct(xs, 99):7.2f}  "
        f"max {max(xs):7.2f} {unit}  (n={len(xs)})"
    )


def in_process(tmp):
    path = os.path.join(tmp, "lat.py")
    with open(path, "w") as f:
        f.write(MP_SCRIPT)
    print(
        f"in process (Meter on a scripted PHY, real clock, {N} READ 0x003F requests, TEL 20 ms):"
    )
    for handup in (0, 12):
        out = subprocess.run(
            [micropython_exe(), path, str(N), str(handup), os.path.join(tmp, "f.bin")],
            env=mp_env(),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if out.returncode:
            raise SystemExit(out.stdout + out.stderr)
        r = json.loads(out.stdout)
        assert r["sent"] == N and r["faults"] == 0, r
        show(f"frame end -> answer, hand-up after {handup:2d} ms", r["delay_us"], "ms", 1000)
    show("MAC + application per request (on_rx)", r["rx_us"], "us")


def tcp(tmp):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cfg = os.path.join(tmp, "m.json")
    aca = "4d4d00004202"
    with open(cfg, "w") as f:
        json.dump({"aca": aca, "state_dir": tmp, "plc_listen": port, "seed": 2, "strict": True}, f)
    p = subprocess.Popen(
        [micropython_exe(), "firmware/main.py", "--config", cfg],
        env=mp_env(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                c = socket.create_connection(("127.0.0.1", port), timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        lat = []
        for i in range(N):
            body = bytes.fromhex(aca) + bytes((0x21, (i & 7) << 4, 1, 0)) + b"\x02\x00\x3f"
            frame = bytes((len(body),)) + body
            t = time.perf_counter()
            c.sendall(struct.pack(">H", len(frame)) + frame)
            hdr = c.recv(2)
            n = (hdr[0] << 8) | hdr[1]
            got = b""
            while len(got) < n:
                got += c.recv(n - len(got))
            lat.append((time.perf_counter() - t) * 1000)
            time.sleep(0.03)
        c.close()
    finally:
        p.terminate()
        p.wait(timeout=5)
    print("end to end over the direct TCP link (CPython client, loopback):")
    show("request sent -> answer received", lat, "ms")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        in_process(tmp)
        tcp(tmp)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
