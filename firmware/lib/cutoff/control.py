"""The supply cut-off: disconnect-control state machine and contract power limit (docs/cutoff.md).

Modelled on COSEM Disconnect control (class 70), control mode 3 (disconnect by b remote, c
remote, g local; reconnect by d remote enable, e button), plus the remote reconnect a of mode 4
(COMMAND relay_reconnect) and, when limit_reconnect = 2, the automatic local reconnect h of
mode 6. Our states (Seam G) and the DLMS control_state they are:

    closed       Connected (1)
    open_remote  Disconnected (0), opened by the concentrator
    open_limit   Disconnected (0), opened by the contract power limit
    armed        Ready_for_reconnection (2): the customer closes with a long button press

The state is committed to the store before the coil is pulsed, and the coil is pulsed only by a
transition: a boot reads the state and the contact back and never moves the relay; a contact
that disagrees with the state is reported (status bit, event), not corrected.
"""

import struct

import storekeys
from datamodel import events
from datamodel import metering as mt
from datamodel import registers as r
from datamodel.model import OK
from micropython import const

CLOSED = const(0)
OPEN_REMOTE = const(1)
OPEN_LIMIT = const(2)
ARMED = const(3)
NAMES = ("closed", "open_remote", "open_limit", "armed")
CONTROL_STATE = (1, 0, 0, 2)  # DLMS control_state of each of ours

LONG = const(2)  # interfaces.Button: 1 short, 2 long

# what a limit trip leads to (register limit_reconnect 0x0E03)
VIA_CONCENTRATOR = const(0)  # open_limit; reconnect-enable, then the button
VIA_BUTTON = const(1)  # armed at once (DLMS g): the customer re-arms after shedding load
AUTOMATIC = const(2)  # open_limit; closes itself after auto_reconnect_s (DLMS h)

# relay_closed event DATA: who closed it
BY_REMOTE = const(1)
BY_BUTTON = const(2)
BY_AUTOMATIC = const(3)

_CONTRACT_POWER = const(0x0800)  # contract1_power_w, W (group 0x08)
_REC = ">BBH"  # store record: STATE(1) CAUSE(1) LIMIT_TRIPS(2)


class Cutoff:
    def __init__(self, meter):
        self.meter = meter
        self.relay = meter.hw.relay
        self._state = CLOSED
        self.cause = CLOSED  # what opened it last: OPEN_REMOTE or OPEN_LIMIT (armed keeps it)
        self.limit_trips = 0
        v = meter.store.get(storekeys.CUTOFF_STATE)
        if v is not None and len(v) == 4 and v[0] <= ARMED and v[1] <= OPEN_LIMIT:
            self._state, self.cause, self.limit_trips = struct.unpack(_REC, v)
        self.overload_s = 0  # seconds over the limit so far (RAM: a power cut restarts it)
        self.open_s = 0  # seconds in open_limit (automatic reconnection)
        self.mismatch = False  # the contact disagrees with the state (set at boot)
        c = self.relay.state()
        if c is not None and c != (self._state == CLOSED):
            self.mismatch = True
            meter.model.log(events.CONTACT_MISMATCH, 1 if c else 0)

    # --- Seam G --------------------------------------------------------------------------------

    def state(self):
        return NAMES[self._state]

    def code(self):
        return self._state

    def on_press(self, kind):
        """A button press: a long press closes an armed relay (DLMS e); True if consumed."""
        if self._state != ARMED or kind != LONG:
            return False
        self._go(CLOSED, events.RELAY_CLOSED, BY_BUTTON, True)
        return True

    # --- remote commands (COMMAND 0x04..0x06): 0 or a NACK code ---------------------------------

    def disconnect(self):
        """DLMS b/c: open from any state. Repeated, it pulses the coil again (the concentrator
        re-asserts a position a contact lost)."""
        self._go(OPEN_REMOTE, events.RELAY_OPENED, 0)
        return OK

    def reconnect_enable(self):
        """DLMS d: an open relay becomes armed; closed or armed stays as it is."""
        if self._state in (OPEN_REMOTE, OPEN_LIMIT):
            self._go(ARMED, events.RECONNECT_ENABLED, 0)
        return OK

    def reconnect(self):
        """DLMS a (mode 4): close at once."""
        self._go(CLOSED, events.RELAY_CLOSED, BY_REMOTE)
        return OK

    # --- every metering second (meter.on_second) ---------------------------------------------

    def on_second(self, utc_s):
        md = self.meter.model
        st = self._state
        if st == OPEN_LIMIT:
            self.overload_s = 0
            if md.get_int(r.LIMIT_RECONNECT) == AUTOMATIC:
                self.open_s += 1
                if self.open_s >= md.get_int(r.AUTO_RECONNECT_S):
                    self._go(CLOSED, events.RELAY_CLOSED, BY_AUTOMATIC, True)
            return
        if st != CLOSED or not md.get_int(r.CUTOFF_MODE):
            self.overload_s = 0
            return
        p = self.power_w()
        if p <= self.limit_w():
            self.overload_s = 0
            return
        self.overload_s += 1
        if self.overload_s < md.get_int(r.CUTOFF_DELAY_S):
            return
        self.limit_trips = (self.limit_trips + 1) & 0xFFFF
        to = ARMED if md.get_int(r.LIMIT_RECONNECT) == VIA_BUTTON else OPEN_LIMIT
        self._go(to, events.LIMIT_TRIP, min(p // 10, 0xFFFF), True)

    def power_w(self):
        """Last second's active power, W, import positive (Seam D: meter.metering POWER)."""
        b = self.meter.metering.buf
        o = mt.POWER
        hi = b[o]
        if hi & 0x80:
            hi -= 256  # signed; stays a small int (no slice, no allocation per second)
        return (hi << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]

    def limit_w(self):
        """Contract power (0x0800) plus the tolerance (0x0E01), W."""
        md = self.meter.model
        return md.get_int(_CONTRACT_POWER) * (100 + md.get_int(r.CUTOFF_MARGIN_PCT)) // 100

    # --- transitions ---------------------------------------------------------------------------

    def _go(self, to, code, data, local=False):
        """Commit the new state, pulse the coil if the contact must move, log it.

        A store that refuses the commit (OSError) fails a remote command before anything
        changed (the AL answers NACK 11); a local transition (button, limit, automatic) goes
        ahead in RAM and on the coil, the fault recorded: protecting the installation does not
        wait for the flash. A refused event-log write loses the event only (fault recorded)."""
        was = self._state
        cause = to if to in (OPEN_REMOTE, OPEN_LIMIT) else self.cause
        if to == ARMED and was == CLOSED:
            cause = OPEN_LIMIT  # only a limit trip arms a closed relay
        if to == CLOSED:
            cause = CLOSED
        try:
            self.meter.store.put(
                storekeys.CUTOFF_STATE, struct.pack(_REC, to, cause, self.limit_trips)
            )
        except OSError as e:
            if not local:
                raise
            self._fault(e)
        self.cause = cause
        self._state = to
        self.overload_s = 0
        self.open_s = 0
        self.mismatch = False
        if to == CLOSED:
            self.relay.close()
        elif to != ARMED or was == CLOSED:  # armed is open too; enabling moves nothing
            self.relay.open()
        try:
            self.meter.model.log(code, data)
        except OSError as e:
            self._fault(e)

    def _fault(self, e):
        faults = getattr(self.meter, "faults", None)
        if faults is not None:
            faults.record(e, "cutoff.store")
