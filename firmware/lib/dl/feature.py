"""Software download on the meter (docs/download.md): one object, `meter.dl`, and its task.

    from dl.feature import attach as _a; tasks += _a(self)      (app.Meter._attach_features)

- REPROG_LOCAL / REPROG_BROADCAST (ATTR 100/101, smitp.al hands them here): blocks into the
  download slot, status with the missing-block bitmap (§5).
- COMMAND download_start / download_activate / download_abort (write key, §6), and the same
  start and activate for every meter at once by REPROG_BROADCAST under the download key (§5.5).
- The task: erases the download slot after a start, one erase unit at a time (§3), verifies
  a complete download, activates it at its time (reset into the new image on trial), and
  during a trial confirms the image once the selftest passed and the concentrator was heard,
  or marks it failed (the next boot rolls back, dl.bootsel).
- Events (datamodel.events 0x0070-0x007F) for every download, activation, confirmation and
  roll-back.
"""

import struct

from clock import wait_or_timeout
from datamodel import events
from micropython import const

from dl import bootsel, image, transfer

REPROG_BROADCAST = const(101)
OP_BLOCK = const(1)
OP_STATUS = const(2)
OP_START = const(3)  # broadcast download_start (§5.5)
OP_ACTIVATE = const(4)  # broadcast download_activate (§5.5)
OP_STATUS_RESP = const(0x82)
OP_TAG = const(8)  # bytes of AES-CMAC a broadcast start / activate carries
START_LEN = const(22)  # 03 ID(4) SIZE(4) BS(1) VERSION(4) TAG(8)
ACTIVATE_LEN = const(17)  # 04 ID(4) TIME(4) TAG(8)
STATUS_HDR = const(11)  # OP STATE CODE RECEIVED(2) TOTAL(2) FROM(2) N VERSION... see docs
TRIAL_LISTEN_S = const(3600)  # a trial image that hears no concentrator this long fails
ACT_GRACE_S = const(2)  # activation "at once" waits this long: the ACK goes out first
ACT_DELAY_MAX = const(0xFFFF)  # broadcast activate TIME up to this: seconds after the copy
_ACK = const(0)


