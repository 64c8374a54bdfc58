"""The live data model: parameter blocks, tables, metering state and the pending activation.

Every value a register row points at lives here (or in the live objects `F` rows read). Writes
validate first, then persist, then change RAM: a refused or failed write changes nothing.
Persistence: one store value per group of `P` rows (storekeys.PARAMS + group), one per
parameter table and a few chunks per log table (storekeys.TABLES + 8 x table number + chunk),
the pending activation under storekeys.PENDING.
"""

import struct

import storekeys
from micropython import const

from datamodel import events, registers
from datamodel.logtable import Empty, LogTable, ParamTable
from datamodel.metering import MeteringState
from datamodel.registers import KEY_W, F, L, M, P, T
from datamodel.values import KEY, OBJLIST, check, decode, decode_at, encode_into

OK = const(0)
E_UNKNOWN = const(1)
E_ACCESS = const(2)
E_LENGTH = const(3)
E_NOT_SUPPORTED = const(4)
E_TOO_LONG = const(5)
E_VALUE = const(6)
E_BUSY = const(7)
E_SEQUENCE = const(8)
E_BNODE = const(9)
E_STORE = const(11)


def _length_ok(row, v):
    n = len(v)
    if row[2] == OBJLIST:
        return n <= row[3] and not n & 1
    return n == row[3]


