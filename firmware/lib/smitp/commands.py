"""COMMAND.REQ (18/118) codes and what they do (docs/smitp.md §5.12), and the clock
synchronisation both COMMAND and WRITE of 0x0100 use (§7).

Each command: fn(meter, args memoryview) -> 0 or a NACK code. Access (write key) is checked by
the AL before; argument length here, by the table below.
"""

import struct

from datamodel import events
from datamodel import metering as mt
from datamodel import registers as r
from datamodel.model import E_NOT_SUPPORTED, E_VALUE, OK
from datamodel.values import TIME_MAX, TIME_MIN
from micropython import const
from screens import remote as display
from tariff.billing import CAUSE_COMMAND

BILLING_CLOSE = const(0x01)
CLOCK_SET = const(0x02)
CLOCK_ADJUST = const(0x03)
RELAY_DISCONNECT = const(0x04)
RELAY_RECONNECT_ENABLE = const(0x05)
RELAY_RECONNECT = const(0x06)
EVENT_LOG_CLEAR = const(0x07)
SYNC_FREEZE = const(0x08)
MAX_DEMAND_RESET = const(0x09)
BNODE_UPDATE = const(0x0A)
IC_CANCEL = const(0x0B)
DOWNLOAD_START = const(0x18)
DOWNLOAD_ACTIVATE = const(0x19)
DOWNLOAD_ABORT = const(0x1A)
DOWNLOAD_RELAY = const(0x1B)
DISPLAY_SPECIAL = const(0x20)  # display 0x20..0x23: screens/remote.py, docs/display.md §5
DISPLAY_SPECIAL_CLEAR = const(0x21)
DISPLAY_SW_ID = const(0x22)


def _step(m, t, code):
    # the one path that moves the clock: range check, set, counters, event
    if not TIME_MIN <= t <= TIME_MAX:
        return E_VALUE
    step = m.wallclock.set(t)
    md = m.model
    md.set_ints(((r.LAST_CLOCK_SYNC, t), (r.CLOCK_SYNC_COUNT, md.get_int(r.CLOCK_SYNC_COUNT) + 1)))
    md.log(code, events.clamp16(step))
    return OK


def clock_set(m, t):
    return _step(m, t, events.CLOCK_SET)


def _clock_set(m, a):
    return clock_set(m, struct.unpack(">I", a)[0])


def _clock_adjust(m, a):
    d = struct.unpack(">i", a)[0]
    if abs(d) > m.model.get_int(r.CLOCK_SYNC_WINDOW):
        return E_VALUE
    return _step(m, m.wallclock.now() + d, events.CLOCK_ADJUST)


def _billing_close(m, a):
    return m.billing.close(m.wallclock.now(), CAUSE_COMMAND)


def _cutoff(m):
    # the cut-off state machine (lib/cutoff) owns the relay; None on a board without one
    return getattr(m, "cutoff", None)


def _disconnect(m, a):
    c = _cutoff(m)
    return E_NOT_SUPPORTED if c is None else c.disconnect()


def _reconnect_enable(m, a):
    c = _cutoff(m)
    return E_NOT_SUPPORTED if c is None else c.reconnect_enable()


def _reconnect(m, a):
    c = _cutoff(m)
    return E_NOT_SUPPORTED if c is None else c.reconnect()


def _log_clear(m, a):
    t = m.model.tables[r.EVENT_LOG]
    n = t.count()
    t.clear()
    m.model.log(events.LOG_CLEARED, n)
    return OK


def _sync_freeze(m, a):
    me = m.model.metering
    m.model.set_ints(
        (
            (r.SYNC_TIME, m.wallclock.now()),
            (r.SYNC_IMPORT, me.get(mt.ACTIVE_IMPORT, 4)),
            (r.SYNC_EXPORT, me.get(mt.ACTIVE_EXPORT, 4)),
        )
    )
    m.model.log(events.SYNC_FREEZE)
    return OK


def _md_reset(m, a):
    m.billing.reset_demand()
    m.model.log(events.MAX_DEMAND_RESET)
    return OK


def _bnode(m, a):
    if m.bnode is None:
        return E_NOT_SUPPORTED
    m.bnode.update(m)
    return OK


def _ic_cancel(m, a):
    m.model.cancel_pending()
    return OK


def _dl(name):
    # software download commands go to meter.dl (docs/download.md §6)
    def run(m, a):
        d = getattr(m, "dl", None)
        return E_NOT_SUPPORTED if d is None else getattr(d, name)(a)

    return run


# code: (name, argument bytes, function)
COMMANDS = {
    BILLING_CLOSE: ("billing_close", 0, _billing_close),
    CLOCK_SET: ("clock_set", 4, _clock_set),
    CLOCK_ADJUST: ("clock_adjust", 4, _clock_adjust),
    RELAY_DISCONNECT: ("relay_disconnect", 0, _disconnect),
    RELAY_RECONNECT_ENABLE: ("relay_reconnect_enable", 0, _reconnect_enable),
    RELAY_RECONNECT: ("relay_reconnect", 0, _reconnect),
    EVENT_LOG_CLEAR: ("event_log_clear", 0, _log_clear),
    SYNC_FREEZE: ("sync_freeze", 0, _sync_freeze),
    MAX_DEMAND_RESET: ("max_demand_reset", 0, _md_reset),
    BNODE_UPDATE: ("bnode_update", 0, _bnode),
    IC_CANCEL: ("ic_cancel", 0, _ic_cancel),
    DOWNLOAD_START: ("download_start", 9, _dl("cmd_start")),
    DOWNLOAD_ACTIVATE: ("download_activate", 4, _dl("cmd_activate")),
    DOWNLOAD_ABORT: ("download_abort", 0, _dl("cmd_abort")),
    DOWNLOAD_RELAY: ("download_relay", 8, _dl("cmd_relay")),
    DISPLAY_SPECIAL: ("display_special", 18, display.special),
    DISPLAY_SPECIAL_CLEAR: ("display_special_clear", 0, display.special_clear),
    DISPLAY_SW_ID: ("display_sw_id", 0, display.sw_id),
}