class Download:
    def __init__(self, meter, devs):
        import hashlib

        from config import raw
        from smitp.crypto import Cmac

        self.meter = meter
        self.enabled = devs is not None
        self.slots = bootsel.Slots(
            meter.store,
            devs if devs is not None else [None],
            meter.hw.name,
            bootsel.port_mpy(),
            raw(meter.cfg, "key_download"),
            hashlib.sha256,
        )
        sel = self.slots.selector() if self.enabled else (0, 0, 0, 0, 0)
        self.running = sel[0]
        info = self.slots.info(self.running) if self.enabled else None
        self.version = info[0] if info else factory_version()
        self._cmac = Cmac(self.slots.key())
        self.transfer = transfer.Transfer(self.slots, meter.store, self._cmac.cmac, self._log)
        self.wake = None  # asyncio.Event of the task, once it runs
        self._grace_until = 0  # clock ms before which an "at once" activation waits
        self.relay_from = None  # download_relay (§5.4): None = the concentrator's own copy
        self.relay_delay = 0  # ms after the source's copy; 0 = not a relay
        self.relayed = -1  # the block relayed last
        self.relays = 0  # blocks relayed (stats)
        self._relay_buf = bytearray(128)
        self.trial_failed = False
        # broadcast start / activate (§5.5): taken, repeats ignored, refused (version, state),
        # wrong tag (dropped, never answered)
        self.bcast = {"taken": 0, "repeat": 0, "refused": 0, "bad_tag": 0}
        self._tagbuf = bytearray(1 + START_LEN - OP_TAG)
        note = self.slots.take_note() if self.enabled else bootsel.NOTE_NONE
        if note == bootsel.NOTE_ACTIVATED:
            self._log(events.DL_ACTIVATED, self.version)
        elif note == bootsel.NOTE_ROLLED_BACK:
            self._log(events.DL_ROLLED_BACK, self.version)
        elif note == bootsel.NOTE_FELL_BACK:
            self._log(events.DL_FELL_BACK, self.version)
        t = self.transfer
        if note == bootsel.NOTE_ROLLED_BACK:
            t.set_state(transfer.IDLE)
        if t.state == transfer.READY and t.slot == self.running:
            t.set_state(transfer.ACTIVATED)  # power cut between the switch and its note

    def _log(self, code, data):
        self.meter.model.log(code, data & 0xFFFF)

    def on_trial(self):
        return self.enabled and self.slots.selector()[2] == bootsel.TRIAL

    # --- REPROG (smitp.al) -----------------------------------------------------------------------

    def reprog(self, apdu, local, out, lim, ctx=None):
        """One REPROG APDU -> (code, n): code 0 = ACK, else NACK PAR1; n > 0: `out[0:n]` is a
        REPROG_LOCAL status answer instead (§5.3). ctx (mac.link.Ctx): the frame's route and
        end time, for relaying broadcast blocks (§5.4)."""
        if not self.enabled:
            return transfer.E_STATE, 0
        if len(apdu) < 1:
            return 3, 0
        op = apdu[0]
        if op == OP_BLOCK:
            if len(apdu) < 7 + transfer.BLOCK_TAG + 1:
                return 3, 0
            n = (apdu[5] << 8) | apdu[6]
            end = len(apdu) - transfer.BLOCK_TAG
            code = self.transfer.block(apdu[1:5], n, apdu[7:end], apdu[end:])
            if code == 0 and not local and self.relay_delay and ctx is not None:
                self._relay(apdu, n, ctx)
            if code == 0 and self.transfer.complete() and self.wake is not None:
                self.wake.set()
            return code, 0
        if op == OP_STATUS and local:
            if len(apdu) != 7:
                return 3, 0
            return _ACK, self._status(apdu[1:5], (apdu[5] << 8) | apdu[6], out, lim)
        if (op == OP_START or op == OP_ACTIVATE) and not local:
            return self._broadcast_cmd(apdu), 0
        return 4, 0

    # --- broadcast start / activate (§5.5): REPROG_BROADCAST, AES-CMAC under the download key --

    def _tag_ok(self, apdu):
        # TAG = AES-CMAC(download key, 65 | the APDU before TAG), first 8 bytes
        n = len(apdu) - OP_TAG
        b = self._tagbuf
        b[0] = REPROG_BROADCAST
        b[1 : 1 + n] = apdu[:n]
        t = self._cmac.cmac(bytes(b[: 1 + n]))
        diff = 0
        for i in range(OP_TAG):
            diff |= t[i] ^ apdu[n + i]
        return diff == 0

    def _broadcast_cmd(self, apdu):
        """A broadcast start or activate -> its code (never answered: docs only, and tests)."""
        op = apdu[0]
        if len(apdu) != (START_LEN if op == OP_START else ACTIVATE_LEN):
            return 3
        if not self._tag_ok(apdu):
            self.bcast["bad_tag"] += 1
            return transfer.E_TAG
        iid = bytes(apdu[1:5])
        if op == OP_START:
            size, bs, version = struct.unpack(">IBI", bytes(apdu[5:14]))
            code = self._bcast_start(iid, size, bs, version)
        else:
            code = self._bcast_activate(iid, struct.unpack(">I", bytes(apdu[5:9]))[0])
        if code == 0:
            self.bcast["taken"] += 1
        elif code > 0:
            self.bcast["refused"] += 1
        return max(code, 0)

    def _bcast_start(self, iid, size, bs, version):
        # -1: the same start again (no second erase); never a downgrade; never over a session
        # opened by the sealed COMMAND (VERSION 0) or for an equal or higher version
        t = self.transfer
        if iid == t.image_id and t.state != transfer.IDLE:
            self.bcast["repeat"] += 1
            return -1
        if version <= self.version:
            return image.E_DOWNGRADE
        busy = (transfer.ERASING, transfer.RECEIVING, transfer.READY)
        if t.state in busy and (t.version == 0 or t.version >= version):
            return transfer.E_STATE
        return self._open(iid, size, bs, version)

    def _bcast_activate(self, iid, when):
        # TIME 0: at once (ACT_GRACE_S after this copy); 1..0xFFFF: that many seconds after this
        # copy on the meter's monotonic clock (the concentrator counts down to one moment over
        # its copies; the wall clock may be unset); above: seconds since 2000 as COMMAND 0x19.
        # -1: an activation time is already set (a repeat, or the sealed COMMAND): no change
        t = self.transfer
        if iid != t.image_id or t.state == transfer.IDLE:
            return transfer.E_SESSION
        if t.state != transfer.READY:
            return transfer.E_STATE
        if t.act_time:
            self.bcast["repeat"] += 1
            return -1
        if when <= ACT_DELAY_MAX:
            self._schedule(0, when or ACT_GRACE_S)
        else:
            self._schedule(when)
        return 0

    def _relay(self, apdu, n, ctx):
        # a valid broadcast block in the copy of our relay source, not the block relayed last
        # (a source sends each block once per pass): relay it relay_delay ms after that copy
        if n == self.relayed or self.transfer.state not in (transfer.RECEIVING, transfer.READY):
            return
        src = self.relay_from
        if src is None:
            if ctx.nrp != 0:
                return
        elif ctx.nrp != 1 or ctx.esize != 6 or bytes(ctx.route[0:6]) != src:
            return
        lsdu = self._relay_buf
        lsdu[0] = REPROG_BROADCAST
        lsdu[1 : 1 + len(apdu)] = apdu
        if self.meter.mac.relay_broadcast(
            memoryview(lsdu)[: 1 + len(apdu)], ctx.t_end_ms + self.relay_delay
        ):
            self.relayed = n
            self.relays += 1

    def cmd_relay(self, a):
        """COMMAND download_relay FROM(6) DELAY(2) (§5.4): relay the blocks of the open download
        heard from FROM (six zero bytes: the concentrator's own copy), DELAY ms after each;
        DELAY 0 stops. Lasts until the download ends or the meter restarts."""
        if self.transfer.state not in (transfer.RECEIVING, transfer.READY):
            return transfer.E_STATE
        src = bytes(a[0:6])
        self.relay_from = None if src == bytes(6) else src
        self.relay_delay = (a[6] << 8) | a[7]
        self.relayed = -1
        return 0

    def _status(self, image_id, first, out, lim):
        t = self.transfer
        out[0] = OP_STATUS_RESP
        out[1] = t.state
        out[2] = t.code
        struct.pack_into(">HHHB", out, 3, min(t.received, 0xFFFF), t.nblocks(), first, 0)
        struct.pack_into(">I", out, 10, self.version)
        out[14] = self.running
        out[15] = self.slots.selector()[2] if self.enabled else 0
        n = 0
        if bytes(image_id) == t.image_id and t.state != transfer.IDLE:
            n = max(0, min(lim - 16, ((t.nblocks() - first) + 7) >> 3))
            t.missing_bits(first, memoryview(out)[16:], n)
        out[9] = n
        return 16 + n

    # --- COMMAND (smitp.commands) -------------------------------------------------------------

    def cmd_start(self, a):
        if not self.enabled:
            return transfer.E_STATE
        image_id = bytes(a[0:4])
        size = struct.unpack(">I", bytes(a[4:8]))[0]
        return self._open(image_id, size, a[8], 0)

    def _open(self, image_id, size, bs, version):
        # the session opens at once (ERASING); the task erases the slot
        self.relay_delay = 0
        code = self.transfer.start(image_id, size, bs, version)
        if code == 0 and self.wake is not None:
            self.wake.set()
        return code

    def cmd_activate(self, a):
        t = self.transfer
        if t.state != transfer.READY:
            return transfer.E_STATE
        self._schedule(struct.unpack(">I", bytes(a))[0])
        return 0

    def _schedule(self, when, wait_s=ACT_GRACE_S):
        # 0 = at once: due now (1 = any past time, kept through a reboot: due at once after it),
        # after wait_s on the meter's own clock (the ACK goes out before the reset)
        t = self.transfer
        t.act_time = when or 1
        if not when:
            self._grace_until = self.meter.clock.now_ms() + wait_s * 1000
        t._save()
        if self.wake is not None:
            self.wake.set()

    def cmd_abort(self, a):
        if self.transfer.state == transfer.ACTIVATED:
            return transfer.E_STATE
        self.transfer.abort()
        return 0

    def set_key(self, k):
        import storekeys
        from smitp.crypto import Cmac

        self.meter.store.put(storekeys.DL_KEY, bytes(k))
        self._cmac = Cmac(bytes(k))
        self.transfer._cmac = self._cmac.cmac
        return 0

    # --- the task --------------------------------------------------------------------------------

    def activate(self):
        """Switch the selector to the verified download and reset into it (on trial)."""
        t = self.transfer
        self.slots.activate(t.slot)
        t.set_state(transfer.ACTIVATED)
        self.meter.supervisor.request_reset("software download activated")

    def step(self, now):
        """What is due now -> seconds until the next thing (None: wait for a wake-up)."""
        t = self.transfer
        if t.complete():
            t.check(self.version)
        if t.state == transfer.READY and t.act_time and t.act_time <= now:
            wait_ms = self._grace_until - self.meter.clock.now_ms()
            if wait_ms > 0:
                return (wait_ms + 999) // 1000
            self.activate()
            return None
        if t.state == transfer.READY and t.act_time:
            return t.act_time - now
        return None

    def erase_step(self):
        """One erase unit of the download slot -> ms to leave the loop before the next: the
        device's `erase_ms` (a flash whose erase runs on after ioctl returns, drivers/
        stm32_flash.py), else 0 (a plain yield). A flash error ends the session (IDLE)."""
        t = self.transfer
        try:
            t.erase_step()
        except OSError as e:
            self.meter.faults.record(e, "dl.erase")
            t.abort()
            return 0
        return getattr(t._dev(), "erase_ms", 0)

    def heard(self):
        s = self.meter.al.stats
        return s["read"] + s["write"] + s["command"] + s["auth"] + s["nack"]

    def trial_check(self):
        """Selftest of the image on trial -> True if it passes (faults recorded)."""
        try:
            import selftest

            ok = True
            for _name, fn in selftest.CHECKS:
                ok = ok and fn()
            return ok
        except Exception as e:  # a broken image may fail in any way: recorded, then failed
            self.meter.faults.record(e, "dl.selftest")
            return False

    def fail_trial(self, why):
        self.trial_failed = True
        self._log(events.DL_TRIAL_FAILED, why)
        a, p, st, _tries, note = self.slots.selector()
        self.slots._put(a, p, st, bootsel.MAX_TRIAL_BOOTS, note)  # the next boot rolls back
        self.meter.supervisor.request_reset("software download trial failed")

    async def run(self):
        import asyncio

        m = self.meter
        self.wake = asyncio.Event()
        if self.on_trial():
            if not self.trial_check():
                self.fail_trial(1)
                return
            base = self.heard()
            waited = 0
            while self.heard() == base:
                if waited >= TRIAL_LISTEN_S:
                    self.fail_trial(2)
                    return
                await m.clock.sleep_ms(1000)
                waited += 1
            self.slots.confirm()
            self._log(events.DL_CONFIRMED, self.version)
        while True:
            if self.transfer.state == transfer.ERASING:
                await m.clock.sleep_ms(self.erase_step())
                continue
            due = self.step(m.wallclock.now())
            self.wake.clear()
            if due is None:
                await self.wake.wait()
            else:
                await wait_or_timeout(self.wake, m.clock, max(1, due) * 1000)


def factory_version():
    """Release number of the factory tree (registers 0x0002 MMPYnnnn)."""
    from datamodel.live import FIRMWARE

    return int(FIRMWARE[4:])


def attach(meter):
    meter.dl = Download(meter, getattr(meter.hw, "slots", None))
    if not meter.dl.enabled:
        return []
    return [("download", meter.dl.run)]
