"""Original-SMITP application layer, slave side: dispatch of every DSAP-0 message of clause 9.1
(docs/smitp.md). The security layer (meter.sec, smitp.security.Security) opens authenticated
requests and seals their answers; access rights are decided in datamodel.access only; values
live in datamodel.model.

    app = Application(meter)
    lsdu_out = app.handle(lsdu, ctx)     # ctx: the MAC's Ctx (docs/datalink.md §7), or None
"""

from datamodel import registers
from datamodel.access import readable_by, writable_by
from datamodel.model import (
    E_ACCESS,
    E_BNODE,
    E_BUSY,
    E_LENGTH,
    E_NOT_SUPPORTED,
    E_SEQUENCE,
    E_STORE,
    E_TOO_LONG,
    E_UNKNOWN,
    E_VALUE,
    OK,
)
from datamodel.registers import L, P, T
from datamodel.values import KEY, is_table
from micropython import const

from smitp import commands, msgs, security
from smitp.msgs import (
    ACK_A,
    ACK_B,
    BLOCK_HDR,
    CHALLENGE_REQ,
    NACK_A,
    NACK_B,
    READ_TYPES,
    REPROG_BROADCAST,
    REPROG_LOCAL,
    SEL_TIME,
    auth_attr,
)

# kept for callers of the first release
READ_REQ = const(2)
NACK_UNKNOWN_OBJECT = const(1)
NACK_ACCESS = const(2)
NACK_MALFORMED = const(3)
NACK_NOT_SUPPORTED = const(4)
NACK_TOO_LONG = const(5)
NACK_AUTH = const(10)

_AUTH_OVERHEAD = const(16)  # DT(8) + TMAC(8) after DATA
_MAX_LSDU = const(128)
_RB_FIRST = const(9)  # discipline nibbles 9..11: RB1..RB3, via this meter to its B-Node
_RB_LAST = const(11)


def _is_auth(attr):
    return 102 <= attr < 247 and attr != CHALLENGE_REQ


