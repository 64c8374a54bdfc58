"""Original-SMITP application layer, slave side: ATTR dispatch for DSAP 0.

This build answers READ.REQ, plain (2) and authenticated (102), from the data-model table and
refuses everything else with a clear NACK. PAR1 codes other than 10 are not public: ours are
below and in docs/datamodel.md. Every LSDU first goes through the security layer
(`meter.sec`, smitp.security, docs/smitp_security.md): see handle().
"""

from datamodel import registers
from micropython import const

from smitp import security

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
        """lsdu = ATTR + APDU as received; returns the answer LSDU, or None for no answer."""
        # --- security prologue (smitp.security): verify + decrypt, or answer/drop by itself --
        if ctx.ecc and ctx.broadcast:
            return None  # an authenticated broadcast would make every meter send NACK-auth
        sec = self.meter.sec
        r = sec.open(lsdu, ctx.ecc)
        if r.kind == security.DROP:
            return None
        if r.kind == security.ANSWER:
            ctx.ecc_out = r.ecc_out
            return r.answer
        ctx.ecc_out = 0
        auth = r.kind == security.AUTH
        out = self._dispatch(r.attr - 100 if auth else r.attr, r.apdu)
        # --- security epilogue: seal under the request's key and LMON --------------------------
        if auth:
            out = sec.seal(r, _auth_attr(out[0]), memoryview(out)[1:])
            ctx.ecc_out = r.ecc_out
        return out

    def _dispatch(self, attr, apdu):
        if attr == READ_REQ:
            return self._read(apdu)
        return self.nack(NACK_NOT_SUPPORTED)

    def _read(self, apdu):
        if len(apdu) != 2:
            return self.nack(NACK_MALFORMED)
        row = self.table.find((apdu[0] << 8) | apdu[1])
        if row is None:
            return self.nack(NACK_UNKNOWN_OBJECT)
        if not row[3] & registers.READ:
            return self.nack(NACK_ACCESS)
        data = row[4](self.meter)
        self.stats["read"] += 1
        return bytes((READ_RESP,)) + data


def _auth_attr(attr):
    """The authenticated ATTR of a plain answer ATTR: ACK/NACK 249..255 -> 239..245, else +100."""
    return attr - 10 if attr >= 249 else attr + 100
