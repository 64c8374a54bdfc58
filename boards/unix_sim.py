"""unix_sim: the host board. The same firmware runs on the PC with simulated peripherals.

flash   = a file with NOR semantics (erase to 0xFF, program clears bits), 8 x 4 KiB blocks
rtc     = a settable wall clock kept as an offset in a file
optical = a TCP listener on 127.0.0.1 (cfg "optical_port"), 7E1 as octets with bit 7 = parity
plc     = the simulated medium (cfg "medium" = "host:port", or "sample:host:port" for the
          sample-level mode with the soft PHY), a direct concentrator link listening on
          127.0.0.1 (cfg "plc_listen" = port, 2-byte length framing), or a simulated certified
          modem driven over its host interface (cfg "modem" = "host:port", tools/modem_sim.py)
display = framebuf written as a PBM file on every refresh
relay   = latching relay whose contact position survives restarts (a file)
bnode   = a simulated B-Node (customer display) behind the meter; last update in a file
clock   = host ticks, or the medium's simulated time when on the medium
watchdog= the boards' Watchdog adapter over a SimWdt counting host time (the supervisor feeds
          on the loop's real-time sleep, and simulated medium time runs much faster); a starved
          watchdog prints what a board would have reset for and keeps running
supply  = the boards' SupplyInput over a SimPin ("supply", high = mains present)
"""

NAME = "unix_sim"
CPU_HZ = None  # whatever the host runs at
FLASH_BLOCK_SIZE = 4096
FLASH_BLOCKS = 8
DISPLAY_SIZE = (128, 64)
RELAY_PULSE_MS = 50
RELAY_MIN_GAP_MS = 1000
WDT_TIMEOUT_MS = 8000


SLOT_BLOCKS = 64  # each download slot: 64 x 4 KiB of simulated NOR flash (docs/download.md §4)


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
    from drivers.relay import LatchingRelay
    from drivers.sim.bnode import SimBNode
    from drivers.sim.display import SimDisplay
    from drivers.sim.pin import LatchContact, SimPin
    from drivers.sim.rtc import SimRtc
    from drivers.supply import SupplyInput
    from drivers.watchdog import SimWdt, Watchdog
    from hw import Hardware

    state = cfg["state_dir"]
    _makedirs(os, state)
    clock = Clock()
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
        rtc=SimRtc(state + "/rtc"),
        optical=optical,
        display=SimDisplay(state + "/display.pbm", *DISPLAY_SIZE),
        relay=LatchingRelay(
            contact.set_coil, contact.reset_coil, RELAY_PULSE_MS, contact, clock, RELAY_MIN_GAP_MS
        ),
        led=SimPin("led"),
        watchdog=Watchdog(SimWdt.factory(Clock(), _starved), WDT_TIMEOUT_MS),
        supply=SupplyInput(SimPin("supply", 1)),
        bnode=SimBNode(state + "/bnode.txt"),
        slots=slot_devices(cfg),
    )


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
