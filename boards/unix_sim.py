"""unix_sim: the host board. The same firmware runs on the PC with simulated peripherals.

flash   = a file with NOR semantics (erase to 0xFF, program clears bits), 8 x 4 KiB blocks
profile_flash = a second such file, 44 x 4 KiB blocks: the profiles' rings (docs/profiles.md)
rtc     = a settable wall clock kept as an offset in a file
optical = a TCP listener on 127.0.0.1 (cfg "optical_port"), 7E1 as octets with bit 7 = parity
plc     = the simulated medium (cfg "medium" = "host:port", or "sample:host:port" for the
          sample-level mode with the soft PHY), a direct concentrator link listening on
          127.0.0.1 (cfg "plc_listen" = port, 2-byte length framing), or a simulated certified
          modem driven over its host interface (cfg "modem" = "host:port", tools/modem_sim.py)
display = cfg "display": "segment" (default) the HT1621 driver on a simulated chip, its RAM in
          display.seg; "dots" the SSD1306 framebuf written as display.pbm; on every refresh.
          tools/display_png.py turns either into a PNG; cfg "display_echo" prints each screen
relay   = latching relay whose contact position survives restarts (a file)
bnode   = a simulated B-Node (customer display) behind the meter; last update in a file
clock   = host ticks, or the medium's simulated time when on the medium, or with cfg
          "sim_start" (UTC seconds since 2000) discrete-event time of its own that jumps to the
          next wakeup (drivers/sim/simclock.py) until cfg "sim_until", then host time; the RTC
          then follows it from sim_start
watchdog= the boards' Watchdog adapter over a SimWdt counting host time (the supervisor feeds
          on the loop's real-time sleep, and simulated medium time runs much faster); a starved
          watchdog prints what a board would have reset for and keeps running
supply  = the boards' SupplyInput over a LoopPin ("supply", high = mains present), which wakes
          it through an asyncio.Event (drivers/pin_wake.py says why not a ThreadSafeFlag here)
metrology = cfg "metrology" = "stpm" (default): the real STPM3x driver (drivers/stpm3x.py) talking
          byte for byte to a simulated STPM3x (drivers/sim/stpm3x_sim.py) that computes its
          registers from cfg "scenario" / "scenario_seed" on the clock; an endless scenario
          runs from the RTC's second at boot (a generated day follows the time of day)
          or "adc": the direct-ADC front-end (metrology.adc_frontend) on V/I
          codes synthesised from cfg "scenario" (drivers/sim/adc_source.py), following the RTC
button  = drivers.button.Button on a ButtonPin (pressed = low); meter.hw.button.pin.press(ms)
"""

NAME = "unix_sim"
CPU_HZ = None  # whatever the host runs at
FLASH_BLOCK_SIZE = 4096
FLASH_BLOCKS = 8
PROFILE_FLASH_BLOCKS = 44  # 61 days of 15-min load profile, 30 of 10-min measurands, 84 days
DISPLAY_SIZE = (128, 64)
RELAY_PULSE_MS = 50
RELAY_MIN_GAP_MS = 1000
WDT_TIMEOUT_MS = 8000


SLOT_BLOCKS = 128  # each download slot: 128 x 4 KiB of simulated NOR flash (docs/download.md §3)


def store_flash(cfg):
    """The store's flash (main.py reads the boot selector there before building the rest)."""
    import os

    from drivers.sim.flash import SimFlash

    _makedirs(os, cfg["state_dir"])
    return SimFlash(cfg["state_dir"] + "/flash.bin", FLASH_BLOCK_SIZE, FLASH_BLOCKS)


def slot_devices(cfg):
    """The two download slots (dl.bootsel): files with NOR semantics beside the store."""
    from drivers.sim.flash import SimFlash

    st = cfg["state_dir"]
    return [None] + [
        SimFlash("%s/slot%d.bin" % (st, i), FLASH_BLOCK_SIZE, SLOT_BLOCKS) for i in (1, 2)
    ]