class Application:
    def __init__(self, meter):
        self.meter = meter
        self.stats = {
            "read": 0,
            "write": 0,
            "command": 0,
            "nack": 0,
            "auth": 0,
            "auth_refused": 0,
            "bcast_ignored": 0,
            "no_poll": 0,
            "store_err": 0,
            "reprog": 0,
        }
        self.on_change = None  # called after every executed state-changing message
        self._out = bytearray(_MAX_LSDU)
        self._mv = memoryview(self._out)
        self._handlers = {
            msgs.READ: self._read,
            msgs.READTAB: self._readtab,
            msgs.READTAB_SEL: self._readsel,
            msgs.BUFF_SELECT: self._buffsel,
            msgs.GETTAB: self._gettab,
            msgs.WRITE: self._write,
            msgs.WRITETAB: self._writetab,
            msgs.SETTAB: self._settab,
            msgs.RESETTAB: self._resettab,
            msgs.SETIC: self._setic,
            msgs.WRITETABIC: self._writetabic,
            msgs.COMMAND: self._command,
        }

    # --- entry ----------------------------------------------------------------------------------

    def handle(self, lsdu, ctx):
        """lsdu = ATTR + rest as received; returns the answer LSDU, or None for no answer."""
        attr = lsdu[0] if len(lsdu) else -1  # empty: the security layer counts and drops it
        poll = 1 if ctx is None else ctx.poll
        base = attr - 100 if _is_auth(attr) else attr
        if attr == REPROG_LOCAL or attr == REPROG_BROADCAST:
            return self._reprog(lsdu, ctx, poll)
        if ctx is not None:
            ctx.ecc_out = 0
            if ctx.broadcast and (ctx.slots == 0 or attr != base or base not in READ_TYPES):
                self.stats["bcast_ignored"] += 1  # before the security layer: LMON untouched
                return None
        if not poll and base in READ_TYPES:
            self.stats["no_poll"] += 1
            return None
        ecc = 0 if ctx is None else ctx.ecc
        sec = self.meter.sec
        r = sec.open(lsdu, ecc)
        if r.kind == security.DROP:
            return None
        if r.kind == security.ANSWER:
            ans = r.answer
            if len(ans) and ans[0] == security.ATTR_NACK_AUTH:
                self.stats["auth_refused"] += 1
            if ctx is not None:
                ctx.ecc_out = r.ecc_out
            return ans if poll else None
        apdu = r.apdu
        key = None
        if r.kind == security.AUTH:
            key = r.key
            base = r.attr - 100
            self.stats["auth"] += 1
        else:
            base = r.attr
            r = None
        lim = _MAX_LSDU - 1 if ctx is None else ctx.max_resp - 1
        if r is not None:
            lim -= _AUTH_OVERHEAD
        rb = ctx is not None and _RB_FIRST <= ctx.disc <= _RB_LAST
        out_attr, n = self._dispatch(base, apdu, key, lim, rb)
        if r is not None:
            if ctx is not None:
                ctx.ecc_out = r.ecc_out
            ans = sec.seal(r, auth_attr(out_attr), self._mv[1 : 1 + n])
            return ans if poll else None
        self._out[0] = out_attr
        return bytes(self._mv[: 1 + n]) if poll else None

    def _reprog(self, lsdu, ctx, poll):
        # Software download blocks (docs/download.md §5), plain: each block carries its own
        # AES-CMAC under the download key. REPROG_BROADCAST is never answered; REPROG_LOCAL is
        # answered (ACK, NACK, or a status LSDU) unless sent to broadcast, where it is ignored.
        attr = lsdu[0]
        bcast = ctx is not None and ctx.broadcast
        if ctx is not None:
            ctx.ecc_out = 0
        if attr == REPROG_LOCAL and bcast:
            self.stats["bcast_ignored"] += 1
            return None
        dl = getattr(self.meter, "dl", None)
        lim = _MAX_LSDU - 1 if ctx is None else ctx.max_resp - 1
        if dl is None:
            code, n = E_NOT_SUPPORTED, 0
        else:
            code, n = dl.reprog(memoryview(lsdu)[1:], attr == REPROG_LOCAL, self._mv[1:], lim, ctx)
        self.stats["reprog"] += 1
        if attr == REPROG_BROADCAST or not poll:
            return None
        if n:
            self._out[0] = REPROG_LOCAL
            return bytes(self._mv[: 1 + n])
        if code:
            self._out[0] = NACK_A
            n = self._nack(code)
            return bytes(self._mv[: 1 + n])
        return bytes((ACK_A,))

    def _nack(self, code):
        self.stats["nack"] += 1
        self._out[1] = code
        return 1

    def _dispatch(self, base, apdu, key, lim, rb):
        h = self._handlers.get(base)
        if h is None:
            return NACK_A, self._nack(E_NOT_SUPPORTED)
        try:
            res = h(apdu, key, lim)
        except OSError as e:  # the store refused a write (flash fault, full): say so, record it
            faults = getattr(self.meter, "faults", None)
            if faults is not None:
                faults.record(e, "al.store")
            self.stats["store_err"] += 1
            res = E_STORE if base not in READ_TYPES else -E_STORE
        if base in READ_TYPES:
            if res < 0:
                return NACK_A, self._nack(-res)
            self.stats["read"] += 1
            return base + 1, res
        # state-changing message: res is 0 or a NACK code; ACK/NACK A-node, or B-node under RB
        if res == OK and rb:
            bn = self.meter.bnode
            if bn is None or not bn.update(self.meter):
                res = E_BNODE
        if res != OK:
            return (NACK_B if rb else NACK_A), self._nack(res)
        if self.on_change is not None:
            self.on_change()
        return (ACK_B if rb else ACK_A), 0

    # --- read-type handlers: return the answer DATA length, or -code ---------------------------

    def _row_for_read(self, oid, key):
        row = registers.find(oid)
        if row is None:
            return -E_UNKNOWN
        if not readable_by(row, key, self.meter.model.read_protected()):
            return -E_ACCESS
        return row

    def _read(self, a, key, lim):
        oid = msgs.parse_read(a)
        if oid is None:
            return -E_LENGTH
        row = self._row_for_read(oid, key)
        if isinstance(row, int):
            return row
        v = self.meter.model.read(row)
        if len(v) > lim:
            return -E_TOO_LONG
        self._out[1 : 1 + len(v)] = v
        return len(v)

    def _table_for_read(self, oid, key):
        row = registers.find(oid)
        if row is None:
            return -E_UNKNOWN
        if not is_table(row[2]):
            return -E_NOT_SUPPORTED
        if not readable_by(row, key, self.meter.model.read_protected()):
            return -E_ACCESS
        return row

    def _block(self, oid, tbl, first, end, lim):
        rs = tbl.recsize
        k = min(255, (lim - BLOCK_HDR) // rs, end - first) if first < end else 0
        if k <= 0 and first < end:
            return -E_TOO_LONG
        return msgs.put_block(self._out, 1, oid, first, end, tbl, max(k, 0)) - 1

    def _readtab(self, a, key, lim):
        p = msgs.parse_readtab(a)
        if p is None:
            return -E_LENGTH
        oid, rno = p
        row = self._table_for_read(oid, key)
        if isinstance(row, int):
            return row
        tbl = self.meter.model.tables[oid]
        first = max(rno, tbl.first())
        if first > tbl.end:
            first = tbl.end
        return self._block(oid, tbl, first, tbl.end, lim)

    def _select(self, a, key):
        p = msgs.parse_select(a)
        if p is None:
            return -E_LENGTH
        oid, sel, frm, to = p
        row = self._table_for_read(oid, key)
        if isinstance(row, int):
            return row
        if sel > SEL_TIME or frm > to or (sel == SEL_TIME and row[5] != L):
            return -E_VALUE
        tbl = self.meter.model.tables[oid]
        if sel == SEL_TIME:
            first, end = tbl.time_range(frm, to)
        else:
            first = max(frm, tbl.first())
            end = min(to + 1, tbl.end)
            if first >= end:
                first = end = tbl.end
        return (oid, tbl, first, end)

    def _readsel(self, a, key, lim):
        s = self._select(a, key)
        if isinstance(s, int):
            return s
        return self._block(s[0], s[1], s[2], s[3], lim)

    def _buffsel(self, a, key, lim):
        s = self._select(a, key)
        if isinstance(s, int):
            return s
        return msgs.put_located(self._out, 1, s[0], s[2], s[3], s[1].recsize) - 1

    def _custom_row(self, tab):
        if not 1 <= tab <= registers.CUSTOM_TABLES:
            return None
        return registers.find(registers.CUSTOM_TABLE + tab)

    def _gettab(self, a, key, lim):
        tab = msgs.parse_gettab(a)
        if tab is None:
            return -E_LENGTH
        crow = self._custom_row(tab)
        if crow is None:
            return -E_UNKNOWN
        md = self.meter.model
        ids = md.read(crow)
        prot = md.read_protected()
        rows = []
        n = 1
        for i in range(0, len(ids), 2):
            row = registers.find((ids[i] << 8) | ids[i + 1])
            if not readable_by(row, key, prot):
                return -E_ACCESS
            rows.append(row)
            n += row[3]
        if n > lim:
            return -E_TOO_LONG
        self._out[1] = tab
        o = 2
        for row in rows:
            v = md.read(row)
            self._out[o : o + len(v)] = v
            o += len(v)
        return o - 1

    # --- state-changing handlers: return 0 or a NACK code --------------------------------------

    def _row_for_write(self, oid, key):
        row = registers.find(oid)
        if row is None:
            return E_UNKNOWN
        if is_table(row[2]):
            return E_NOT_SUPPORTED
        if not writable_by(row, key):
            return E_ACCESS
        return row

    def _write(self, a, key, lim):
        p = msgs.parse_write(a)
        if p is None:
            return E_LENGTH
        row = self._row_for_write(p[0], key)
        if isinstance(row, int):
            return row
        e = self.meter.model.write(row, p[1])
        if e == OK:
            self.stats["write"] += 1
        return e

    def _settab(self, a, key, lim):
        p = msgs.parse_settab(a)
        if p is None:
            return E_LENGTH
        if key != "write":
            return E_ACCESS
        crow = self._custom_row(p[0])
        if crow is None:
            return E_UNKNOWN
        ids = p[1]
        for i in range(0, len(ids), 2):
            row = registers.find((ids[i] << 8) | ids[i + 1])
            if row is None:
                return E_UNKNOWN
            if is_table(row[2]) or not readable_by(row, "write", False):
                return E_NOT_SUPPORTED
        return self.meter.model.write(crow, bytes(ids))

    def _writetab(self, a, key, lim, when=None):
        p = msgs.parse_writetab(a)
        if p is None:
            return E_LENGTH
        oid, start, flags, recs = p
        md = self.meter.model
        row = registers.find(oid)
        if row is None:
            return E_UNKNOWN
        if row[5] != T:
            return E_NOT_SUPPORTED
        if not writable_by(row, key):
            return E_ACCESS
        rs = row[3]
        if len(recs) % rs:
            return E_LENGTH
        if flags & ~msgs.LAST:
            return E_VALUE
        staged = b"" if start == 0 else md.staged
        if start and (md.staged_oid != oid or start * rs != len(staged)):
            return E_SEQUENCE
        if len(staged) + len(recs) > row[6] * rs:
            return E_VALUE
        for i in range(0, len(recs), rs):
            if not row[8](recs[i : i + rs]):
                return E_VALUE
        if when is not None and md.busy_for(oid):
            return E_BUSY
        staged = staged + bytes(recs)
        if not flags & msgs.LAST:
            md.staged_oid = oid
            md.staged = staged
            return OK
        md.staged_oid = None
        md.staged = b""
        if when is not None and when > self.meter.wallclock.now():
            md.set_pending(oid, when, staged)
            return OK
        e = md.set_table(oid, staged)
        if e == OK:
            from datamodel import events

            md.log(events.TABLE_PROGRAMMED, oid)
        return e

    def _writetabic(self, a, key, lim):
        p = msgs.parse_writetabic(a)
        if p is None or p[1] is None:
            return E_LENGTH
        return self._writetab(a[4:], key, lim, p[0])

    def _resettab(self, a, key, lim):
        oid = msgs.parse_resettab(a)
        if oid is None:
            return E_LENGTH
        if key != "write":
            return E_ACCESS
        md = self.meter.model
        if oid & 0xFF == 0xFF:
            g = oid >> 8
            rows = []
            for row in registers.TABLE:
                if md.resettable(row) and (g == 0xFF or row[0] >> 8 == g):
                    rows.append(row)
            if not rows:
                return E_NOT_SUPPORTED
        else:
            row = registers.find(oid)
            if row is None:
                return E_UNKNOWN
            if not md.resettable(row):
                no_default = writable_by(row, key) and row[2] != KEY  # e.g. the clock
                return E_NOT_SUPPORTED if no_default else E_ACCESS
            rows = (row,)
        md.reset(rows)
        from datamodel import events

        md.log(events.RESET_DEFAULTS, oid)
        return OK

    def _setic(self, a, key, lim):
        p = msgs.parse_setic(a)
        if p is None:
            return E_LENGTH
        when, oid, v = p
        row = self._row_for_write(oid, key)
        if isinstance(row, int):
            return row
        md = self.meter.model
        if row[5] != P:
            return E_NOT_SUPPORTED
        e = md.validate(row, v)
        if e:
            return e
        if md.busy_for(oid):
            return E_BUSY
        if when <= self.meter.wallclock.now():
            return md.write(row, v)
        md.set_pending(oid, when, v)
        return OK

    def _command(self, a, key, lim):
        p = msgs.parse_command(a)
        if p is None:
            return E_LENGTH
        if key != "write":
            return E_ACCESS
        code, args = p
        c = commands.COMMANDS.get(code)
        if c is None:
            return E_UNKNOWN
        if len(args) != c[1]:
            return E_LENGTH
        e = c[2](self.meter, args)
        if e == OK:
            self.stats["command"] += 1
            self.meter.model.set_ints(
                (
                    (registers.LAST_COMMAND, code),
                    (registers.LAST_COMMAND_TIME, self.meter.wallclock.now()),
                )
            )
        return e

    # --- housekeeping ---------------------------------------------------------------------------

    def tick(self):
        """Once a second from the meter's loop: time-driven data-model changes and the periodic
        B-Node update."""
        m = self.meter
        now = m.wallclock.now()
        m.model.tick(now)
        bn = m.bnode
        if bn is not None:
            period = m.model.get_int(registers.BNODE_PERIOD)
            if period and now - bn.last_attempt >= period:
                bn.update(m)

    def next_due(self):
        """Seconds until tick() has something to do (0 = now), or None: nothing scheduled. The
        meter sleeps that long, or until on_change() tells it a request changed the schedule."""
        m = self.meter
        now = m.wallclock.now()
        due = []
        p = m.model.pending
        if p is not None:
            due.append(p[1] - now)
        start = m.model.get_int(registers.CONTRACT2_START)
        if start:
            due.append(start - now)
        bn = m.bnode
        if bn is not None:
            period = m.model.get_int(registers.BNODE_PERIOD)
            if period:
                due.append(bn.last_attempt + period - now)
        return max(0, min(due)) if due else None
