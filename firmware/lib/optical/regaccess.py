"""R1/W1 and readout access to the data-model register table for the optical port.

The one place that knows the table's row shape, so a new table only changes this adapter.
The engine sees `read(obj_id) -> bytes | int error` and `write(obj_id, data) -> 0 | int error`
(error codes: optical.iec21 ERR_*). Rows today: (id, name, size, access, getter[, setter]);
a row is writable when its access has WRITE and it carries a setter(meter, data).
"""

from datamodel import registers as dm

from optical.iec21 import ERR_ACCESS, ERR_ADDRESS, ERR_FAILED, ERR_VALUE


class TableAccess:
    def __init__(self, meter, table=dm):
        self.meter = meter
        self.table = table

    def read(self, obj):
        row = self.table.find(obj)
        if row is None:
            return ERR_ADDRESS
        if not row[3] & dm.READ:
            return ERR_ACCESS
        return row[4](self.meter)

    def write(self, obj, data):
        row = self.table.find(obj)
        if row is None:
            return ERR_ADDRESS
        setter = row[5] if len(row) > 5 else None
        if not row[3] & dm.WRITE or setter is None:
            return ERR_ACCESS
        if len(data) != row[2]:
            return ERR_VALUE
        try:
            setter(self.meter, bytes(data))
        except ValueError:  # the register's own validation refused the value
            return ERR_FAILED
        return 0
