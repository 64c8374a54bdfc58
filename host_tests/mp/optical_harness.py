"""Test harness for the optical engine: simulated time, a writable in-memory register set."""

from optical import iec21
from optical.readout import Readout

PASSWORD = b"S3cret01"
READOUT = b"C.1.0(METER-01)\r\n1.8.0(000123.456*kWh)\r\nF.F(00)\r\n!\r\n"
SEED = 0x1234ABCD


class MemRegisters:
    """0x0001 read-only (8 bytes), 0x0010 read/write (4 bytes), 0x0011 write-only (2 bytes)."""

    def __init__(self):
        self.values = {0x0001: bytearray(b"METER-01"), 0x0010: bytearray(4), 0x0011: bytearray(2)}
        self.writes = 0

    def read(self, obj):
        if obj not in self.values:
            return iec21.ERR_ADDRESS
        if obj == 0x0011:
            return iec21.ERR_ACCESS
        return bytes(self.values[obj])

    def write(self, obj, data):
        if obj not in self.values:
            return iec21.ERR_ADDRESS
        if obj == 0x0001:
            return iec21.ERR_ACCESS
        if len(data) != len(self.values[obj]):
            return iec21.ERR_VALUE
        self.values[obj][:] = data
        self.writes += 1
        return 0

    def snapshot(self):
        return dict((k, bytes(v)) for k, v in self.values.items())


def readout():
    return Readout(
        [
            (b"C.1.0", lambda: b"METER-01"),
            (b"1.8.0", lambda: b"000123.456*kWh"),
            (b"F.F", lambda: b"00"),
        ]
    )


class Harness:
    def __init__(self, **kw):
        self.regs = MemRegisters()
        args = dict(registers=self.regs, password=PASSWORD, rng=lambda bits: SEED)
        args.update(kw)
        self.eng = iec21.Iec21(b"OMM", b"MMPY0001", readout(), **args)
        self.t = 0
        self.out = bytearray()
        self.bauds = []  # (t, baud) whenever the engine asks for a new rate

    def feed(self, data, gap_ms=0):
        self.t += gap_ms
        self.eng.on_rx(data, self.t)
        self._poll()

    def _poll(self):
        o = self.eng.poll(self.t)
        if o is not None:
            self.out.extend(o)
            self.eng.tx_done(self.t)
        if not self.bauds or self.bauds[-1][1] != self.eng.baud:
            self.bauds.append((self.t, self.eng.baud))
        return o

    def run(self, ms):
        """Let ms of simulated time pass, polling at every deadline the engine names."""
        end = self.t + ms
        while True:
            d = self.eng.next_deadline_ms()
            if d is None or d > end:
                break
            self.t = max(self.t, d)
            self._poll()
        self.t = end
        self._poll()

    def take(self):
        b = bytes(self.out)
        self.out = bytearray()
        return b


def frame(cmd, body=None):
    """SOH cmd [STX body] ETX BCC, BCC computed here by plain XOR (checked against the
    published vectors in test_optical_engine)."""
    f = b"\x01" + cmd + ((b"\x02" + body) if body is not None else b"") + b"\x03"
    x = 0
    for c in f[1:]:
        x ^= c
    return f + bytes((x & 0x7F,))


def answer(body):
    f = b"\x02" + body + b"\x03"
    x = 0
    for c in f[1:]:
        x ^= c
    return f + bytes((x & 0x7F,))