def build(cfg):
    import os

    from clock import Clock
    from drivers.button import Button
    from drivers.relay import LatchingRelay
    from drivers.sim.bnode import SimBNode
    from drivers.sim.button import ButtonPin
    from drivers.sim.display import SimDisplay
    from drivers.sim.flash import SimFlash
    from drivers.sim.pin import LatchContact, LoopPin, SimPin
    from drivers.sim.rtc import SimRtc
    from drivers.supply import SupplyInput
    from drivers.watchdog import SimWdt, Watchdog
    from hw import Hardware

    state = cfg["state_dir"]
    _makedirs(os, state)
    clock = Clock()
    rtc = SimRtc(state + "/rtc")
    if cfg.get("sim_start") is not None:  # before the PHY: its time stamps use this clock
        from drivers.sim.simclock import SimClock

        until = cfg.get("sim_until")
        start = cfg["sim_start"]
        clock = SimClock(None if until is None else (until - start) * 1000)
        rtc = SimRtc(state + "/rtc", clock, start)
    phy = None
    if cfg.get("modem"):
        from drivers.modem_uart import HostIfPhy, open_tcp

        host, port = cfg["modem"].rsplit(":", 1)
        phy = HostIfPhy(open_tcp(host, int(port)), clock=clock)
    elif cfg.get("plc_listen"):
        from drivers.sim.tcp_link import TcpLinkPhy

        phy = TcpLinkPhy(int(cfg["plc_listen"]), clock=clock)
    elif cfg.get("medium"):
        addr = cfg["medium"]
        if addr.startswith("sample:"):  # sample-level medium: the soft PHY on waveforms
            from drivers.sim.sample_link import MediumSamplePhy as MediumPhy

            addr = addr[7:]
        else:
            from drivers.sim.medium_link import MediumPhy

        host, port = addr.rsplit(":", 1)
        phy = MediumPhy(host, int(port), cfg)
        clock = phy.clock  # the medium owns simulated time
    optical = None
    if cfg.get("optical_port"):
        from drivers.sim.optical_tcp import TcpOptical

        optical = TcpOptical(int(cfg["optical_port"]))
    contact = LatchContact(state + "/relay")
    return Hardware(
        NAME,
        clock=clock,
        phy=phy,
        flash=store_flash(cfg),
        rtc=rtc,
        optical=optical,
        display=_display(cfg, state, SimDisplay),
        relay=LatchingRelay(
            contact.set_coil, contact.reset_coil, RELAY_PULSE_MS, contact, clock, RELAY_MIN_GAP_MS
        ),
        led=SimPin("led"),
        watchdog=Watchdog(SimWdt.factory(Clock(), _starved), WDT_TIMEOUT_MS),
        supply=SupplyInput(LoopPin("supply", 1)),
        bnode=SimBNode(state + "/bnode.txt"),
        metrology=_metrology(cfg, clock, rtc),
        profile_flash=SimFlash(state + "/profile.bin", FLASH_BLOCK_SIZE, PROFILE_FLASH_BLOCKS),
        button=Button(ButtonPin(clock), clock),
        slots=slot_devices(cfg),
    )


def _metrology(cfg, clock, rtc):
    from config import ConfigError
    from metrology import scenario

    try:
        sc = scenario.load(cfg["scenario"], cfg["scenario_seed"])
    except scenario.ScenarioError as e:  # a broken scenario file: main.py says so, exits 2
        raise ConfigError("scenario: %s" % e)
    # an endless scenario runs from the RTC's second at boot (a generated day follows the time
    # of day), a finite one from its start; then on the clock
    t0 = rtc.seconds() - sc.start if sc.duration_s is None else 0
    t0 = t0 if t0 > 0 else 0
    if cfg["metrology"] == "stpm":
        from drivers.sim.stpm3x_sim import Stpm3xSim
        from drivers.stpm3x import Stpm3x

        return Stpm3x(Stpm3xSim(sc, clock, offset_s=t0).serial(), clock)
    if cfg["metrology"] == "adc":
        from drivers.sim.adc_source import SimAdcSource
        from metrology.adc_frontend import AdcFrontend

        return AdcFrontend(SimAdcSource(sc, clock.now_ms, t0_s=t0))
    return None


def _display(cfg, state, sim_display):
    if cfg.get("display") == "dots":
        return sim_display(state + "/display.pbm", *DISPLAY_SIZE, cfg.get("display_echo", False))
    from drivers.sim.ht1621 import SimSegmentDisplay

    return SimSegmentDisplay(state + "/display.seg", cfg.get("display_echo", False))


def _starved(late_ms):
    print("watchdog: not fed for %d ms past its timeout; a board would reset here" % late_ms)


def _makedirs(os, path):
    part = ""
    for p in path.split("/"):
        part = part + "/" + p if part or path.startswith("/") else p
        if not p:
            continue
        try:
            os.mkdir(part)
        except OSError:
            pass
