"""Test fixture: a real app.Meter (alfix.Bench) whose display is the HT1621 driver on the
simulated chip, plus an SSD1306 framebuf that renders the same frames, and the scenes every
display mode is checked in (host_tests/mp/test_display_screens.py, goldens in
host_tests/golden/display_screens.txt, rewritten by tools/regen_display_goldens.py)."""

import binascii

import alfix
import civiltime
from datamodel import legal
from datamodel import metering as mt
from datamodel import registers as r
from drivers.sim.display import SimDisplay
from drivers.sim.ht1621 import SimSegmentDisplay

GOLDEN = "host_tests/golden/display_screens.txt"
LEGAL_CRC = 0x1234ABCD  # fixed, so the goldens do not follow every edit of a legal module
SW_ID = b"MMPYL001"


class Metrology:
    """interfaces.Metrology that never delivers a sample; the display asks only fault()."""

    name = "display_test"

    def __init__(self):
        self.bad = False
        self.errors = 0

    async def read(self, sample):
        return False

    def fault(self):
        return self.bad


class Cutoff:
    """Seam G as the display reads it (a build without the cut-off feature)."""

    def __init__(self, state):
        self.s = state

    def state(self):
        return self.s


class Tariffs:
    """Seam C as the display reads it: a fixed tariff, local time = UTC + 1 h."""

    def __init__(self, t):
        self.t = t

    def current(self, utc):
        return self.t

    def local(self, utc):
        return civiltime.datetime(utc + 3600) + (False,)


def set_cutoff(meter, state):
    """What meter.cutoff.state() says; the feature's own object keeps everything else."""
    c = getattr(meter, "cutoff", None)
    if c is None:
        meter.cutoff = Cutoff(state)
    else:
        c.state = lambda: state


def set_tariff(meter, t):
    fake = Tariffs(t)
    real = getattr(meter, "tariffs", None)
    if real is None:
        meter.tariffs = fake
    else:
        real.current = fake.current
        real.local = fake.local


class Relay(alfix.Relay):
    def __init__(self):
        super().__init__()
        self.bad = False

    def fault(self):
        return self.bad


class DisplayBench(alfix.Bench):
    def hardware(self):
        hw = super().hardware()
        self.seg = SimSegmentDisplay()
        self.dots = SimDisplay()
        self.met = Metrology()
        hw.display = self.seg
        hw.metrology = self.met
        hw.relay = Relay()
        return hw

    def boot(self):
        super().boot()
        # what the display reads from other features (Seams C and G) is pinned, so the goldens
        # stay what they are whichever features this build attaches
        set_tariff(self.meter, 2)
        self.meter.model.legal_crc = LEGAL_CRC
        legal.SW_ID = SW_ID
        self.mgr = self.meter.display_mgr
        return self.meter

    def at(self, ms):
        """Move the meter's clock to ms and refresh the display."""
        self.clock.set(ms)
        self.mgr.refresh()

    def past_sw_id(self):
        self.at(2 * 1000 * self.meter.model.get_int(0x0F01))

    def measurements(self):
        me = self.meter.metering
        me.set(mt.ACTIVE_IMPORT, 4, 1234567)
        me.set(mt.ACTIVE_EXPORT, 4, 8901)
        me.set(mt.IMPORT_T1, 4, 1000000)
        me.set(mt.IMPORT_T2, 4, 234567)
        me.set(mt.VOLTAGE, 2, 2301)
        me.set(mt.CURRENT, 2, 652)
        me.set(mt.POWER, 4, 1500)

    def snapshot(self):
        """(name-independent) golden text of what both glasses show now."""
        self.dots.render(self.mgr.shown)
        seg = binascii.crc32(self.seg.chip.ram) & 0xFFFFFFFF
        dots = binascii.crc32(self.dots.buffer) & 0xFFFFFFFF
        return "frame %s\nsegments %08x pixels %08x\n%s\n" % (
            self.mgr.text().rstrip(),
            seg,
            dots,
            self.seg.shown(),
        )


def _sw_id(b):
    b.at(0)


def _sw_checksum(b):
    b.at(1000 * b.meter.model.get_int(0x0F01))


def _scroll_energy(b):
    b.measurements()
    b.past_sw_id()


def _scroll_next(b):
    b.measurements()
    b.past_sw_id()
    b.at(b.clock.now_ms() + 1000 * b.meter.model.get_int(0x0F01))


def _button(b):
    b.measurements()
    b.past_sw_id()
    b.mgr.on_press(1)
    b.mgr.on_press(1)


def _alternate(b):
    b.measurements()
    b.past_sw_id()
    b.mgr.on_press(2)


def _remote_message(page):
    def scene(b):
        b.past_sw_id()
        row = r.find(0x0F02)
        b.meter.model.write(row, b"NEW TARIFF 01/27")
        b.at(b.clock.now_ms() + 2000 * page)

    return scene


def _special(b):
    from smitp import commands

    b.past_sw_id()
    commands.COMMANDS[commands.DISPLAY_SPECIAL][2](b.meter, b"\x00\x3cPAY BILL BY 3/12")


def _error(kind):
    def scene(b):
        m = b.meter
        if kind == "clock":
            b.rtc.t = 0
        elif kind == "store":
            m.store_recovered = True
        elif kind == "metrology":
            b.met.bad = True
        elif kind == "faults":
            m.faults.record(ValueError("test"), "display_test")
        elif kind == "relay":
            m.hw.relay.bad = True
        b.past_sw_id()

    return scene


def _cutoff(state, blink_off=False):
    def scene(b):
        b.measurements()
        if state == "open_relay":
            b.meter.cutoff = None  # as the feature leaves it without a relay: the relay itself
            b.meter.hw.relay.open()
        else:
            set_cutoff(b.meter, state)
        b.past_sw_id()
        if blink_off:
            b.at(b.clock.now_ms() + 500)

    return scene


SCENES = (
    ("sw_id", _sw_id),
    ("sw_checksum", _sw_checksum),
    ("scroll_energy", _scroll_energy),
    ("scroll_next", _scroll_next),
    ("button_list", _button),
    ("alternate_list", _alternate),
    ("remote_message_page1", _remote_message(0)),
    ("remote_message_page2", _remote_message(1)),
    ("special_message", _special),
    ("error_clock_not_set", _error("clock")),
    ("error_store_recovered", _error("store")),
    ("error_metrology", _error("metrology")),
    ("error_faults", _error("faults")),
    ("error_relay", _error("relay")),
    ("cutoff_open_relay", _cutoff("open_relay")),
    ("cutoff_open_remote", _cutoff("open_remote")),
    ("cutoff_open_limit", _cutoff("open_limit")),
    ("cutoff_armed_blink_on", _cutoff("armed")),
    ("cutoff_armed_blink_off", _cutoff("armed", True)),
)


def render_all():
    """{scene name: golden text}, each scene on a fresh meter."""
    out = {}
    for name, scene in SCENES:
        b = DisplayBench("disp_" + name)
        try:
            scene(b)
            out[name] = b.snapshot()
        finally:
            b.close()
    return out


def format_goldens(shots):
    parts = []
    for name, _ in SCENES:
        parts.append("== %s\n%s" % (name, shots[name]))
    return "".join(parts)


def parse_goldens(text):
    out = {}
    name = None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the text ends with a newline
    for line in lines:
        if line.startswith("== "):
            name = line[3:]
            out[name] = ""
        elif name is not None:
            out[name] += line + "\n"
    return out
