"""Original-SMITP application layer, slave side: ATTR dispatch for DSAP 0.

This build answers plain (ECC 0) READ.REQ from the data-model table and refuses everything
else with a clear NACK. PAR1 codes other than 10 are not public: ours are below and in
docs/datamodel.md. Authenticated ATTRs (102..246 except 112) are refused with NACK_NOT_SUPPORTED
until the security layer (TMAC, encryption, LMON) is wired in here.
"""

from datamodel import registers
from micropython import const

READ_REQ = const(2)
READ_RESP = const(3)
NACK_A = const(255)

# NACK PAR1 codes (ours, except AUTH = 10 from facts §3)
NACK_UNKNOWN_OBJECT = const(1)
NACK_ACCESS = const(2)
NACK_MALFORMED = const(3)
NACK_NOT_SUPPORTED = const(4)
NACK_TOO_LONG = const(5)
NACK_AUTH = const(10)


class Application:
    def __init__(self, meter, table=registers):
        self.meter = meter
        self.table = table
        self.stats = {"read": 0, "nack": 0}

    def nack(self, code):
        self.stats["nack"] += 1
        return bytes((NACK_A, code))

    def handle(self, lsdu, ctx):
        """lsdu = ATTR + APDU (plaintext); returns the answer LSDU, or None for no answer."""
        if len(lsdu) < 1:
            return None
        attr = lsdu[0]
        if getattr(ctx, "ecc", 0):
            return self.nack(NACK_NOT_SUPPORTED)
        if attr == READ_REQ:
            return self._read(lsdu)
        return self.nack(NACK_NOT_SUPPORTED)

    def _read(self, lsdu):
        if len(lsdu) != 3:
            return self.nack(NACK_MALFORMED)
        row = self.table.find((lsdu[1] << 8) | lsdu[2])
        if row is None:
            return self.nack(NACK_UNKNOWN_OBJECT)
        if not row[3] & registers.READ:
            return self.nack(NACK_ACCESS)
        data = row[4](self.meter)
        self.stats["read"] += 1
        return bytes((READ_RESP,)) + data
