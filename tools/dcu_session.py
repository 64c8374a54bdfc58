"""SMITP application-layer session with one meter, for tools/concentrator.py.

Every LSDU is built and checked by tools/smitp_ref.py; frames go through a Concentrator's
exchange() (tools/concentrator.py), so the same session works on a direct link and through the
simulated medium. LMON rules: docs/concentrator.md.
"""

from __future__ import annotations

from tools import mm_frame as mm
from tools import smitp_ref as ref
from tools.dcu_keys import State
from tools.dcu_registers import RegisterTable


class NoAnswer(ConnectionError):
    """The meter did not answer (after the retries)."""


class Refused(RuntimeError):
    """The meter answered with a NACK."""

    def __init__(self, reply):
        self.reply = reply
        code = reply.nack
        super().__init__(f"NACK {code} ({ref.NACK_NAMES.get(code, '?')})")


class MeterSession:
    """SMITP exchanges with one meter through a Concentrator: tools/smitp_ref.py builds and
    checks every LSDU; LMON lives in `state` (dcu_keys.State) and is saved after every move.
    A NACK-auth (PAR1 10) makes the codec adopt the meter's LMON; the request is then sent once
    more with the next counter. `challenge()` resynchronises explicitly."""

    def __init__(self, conc, aca, route=(), keys=None, state=None, disc=mm.DISC_RA7, regs=None):
        self.conc = conc
        self.aca = bytes(aca)
        self.route = [bytes(r) for r in route]
        self.state = state or State(None)
        self.master = ref.Master(self.aca, keys, self.state.lmon(self.aca))
        self.disc = disc
        self._regs = regs
        self.resyncs = 0

    @property
    def regs(self):
        if self._regs is None:
            self._regs = RegisterTable.load()
        return self._regs

    @property
    def lmon(self):
        return self.master.lmon

    def _send(self, req):
        res = self.conc.exchange(
            self.aca, self.route, self.disc, mm.DSAP_APP, req.lsdu, ecc=req.ecc
        )
        if not res:
            raise NoAnswer(f"meter {self.aca.hex()}: no answer")
        ans = res[0][0]
        try:
            return self.master.reply(req, ans.lsdu, ans.ecc)
        finally:
            self.state.set_lmon(self.aca, self.master.lmon)

    def call(self, attr, apdu=b"", ecc=0, check=True):
        """One request (plain ATTR code; ecc != 0 sends its authenticated variant)."""
        rep = self._send(self.master.request(attr, apdu, ecc))
        if ecc and rep.nack == ref.NACK_AUTH:
            self.resyncs += 1
            rep = self._send(self.master.request(attr, apdu, ecc))
        if check and not rep.ok:
            raise Refused(rep)
        return rep

    def challenge(self):
        """CHALLENGE.REQ -> CHALLENGE.RESP: adopt the meter's LMON; returns it."""
        rep = self._send(self.master.challenge())
        if rep.lmon is None:
            raise Refused(rep)
        return rep.lmon

    # --- registers ---

    def read(self, reg, ecc=0):
        r = self.regs.find(reg)
        return self.call(ref.READ_REQ, ref.read_req(r.id), ecc).fields["value"]

    def write(self, reg, value: bytes, ecc=ref.ECC_CTR_WRITE, at=None):
        """WRITE now, or SETIC: the meter activates the value at TIME `at` (seconds since 2000)."""
        r = self.regs.find(reg)
        if at is None:
            self.call(ref.WRITE_REQ, ref.write_req(r.id, value), ecc)
        else:
            self.call(ref.SETIC_REQ, ref.setic_req(at, r.id, value), ecc)

    def reset(self, reg=None, group=None, ecc=ref.ECC_CTR_WRITE):
        """RESETTAB: one register/table to its default, a whole group (0x00..0xFE), or all."""
        if reg is not None:
            obj = self.regs.find(reg).id
        else:
            obj = 0xFFFF if group is None else (group << 8) | 0xFF
        self.call(ref.RESETTAB_REQ, ref.resettab_req(obj), ecc)

    def buff_select(self, reg, sel, frm, to, ecc=0):
        """BUFF_SELECT: the RNO range and record size of a selection, without the records."""
        r = self.regs.find(reg)
        return self.call(ref.BUFF_SELECT_REQ, ref.buff_select_req(r.id, sel, frm, to), ecc).fields

    def status(self, ecc=0):
        word = self.read("status_word", ecc)
        return {"word": word.hex(), "flags": self.regs.status_flags(word)}

    def readtab(self, reg, rno=0, ecc=0, sel=None, frm=0, to=0xFFFFFFFF):
        """Every record from rno (or of the selection), following the block continuation."""
        r = self.regs.find(reg)
        recs, first_seen = [], None
        while True:
            if sel is None:
                rep = self.call(ref.READTAB_REQ, ref.readtab_req(r.id, rno), ecc)
            else:
                rep = self.call(ref.READTAB_SEL_REQ, ref.readtab_sel_req(r.id, sel, frm, to), ecc)
            f = rep.fields
            first_seen = f["first"] if first_seen is None else first_seen
            recs += f["records"]
            nxt = f["first"] + f["n"]
            if nxt >= f["end"] or f["n"] == 0:
                return {"first": first_seen, "end": f["end"], "records": recs}
            if sel is None:
                rno = nxt
            else:  # continue a selection by record number (docs/smitp.md §4)
                sel, frm, to = ref.SEL_RNO, nxt, f["end"] - 1

    def writetab(self, reg, records, ecc=ref.ECC_CTR_WRITE, at=None):
        """Program a parameter table: blocks of as many records as fit, LAST on the final one
        (WRITETABIC when `at` is given: the table is activated at that TIME)."""
        r = self.regs.find(reg)
        records = [bytes(x) for x in records]
        room = (ref.AUTH_DATA_MAX if ecc else ref.LSDU_MAX - 1) - (4 if at is None else 8)
        size = len(records[0]) if records else 1
        per = max(1, room // size)
        start = 0
        while True:
            block = records[start : start + per]
            last = start + len(block) >= len(records)
            if at is None:
                self.call(ref.WRITETAB_REQ, ref.writetab_req(r.id, start, last, block), ecc)
            else:
                apdu = ref.writetabic_req(at, r.id, start, last, block)
                self.call(ref.WRITETABIC_REQ, apdu, ecc)
            if last:
                return len(records)
            start += len(block)

    def gettab(self, tab, ecc=0):
        return self.call(ref.GETTAB_REQ, ref.gettab_req(tab), ecc).fields["values"]

    def settab(self, tab, regs, ecc=ref.ECC_CTR_WRITE):
        ids = [self.regs.find(x).id for x in regs]
        self.call(ref.SETTAB_REQ, ref.settab_req(tab, ids), ecc)

    def command(self, code, *args, ecc=ref.ECC_CTR_WRITE):
        self.call(ref.COMMAND_REQ, ref.command_req(code, *args), ecc)

    def time_sync(self, now_s, ecc=ref.ECC_CTR_WRITE, adjust=False):
        """Bring the meter's clock to now_s (seconds since 2000 UTC): COMMAND clock_set, or with
        adjust=True clock_adjust by the measured difference (the meter bounds it by its
        clock_sync_window_s, docs/smitp.md §7). Returns that difference (clock read first,
        authenticated with the same key)."""
        before = int.from_bytes(self.read("clock", ecc), "big")
        step = now_s - before
        if adjust:
            self.command("clock_adjust", step, ecc=ecc)
        else:
            self.command("clock_set", now_s, ecc=ecc)
        return step

    def set_keys(self, new_write=None, new_read=None, ecc=ref.ECC_CTR_WRITE):
        """Key change: authenticated WRITE of the key registers under the current write key. The
        read key goes first so that the second write still runs under the old write key."""
        if new_read is not None:
            self.write("key_read", new_read, ecc)
            self.master.keys = ref.Keys(self.master.keys.write, bytes(new_read))
        if new_write is not None:
            self.write("key_write", new_write, ecc)
            self.master.keys = ref.Keys(bytes(new_write), self.master.keys.read)
