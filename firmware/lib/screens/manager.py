"""Display management (docs/display.md §1): what the meter shows, and when.

Screens, highest priority first:
  sw id      at start and on COMMAND display_sw_id: legal_sw_id (0x0700), then its checksum
             (0x0701), one scroll period each (WELMEC 7.2 P2: shown without tools)
  special    a concentrator message (COMMAND display_special) until its duration ends, a
             display_special_clear, or a short press
  button     after a short press: the push-button list (0x0F03), one item per short press
  alternate  after a long press: the alternate list (0x0F04); a short press steps it, another
             long press leaves it
  scroll     otherwise: the automatic list (0x0F00), each item display_scroll_s (0x0F01),
             preceded by the cut-off screen while the relay is not closed, the error screen
             while an error indication is pending, and the remote message (0x0F02) while it
             is not all spaces
Button and alternate modes end after display_timeout_s (0x0F05) without a press. On every
screen the icons show the tariff in force, the energy direction, relay open, armed (blinking),
communication and alarm.

The manager refreshes every REFRESH_MS of meter.clock and on a press; a frame equal to the one
on the glass is sent again only after REWRITE_MS. One refresh writes into preallocated frames.
"""

import struct

from datamodel import metering as mt
from datamodel import registers as r
from datamodel.live import status_flags
from micropython import const

from screens import items
from screens.frame import (
    ICON_ALARM,
    ICON_ARMED,
    ICON_COMM,
    ICON_EXPORT,
    ICON_IMPORT,
    ICON_RELAY_OPEN,
    ICON_T1,
    VALUE_MAX,
    Frame,
)

REFRESH_MS = const(500)  # also the blink half-period
PAGE_MS = const(2000)  # a text longer than the glass shows one page this long
COMM_MS = const(5000)  # the COM icon stays lit this long after an exchange
REWRITE_MS = const(60_000)  # an unchanged screen is still sent this often (a glass that lost it)
SPECIAL_MAX_S = const(3600)

DISPLAY_LIST = const(0x0F00)
SCROLL_S = const(0x0F01)
MESSAGE = const(0x0F02)
BUTTON_LIST = const(0x0F03)
ALT_LIST = const(0x0F04)
TIMEOUT_S = const(0x0F05)

MODE_SCROLL = const(0)
MODE_BUTTON = const(1)
MODE_ALT = const(2)
MODE_SPECIAL = const(3)
MODE_SW_ID = const(4)
MODE_NAMES = ("scroll", "button", "alternate", "special", "sw_id")

PRESS_SHORT = const(1)
PRESS_LONG = const(2)

# error indication bits (the error screen shows "Err" and these as 4 hex digits)
ERR_CLOCK = const(0x01)  # clock not set (status word SW_CLOCK_NOT_SET)
ERR_STORE = const(0x02)  # the store discarded a torn record at start (SW_STORE_RECOVERED)
ERR_METROLOGY = const(0x04)  # the metering front-end reports a fault
ERR_FAULTS = const(0x08)  # meter.faults recorded something since start
ERR_RELAY = const(0x10)  # relay contact disagrees with the command (SW_RELAY_FAULT)

_CUTOFF_TEXT = {
    "open_remote": b"OPEN",
    "open_limit": b"OPEN OL",
    "armed": b"PUSH BTN",
}