class Model:
    def __init__(self, meter, store, legal_crc=0):
        self.meter = meter
        self.store = store
        self.legal_crc = legal_crc
        self.metering = MeteringState()
        self.blocks = {}
        for g, size in registers.BLOCKS:
            self.blocks[g] = self._load_block(g, size)
        self.tables = {}
        i = 0
        for row in registers.TABLE:
            if row[5] == L:
                if row[6] is None:  # a feature's flash ring, set by its attach (profiles)
                    self.tables[row[0]] = Empty(row[3])
                else:
                    self.tables[row[0]] = LogTable(store, storekeys.TABLES + 8 * i, row[3], row[6])
                i += 1
            elif row[5] == T:
                self.tables[row[0]] = ParamTable(
                    store, storekeys.TABLES + 8 * i, row[3], row[6], row[7], row[8]
                )
                i += 1
        self.pending = None  # (oid, time, value bytes)
        v = store.get(storekeys.PENDING)
        if v is not None and len(v) >= 6:
            t, oid = struct.unpack_from(">IH", v, 0)
            if registers.find(oid) is not None:
                self.pending = (oid, t, v[6:])
        self.staged_oid = None  # WRITETAB staging (RAM only)
        self.staged = b""

    # --- parameter blocks ------------------------------------------------------------------------

    def _load_block(self, g, size):
        b = bytearray(size)
        v = self.store.get(storekeys.PARAMS + g)
        for row in registers.group_rows(g):
            if row[5] != P:
                continue
            off = row[6]
            ok = False
            if v is not None and len(v) == size:
                cur = self._slot_value(v, row)
                ok = cur is not None and check(row[2], row[3], row[8], cur)
            if ok:
                n = row[3] + (1 if row[2] == OBJLIST else 0)
                b[off : off + n] = v[off : off + n]
            else:
                self._put_slot(b, row, registers.default_bytes(row))
        return b

    @staticmethod
    def _slot_value(blk, row):
        off = row[6]
        if row[2] == OBJLIST:
            n = blk[off]
            if n > row[3]:
                return None
            return bytes(blk[off + 1 : off + 1 + n])
        return bytes(blk[off : off + row[3]])

    @staticmethod
    def _put_slot(blk, row, v):
        off = row[6]
        if row[2] == OBJLIST:
            blk[off] = len(v)
            off += 1
        blk[off : off + len(v)] = v

    def _commit_block(self, g, blk):
        self.store.put(storekeys.PARAMS + g, blk)
        self.blocks[g] = blk

    # --- reading ---------------------------------------------------------------------------------

    def read(self, row):
        """The row's value as bytes (tables: their 9-byte header)."""
        k = row[5]
        if k == P:
            return self._slot_value(self.blocks[row[0] >> 8], row)
        if k == M:
            return bytes(self.metering.buf[row[6] : row[6] + row[3]])
        if k == F:
            get = row[6][0] if isinstance(row[6], tuple) else row[6]
            return get(self.meter)
        t = self.tables[row[0]]
        return struct.pack(">HHBI", t.count(), t.capacity, t.recsize, t.end)

    def get_int(self, oid):
        # P and M rows are read in place: the metering second's listeners call this, and it
        # allocates nothing for a small-int value (docs/metering.md §9)
        row = registers.find(oid)
        k = row[5]
        if k == P and row[2] != OBJLIST:
            return decode_at(row[2], self.blocks[row[0] >> 8], row[6], row[3])
        if k == M:
            return decode_at(row[2], self.metering.buf, row[6], row[3])
        return decode(row[2], self.read(row))

    def read_protected(self):
        return bool(self.get_int(registers.READING_MODE) & 1)

    # --- writing ---------------------------------------------------------------------------------

    def validate(self, row, v):
        """0 if v may be written to row (a writable P or F row), else a NACK code."""
        if not _length_ok(row, v):
            return E_LENGTH
        if not check(row[2], row[3], row[8], v):
            return E_VALUE
        return OK

    def write(self, row, v, log=True):
        """Validate and write a P or F row (access already checked); durable on return."""
        k = row[5]
        if k not in (P, F) or (k == F and not isinstance(row[6], tuple)):
            return E_NOT_SUPPORTED
        e = self.validate(row, v)
        if e:
            return e
        if k == F:
            e = row[6][1](self.meter, v)
            if e == OK and row[2] == KEY:
                # DATA 1 write key, 2 read key, 3 download key (0x1004)
                kind = {registers.KEY_WRITE: 1, registers.KEY_READ: 2}.get(row[0], 3)
                self.log(events.KEY_CHANGED, kind)
            return e
        g = row[0] >> 8
        blk = bytearray(self.blocks[g])
        self._put_slot(blk, row, v)
        self._commit_block(g, blk)
        if log:
            self.log(events.PARAM_WRITTEN, row[0])
        return OK

    def set_ints(self, pairs):
        """Firmware-maintained P registers (no access check): ((oid, int), ...), one group."""
        g = pairs[0][0] >> 8
        blk = bytearray(self.blocks[g])
        for oid, v in pairs:
            row = registers.find(oid)
            encode_into(blk, row[6], row[3], v)
        self._commit_block(g, blk)

    def set_table(self, oid, data):
        t = self.tables[oid]
        if not t.valid(data):
            return E_VALUE
        t.set(data)
        return OK

    def log(self, code, data=0):
        t = self.meter.wallclock.now()
        self.tables[registers.EVENT_LOG].append(events.record(t, code, data))

    # --- defaults --------------------------------------------------------------------------------

    @staticmethod
    def resettable(row):
        return row[4] & KEY_W and row[5] in (P, T) and row[2] != KEY

    def reset(self, rows):
        """Put every given (resettable) row back to its default: one put per group/table."""
        groups = {}
        for row in rows:
            if row[5] == T:
                self.tables[row[0]].set(row[7])
            else:
                g = row[0] >> 8
                if g not in groups:
                    groups[g] = bytearray(self.blocks[g])
                self._put_slot(groups[g], row, registers.default_bytes(row))
        for g in groups:
            self._commit_block(g, groups[g])

    # --- deferred activation (SETIC / WRITETABIC) ---------------------------------------------

    def busy_for(self, oid):
        return self.pending is not None and self.pending[0] != oid

    def set_pending(self, oid, t, v):
        self.store.put(storekeys.PENDING, struct.pack(">IH", t, oid) + bytes(v))
        self.pending = (oid, t, bytes(v))

    def cancel_pending(self):
        if self.pending is not None:
            self.store.delete(storekeys.PENDING)
            self.pending = None

    def tick(self, now):
        """Time-driven changes: a due pending activation, the contract switch."""
        p = self.pending
        if p is not None and now >= p[1]:
            row = registers.find(p[0])
            if row[5] == T:
                self.set_table(p[0], p[2])
            else:
                self.write(row, p[2], log=False)
            self.cancel_pending()
            self.log(events.ACTIVATION, p[0])
        start = self.get_int(registers.CONTRACT2_START)
        if start and now >= start:
            plan = self.get_int(0x0811)
            blk = bytearray(self.blocks[0x08])
            for src, dst in ((0x0810, 0x0800), (0x0811, 0x0801)):
                self._put_slot(
                    blk, registers.find(dst), self._slot_value(blk, registers.find(src))
                )
            for oid in (0x0810, 0x0811, 0x0812):
                r = registers.find(oid)
                self._put_slot(blk, r, registers.default_bytes(r))
            self._commit_block(0x08, blk)
            self.log(events.CONTRACT_SWITCH, plan)

    # --- tests -----------------------------------------------------------------------------------

    def snapshot(self):
        tabs = []
        for oid in sorted(self.tables):
            tabs.append(self.tables[oid].snapshot())
        blocks = []
        for g in sorted(self.blocks):
            blocks.append(bytes(self.blocks[g]))
        return (
            tuple(blocks),
            tuple(tabs),
            self.pending,
            self.staged_oid,
            bytes(self.staged),
            bytes(self.metering.buf),
        )
