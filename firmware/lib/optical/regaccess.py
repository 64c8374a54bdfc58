"""R1/W1 and readout access to the data model for the optical port.

The one place that knows the register table's row shape and the model's read/write calls
(datamodel.registers rows (oid, name, type, size, access, kind, src, default, rule, note);
meter.model.read(row) / .write(row, value)). The engine sees `read(obj_id) -> bytes | int
error` and `write(obj_id, data) -> 0 | int error` (error codes: optical.iec21 ERR_*).

Rights (docs/optical.md): the readout and a logged-in R1 read rows readable in clear or with
a key (CLEAR_R, KEY_R); a logged-in W1 writes rows with KEY_W access except the key
registers: SMITP keys never travel over the optical link behind a clear-text password.
Register writes go through the model, so they are validated, persisted and logged exactly as
a SMITP WRITE is.
"""

from datamodel import registers as dm
from datamodel.model import E_LENGTH, E_VALUE
from datamodel.values import KEY

from optical.iec21 import ERR_ACCESS, ERR_ADDRESS, ERR_FAILED, ERR_VALUE


class TableAccess:
    def __init__(self, meter, table=dm):
        self.meter = meter
        self.table = table

    def read(self, obj):
        row = self.table.find(obj)
        if row is None:
            return ERR_ADDRESS
        if not row[4] & (dm.CLEAR_R | dm.KEY_R) or row[2] == KEY:
            return ERR_ACCESS
        return self.meter.model.read(row)

    def write(self, obj, data):
        row = self.table.find(obj)
        if row is None:
            return ERR_ADDRESS
        if not row[4] & dm.KEY_W or row[2] == KEY:
            return ERR_ACCESS
        e = self.meter.model.write(row, bytes(data))
        if e == 0:
            return 0
        return ERR_VALUE if e in (E_LENGTH, E_VALUE) else ERR_FAILED