class DisplayManager:
    def __init__(self, meter, display=None):
        self.meter = meter
        self.display = display
        self.cols = display.cols if display is not None else VALUE_MAX
        self.frame = Frame()
        self.shown = Frame()  # what the glass has now
        self.fresh = False  # shown is valid
        self._sent = 0  # when it was last sent
        self.renders = 0
        self.refreshes = 0
        self.render_errors = 0
        now = meter.clock.now_ms()
        self.mode = MODE_SW_ID
        self.idx = 0
        self.t0 = now  # start of the current item
        self.until = now + 2 * self._scroll_ms()  # end of a timed mode (sw id, special)
        self.pressed = now
        self.special = bytearray(16)
        self.special_n = 0
        self.errors = 0
        self._errors_at = -1
        self._lb = None  # the list _list() read last: its block and first id's offset
        self._lo = 0
        self._comm_seen = -1
        self._comm_until = 0

    # --- inputs -----------------------------------------------------------------------------

    def on_press(self, kind):
        """Seam G: the button dispatcher's press (1 short, 2 long) when cut-off did not take it."""
        now = self.meter.clock.now_ms()
        self.pressed = now
        m = self.mode
        if m == MODE_SPECIAL and kind == PRESS_SHORT:
            self.special_clear()
        elif kind == PRESS_LONG:
            self._enter(MODE_SCROLL if m == MODE_ALT else MODE_ALT, now)
        elif m in (MODE_BUTTON, MODE_ALT):
            self.idx += 1
            self.t0 = now
        else:
            self._enter(MODE_BUTTON, now)
        self.refresh()

    def special_show(self, text, seconds):
        """A concentrator message for `seconds` (1..SPECIAL_MAX_S); text: printable ASCII."""
        n = min(len(text), len(self.special))
        while n and text[n - 1] == 0x20:
            n -= 1
        self.special[:n] = text[:n]
        self.special_n = n
        now = self.meter.clock.now_ms()
        self._enter(MODE_SPECIAL, now)
        self.until = now + 1000 * seconds
        self.refresh()

    def special_clear(self):
        if self.mode == MODE_SPECIAL:
            self._enter(MODE_SCROLL, self.meter.clock.now_ms())
            self.refresh()

    def show_sw_id(self):
        now = self.meter.clock.now_ms()
        self._enter(MODE_SW_ID, now)
        self.until = now + 2 * self._scroll_ms()
        self.refresh()

    def special_state(self):
        """0x0F06: REMAINING_S(2) TEXT(16) of the special message on show, zeros if none."""
        out = bytearray(18)
        if self.mode == MODE_SPECIAL:
            left = (self.until - self.meter.clock.now_ms() + 999) // 1000
            struct.pack_into(">H", out, 0, max(0, left))
            out[2 : 2 + self.special_n] = self.special[: self.special_n]
            for i in range(2 + self.special_n, 18):
                out[i] = 0x20
        return bytes(out)

    # --- the loop ---------------------------------------------------------------------------

    async def run(self):
        clock = self.meter.clock
        while True:
            self.refresh()
            await clock.sleep_ms(REFRESH_MS)

    def refresh(self):
        now = self.meter.clock.now_ms()
        self.refreshes += 1
        self._errors_update(now)
        self._timeouts(now)
        f = self.frame
        f.clear()
        self._screen(f, now)
        if f.left and f.value_n > self.cols:
            self._page(f, now)
        f.icons |= self._icons(now)
        if self.fresh and f.equals(self.shown) and now - self._sent < REWRITE_MS:
            return
        self.shown.copy_from(f)
        self.fresh = True
        self._sent = now
        self.renders += 1
        if self.display is None:
            return
        try:
            self.display.render(f)
        except Exception as e:  # a glass off its bus (I2C NAK, ...): metering goes on
            self.fresh = False  # try again at the next refresh
            self.render_errors += 1
            self.meter.faults.record(e, "display.render")

    def text(self):
        """The screen on the glass as one line (terminal, tests)."""
        return self.shown.text()

    # --- modes ------------------------------------------------------------------------------

    def _enter(self, mode, now):
        self.mode = mode
        self.idx = 0
        self.t0 = now

    def _scroll_ms(self):
        return 1000 * items.int_of(self.meter.model, r.find(SCROLL_S))

    def _timeouts(self, now):
        m = self.mode
        if m in (MODE_SW_ID, MODE_SPECIAL):
            if now >= self.until:
                self._enter(MODE_SCROLL, now)
        elif m in (MODE_BUTTON, MODE_ALT):
            if now - self.pressed >= 1000 * items.int_of(self.meter.model, r.find(TIMEOUT_S)):
                self._enter(MODE_SCROLL, now)
        elif now - self.t0 >= self._scroll_ms():
            self.idx += 1
            self.t0 = now

    def _screen(self, f, now):
        m = self.mode
        if m == MODE_SW_ID:
            items.show(f, self.meter, 0x0700 if now - self.t0 < self._scroll_ms() else 0x0701)
        elif m == MODE_SPECIAL:
            f.set_value(self.special, 0, self.special_n)
            f.left = True
        elif m == MODE_SCROLL:
            self._scroll_item(f)
        else:
            n = self._list(BUTTON_LIST if m == MODE_BUTTON else ALT_LIST)
            if n == 0:
                self._scroll_item(f)
                return
            items.show(f, self.meter, self._id(self.idx % n))

    def _list(self, oid):
        """The number of ids in an objlist parameter, read in place; _id(i) gives them."""
        row = r.find(oid)
        blk = self.meter.model.blocks[oid >> 8]
        self._lb = blk
        self._lo = row[6] + 1
        return blk[row[6]] >> 1

    def _id(self, i):
        j = self._lo + 2 * i
        return self._lb[j] << 8 | self._lb[j + 1]

    def _message_n(self):
        row = r.find(MESSAGE)
        blk = self.meter.model.blocks[MESSAGE >> 8]
        off = row[6]
        for i in range(row[3], 0, -1):
            if blk[off + i - 1] != 0x20:
                return i
        return 0

    def _scroll_item(self, f):
        """Item idx of: [cut-off] [errors] [remote message] display_list..."""
        cut = self._cutoff()
        n = self._list(DISPLAY_LIST)
        msg_n = self._message_n()
        total = n + (cut != "closed") + (self.errors != 0) + (msg_n != 0)
        if total == 0:
            return
        i = self.idx % total
        if cut != "closed":
            if i == 0:
                f.set_code(b"C.3.10")  # 0.0.96.3.10 disconnect control
                f.set_value(_CUTOFF_TEXT.get(cut, b"OPEN"))
                f.left = True
                return
            i -= 1
        if self.errors:
            if i == 0:
                f.set_code(b"F.F")
                f.set_value(b"Err ")
                items.put_hex(f, self.errors, 4, 4)
                return
            i -= 1
        if msg_n:
            if i == 0:
                f.set_value(self.meter.model.blocks[MESSAGE >> 8], r.find(MESSAGE)[6], msg_n)
                f.left = True
                return
            i -= 1
        items.show(f, self.meter, self._id(i))

    def _page(self, f, now):
        """A text longer than the glass: one page of `cols` characters each PAGE_MS."""
        cols = self.cols
        n = f.value_n
        p = (now - self.t0) // PAGE_MS % ((n + cols - 1) // cols)
        f.set_value(f.value, p * cols, min(cols, n - p * cols))

    # --- indications ------------------------------------------------------------------------

    def _cutoff(self):
        """Seam G: meter.cutoff.state() when the cut-off feature is there, else the relay and
        the relay_armed register."""
        m = self.meter
        c = getattr(m, "cutoff", None)
        if c is not None:
            return c.state()
        if items.int_of(m.model, r.find(r.RELAY_ARMED)):
            return "armed"
        relay = m.hw.relay
        if relay is not None and relay.state() is False:
            return "open_remote"
        return "closed"

    def _errors_update(self, now):
        # the status word's flags as an int (its bytes getter allocates): once a second
        if now // 1000 == self._errors_at:
            return
        self._errors_at = now // 1000
        m = self.meter
        sw = status_flags(m)
        e = 0
        if sw & r.SW_CLOCK_NOT_SET:
            e |= ERR_CLOCK
        if sw & r.SW_STORE_RECOVERED:
            e |= ERR_STORE
        if sw & r.SW_RELAY_FAULT:
            e |= ERR_RELAY
        if sw & getattr(r, "SW_METROLOGY_FAULT", 0):
            e |= ERR_METROLOGY
        met = getattr(m.hw, "metrology", None)
        if met is not None and met.fault():
            e |= ERR_METROLOGY
        if m.faults.count:
            e |= ERR_FAULTS
        self.errors = e

    def _icons(self, now):
        m = self.meter
        md = m.model
        icons = 0
        tariffs = getattr(m, "tariffs", None)
        if tariffs is not None:
            t = tariffs.current(m.wallclock.now())
        else:
            t = md.metering.buf[mt.ACTIVE_TARIFF]
        if 1 <= t <= 4:
            icons |= ICON_T1 << (t - 1)
        p = items.int_of(md, r.find(0x1702))
        if p > 0:
            icons |= ICON_IMPORT
        elif p < 0:
            icons |= ICON_EXPORT
        cut = self._cutoff()
        if cut != "closed":
            icons |= ICON_RELAY_OPEN
        if cut == "armed" and (now // REFRESH_MS) & 1 == 0:
            icons |= ICON_ARMED  # blinks: on for one refresh period, off for the next
        st = m.al.stats
        seen = st.get("read", 0) + st.get("write", 0) + st.get("command", 0)
        if seen != self._comm_seen:
            if self._comm_seen >= 0:
                self._comm_until = now + COMM_MS
            self._comm_seen = seen
        if now < self._comm_until:
            icons |= ICON_COMM
        if self.errors:
            icons |= ICON_ALARM
        return icons
