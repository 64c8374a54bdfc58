"""Meters and More certification host interface (HI): codec, streaming parser, host machine.

Portable protocol logic for driving an external certified M&M modem over a UART
(docs/modem.md; public facts in smitp-public-facts.md section 6). No hardware, no clock reads:
every time-dependent call takes `now_ms`, and bytes leave through an injected `write(buf)`.

Frame: STX(0x02, or 0x03 when retransmitted) | LEN | CMD | payload | CRC16 (LSB first),
LEN = payload bytes - 1 (so 1..256 payload bytes), CRC over LEN, CMD and payload. Single-byte
ACK (0x06) / NACK (0x15) acknowledge each frame; 0x3F | status | MIB mask (u16) is a status frame.

Usage (host side, e.g. drivers/modem_uart.py):
    hi = HostIf(uart_write)
    hi.request(CMD_PING_REQ, b"\x5a", now_ms)
    hi.feed(rx_bytes, n, now_ms)
    ev = hi.poll(now_ms)  # repeat until EV_NONE; EV_DONE: hi.error, hi.cmd, hi.payload()
"""

from crc import T16_HI, T16_LO, crc16_hi, hi_step
from micropython import const

# --- framing bytes ---------------------------------------------------------------------------
STX = const(0x02)
STX_RETRY = const(0x03)
ACK = const(0x06)
NACK = const(0x15)
STATUS = const(0x3F)

MAX_PAYLOAD = const(256)  # LEN is payload-1 in one byte
MAX_FRAME = const(261)  # STX + LEN + CMD + 256 + CRC16
_LEN_BIAS = const(1)  # LEN byte = payload bytes - _LEN_BIAS (facts section 6)
_RING = const(512)  # >= MAX_FRAME - 1 + largest feed chunk (callers feed <= 251 bytes)
_RING_MASK = const(511)
_ICT_MS = const(10)  # inter-character timeout

# Status frame bits (byte after 0x3F)
STATUS_CONFIGURED = const(0x01)
STATUS_TX = const(0x02)
STATUS_RX = const(0x04)
STATUS_BUSY = const(0x08)

# --- command codes: REQ / CFM / NCFM / IND ---------------------------------------------------
CMD_BIO_RESET_REQ = const(0x3C)
CMD_BIO_RESET_CFM = const(0x3D)
CMD_BIO_RESET_IND = const(0x3E)
CMD_MIB_WRITE_REQ = const(0x08)
CMD_MIB_WRITE_CFM = const(0x09)
CMD_MIB_WRITE_NCFM = const(0x0B)
CMD_MIB_WRITE_IND = const(0x0A)
CMD_MIB_READ_REQ = const(0x0C)
CMD_MIB_READ_CFM = const(0x0D)
CMD_MIB_READ_NCFM = const(0x0F)
CMD_SLAVE_DATA_REQ = const(0x24)
CMD_SLAVE_DATA_CFM = const(0x25)
CMD_SLAVE_DATA_NCFM = const(0x27)
CMD_SLAVE_DATA_IND = const(0x26)
CMD_MASTER_DATA_REQ = const(0x28)
CMD_MASTER_DATA_CFM = const(0x29)
CMD_MASTER_DATA_NCFM = const(0x2B)
CMD_MASTER_DATA_IND = const(0x2A)
CMD_PING_REQ = const(0x2C)
CMD_PING_CFM = const(0x2D)
CMD_HI_ERROR_IND = const(0x36)

# --- error codes (NCFM / HI_Error payload byte 0) --------------------------------------------
ERR_OK = const(0)
ERR_CRC = const(1)
ERR_WPL = const(2)  # wrong parameter length
ERR_WPV = const(3)  # wrong parameter value
ERR_BUSY = const(4)
ERR_COMMAND = const(5)
ERR_NOT_PRESENT = const(6)
ERR_DISABLED = const(7)
ERR_TIMEOUT = const(8)
ERR_ERROR = const(0xFF)

_ERR_NAMES = (
    "OK",
    "CRC",
    "WPL",
    "WPV",
    "BUSY",
    "COMMAND",
    "NOT_PRESENT",
    "DISABLED",
    "TIMEOUT",
)


def error_name(code):
    if 0 <= code < len(_ERR_NAMES):
        return _ERR_NAMES[code]
    return "ERROR" if code == ERR_ERROR else "E%d" % code


class HostIfError(Exception):
    """A request ended in NCFM, HI_Error or exhausted retries; .code is an ERR_* value."""

    def __init__(self, code, cmd=0):
        super().__init__(code, cmd)
        self.code = code
        self.cmd = cmd

    def __str__(self):
        return "HI %s (%d) on cmd 0x%02X" % (error_name(self.code), self.code, self.cmd)


def cfm_of(req):
    """CFM code answering request code `req`."""
    return req + 1


def ncfm_of(req):
    """NCFM code for `req`, or -1 if the command has none (BIO_Reset, Ping)."""
    if req in (CMD_MIB_WRITE_REQ, CMD_MIB_READ_REQ, CMD_SLAVE_DATA_REQ, CMD_MASTER_DATA_REQ):
        return req + 3
    return -1


def is_indication(cmd):
    return cmd in (
        CMD_SLAVE_DATA_IND,
        CMD_MASTER_DATA_IND,
        CMD_MIB_WRITE_IND,
        CMD_BIO_RESET_IND,
        CMD_HI_ERROR_IND,
    )


# --- CRC-16: crc.crc16_hi (poly 0x1021, init 0, "123456789" -> 0xBEEF) --------------------------


def encode_into(out, cmd, payload, n=-1, retry=False):
    """Write one frame into bytearray `out`; return its length. payload: 1..256 bytes."""
    if n < 0:
        n = len(payload)
    if n < 1 or n > MAX_PAYLOAD:
        raise ValueError("HI payload 1..256 bytes")
    out[0] = STX_RETRY if retry else STX
    out[1] = n - _LEN_BIAS
    out[2] = cmd
    crc = hi_step(hi_step(0, n - _LEN_BIAS), cmd)
    for i in range(n):
        b = payload[i]
        out[3 + i] = b
        crc = hi_step(crc, b)
    out[3 + n] = crc & 0xFF
    out[4 + n] = crc >> 8
    return n + 5


def encode(cmd, payload, retry=False):
    """One frame as a new bytes object (allocates; for tests and tools)."""
    out = bytearray(len(payload) + 5)
    encode_into(out, cmd, payload, -1, retry)
    return bytes(out)


def decode(frame):
    """Parse one complete frame: (cmd, payload bytes, retry). Raises ValueError if malformed."""
    if len(frame) < 6 or frame[0] not in (STX, STX_RETRY):
        raise ValueError("not a HI frame")
    n = frame[1] + _LEN_BIAS
    if len(frame) != n + 5:
        raise ValueError("HI length mismatch")
    crc = crc16_hi(frame[1:], n + 2)
    if crc != frame[n + 3] | (frame[n + 4] << 8):
        raise ValueError("HI CRC")
    return frame[2], bytes(frame[3 : 3 + n]), frame[0] == STX_RETRY


def encode_status(status, mib_mask):
    """Status frame 0x3F | status | MIB mask (u16, little-endian by our choice)."""
    return bytes((STATUS, status & 0xFF, mib_mask & 0xFF, (mib_mask >> 8) & 0xFF))


# --- streaming parser ------------------------------------------------------------------------
P_NONE = const(0)
P_FRAME = const(1)  # .cmd, .retry, .crc, .frame[:.length]
P_ACK = const(2)
P_NACK = const(3)
P_STATUS = const(4)  # .status, .mib_mask
P_BAD_CRC = const(5)  # a frame failed its CRC and no valid frame started inside it: NACK it


class Parser:
    """Byte stream -> events. Bounded ring; resynchronises on garbage; never raises on input.

    feed() stores bytes; next(now_ms) returns one event at a time (call until P_NONE after each
    feed, and periodically while pending() so the 10 ms inter-character timeout can fire).
    A frame candidate that fails its CRC is re-scanned from the byte after its STX, so a stray
    0x02/0x03 in line noise cannot swallow the real frame that follows it; P_BAD_CRC is
    reported only if no valid frame starts within the bad span.
    """

    def __init__(self):
        self._ring = bytearray(_RING)
        self._head = 0
        self._n = 0
        self._last_ms = 0
        self._bad_left = 0  # bytes of a failed candidate still to be re-scanned
        self._bad = False
        self.frame = bytearray(MAX_PAYLOAD)
        self.length = 0
        self.cmd = 0
        self.retry = False
        self.crc = 0
        self.status = 0
        self.mib_mask = 0
        # statistics
        self.garbage = 0
        self.crc_errors = 0
        self.timeouts = 0
        self.overflows = 0

    def reset(self):
        self._head = 0
        self._n = 0
        self._bad = False
        self._bad_left = 0

    def pending(self):
        """Bytes waiting (an incomplete frame or status)."""
        return self._n

    def feed(self, data, n=-1, now_ms=0):
        """Append data[:n]; on overflow the oldest bytes are dropped (counted in .overflows)."""
        if n < 0:
            n = len(data)
        ring = self._ring
        for i in range(n):
            if self._n == _RING:
                self._head = (self._head + 1) & _RING_MASK
                self._n -= 1
                self.overflows += 1
            ring[(self._head + self._n) & _RING_MASK] = data[i]
            self._n += 1
        if n:
            self._last_ms = now_ms

    def _drop(self, k):
        self._head = (self._head + k) & _RING_MASK
        self._n -= k
        if self._bad:
            self._bad_left -= k

    def _at(self, i):
        return self._ring[(self._head + i) & _RING_MASK]

    def next(self, now_ms):
        ring = self._ring
        while True:
            if self._bad and self._bad_left <= 0:
                self._bad = False
                return P_BAD_CRC
            if self._n == 0:
                return P_NONE
            b = ring[self._head]
            if b == ACK:
                self._drop(1)
                return P_ACK
            if b == NACK:
                self._drop(1)
                return P_NACK
            need = 0
            if b == STATUS:
                need = 4
            elif b == STX or b == STX_RETRY:
                need = 3
                if self._n >= 3:
                    need = self._at(1) + _LEN_BIAS + 5
            else:
                self.garbage += 1
                self._drop(1)
                continue
            if self._n < need:
                if now_ms - self._last_ms > _ICT_MS:
                    # the rest never came: give up on this start byte and rescan after it
                    self.timeouts += 1
                    self._drop(1)
                    continue
                return P_NONE
            if b == STATUS:
                self.status = self._at(1)
                self.mib_mask = self._at(2) | (self._at(3) << 8)
                self._drop(4)
                return P_STATUS
            n = need - 5
            crc = 0
            for i in range(1, n + 3):
                t = crc >> 8
                crc = (((T16_HI[t] << 8) | T16_LO[t]) ^ ((crc << 8) & 0xFFFF)) ^ self._at(i)
            if crc != self._at(n + 3) | (self._at(n + 4) << 8):
                self.crc_errors += 1
                if not self._bad:
                    self._bad = True
                    self._bad_left = need
                self._drop(1)
                continue
            frame = self.frame
            for i in range(n):
                frame[i] = self._at(3 + i)
            self.length = n
            self.cmd = self._at(2)
            self.retry = b == STX_RETRY
            self.crc = crc
            self._bad = False  # a good frame inside a bad span: the bad span was noise
            self._drop(need)
            return P_FRAME


# --- host state machine ----------------------------------------------------------------------
EV_NONE = const(0)
EV_DONE = const(1)  # request finished: .error (ERR_OK on CFM), .cmd, .payload()
EV_IND = const(2)  # unsolicited frame from the modem: .cmd, .payload()
EV_STATUS = const(3)  # .status, .mib_mask

_IDLE = const(0)
_WAIT_ACK = const(1)
_WAIT_CFM = const(2)

_ACK_B = b"\x06"
_NACK_B = b"\x15"


class HostIf:
    """Host side of the HI: request -> ACK (ack_ms) -> CFM/NCFM (cfm_ms), retries, dedup.

    Poll-driven: feed() received bytes, then poll(now_ms) until EV_NONE; also poll every few
    ms while busy() or parser.pending() so timeouts fire. Outgoing bytes (frames, ACK, NACK)
    go through write(buf) synchronously. A request whose ACK does not arrive in ack_ms, or that
    is NACKed, or whose CFM does not arrive in cfm_ms, is resent with STX 0x03 up to `retries`
    times; then EV_DONE with .error = ERR_TIMEOUT (or ERR_CRC after NACKs). A CFM arriving
    before the ACK counts as the ACK. Incoming frames are ACKed once their CRC checks; a 0x03
    frame equal (cmd + CRC) to the previous one is a retransmission after a lost ACK: ACKed
    again, not delivered twice.
    """

    def __init__(self, write, retries=2, ack_ms=40, cfm_ms=125):
        self._write = write
        self.parser = Parser()
        self.retries = retries
        self.ack_ms = ack_ms
        self.cfm_ms = cfm_ms
        self._tx = bytearray(MAX_FRAME)
        self._txn = 0
        self._state = _IDLE
        self._req = 0
        self._ncfm = -1
        self._tries = 0
        self._deadline = 0
        self._req_cfm_ms = cfm_ms
        self._nacked = False
        self._expect = -1
        self._last_cmd = -1
        self._last_crc = -1
        self.error = ERR_OK
        self.cmd = 0
        self.status = 0
        self.mib_mask = 0
        # statistics
        self.resends = 0
        self.duplicates = 0
        self.stray = 0  # ACK/NACK nobody waited for
        self.stale = 0  # CFMs that did not match the pending request

    def busy(self):
        return self._state != _IDLE

    def payload(self):
        """View of the last EV_DONE/EV_IND payload; valid until the next poll()."""
        return memoryview(self.parser.frame)[: self.parser.length]

    @property
    def length(self):
        return self.parser.length

    def request(self, cmd, payload, now_ms, n=-1, cfm_ms=0, expect=-1):
        """Start a request (one at a time). cfm_ms overrides the CFM timeout (data requests).

        expect >= 0: the CFM payload must start with this byte (ping token, MIB index, ReqID);
        a CFM that does not is a stale answer to an earlier retransmission and is ignored.
        """
        if self._state != _IDLE:
            raise HostIfError(ERR_BUSY, cmd)
        self._expect = expect
        self._txn = encode_into(self._tx, cmd, payload, n)
        self._req = cmd
        self._ncfm = ncfm_of(cmd)
        self._tries = 0
        self._nacked = False
        self._req_cfm_ms = cfm_ms if cfm_ms > 0 else self.cfm_ms
        self._state = _WAIT_ACK
        self._deadline = now_ms + self.ack_ms
        self._send_tx()

    def cancel(self):
        self._state = _IDLE

    def reset(self):
        """Forget link state (after a hardware reset of the modem)."""
        self._state = _IDLE
        self.parser.reset()
        self._last_cmd = -1
        self._last_crc = -1

    def _send_tx(self):
        self._write(memoryview(self._tx)[: self._txn])

    def _retry(self, now_ms, err):
        if self._tries >= self.retries:
            self._state = _IDLE
            self.error = err
            self.cmd = self._req
            self.parser.length = 0
            return EV_DONE
        self._tries += 1
        self.resends += 1
        self._tx[0] = STX_RETRY
        self._state = _WAIT_ACK
        self._deadline = now_ms + self.ack_ms
        self._send_tx()
        return EV_NONE

    def feed(self, data, n=-1, now_ms=0):
        self.parser.feed(data, n, now_ms)

    def poll(self, now_ms):
        p = self.parser
        while True:
            ev = p.next(now_ms)
            if ev == P_NONE:
                break
            if ev == P_ACK:
                if self._state == _WAIT_ACK:
                    self._state = _WAIT_CFM
                    self._deadline = now_ms + self._req_cfm_ms
                else:
                    self.stray += 1
            elif ev == P_NACK:
                if self._state == _WAIT_ACK:
                    self._nacked = True
                    if self._retry(now_ms, ERR_CRC) == EV_DONE:
                        return EV_DONE
                else:
                    self.stray += 1
            elif ev == P_BAD_CRC:
                self._write(_NACK_B)
            elif ev == P_STATUS:
                self.status = p.status
                self.mib_mask = p.mib_mask
                return EV_STATUS
            else:  # P_FRAME
                self._write(_ACK_B)
                if p.retry and p.cmd == self._last_cmd and p.crc == self._last_crc:
                    self.duplicates += 1
                    continue
                self._last_cmd = p.cmd
                self._last_crc = p.crc
                cmd = p.cmd
                self.cmd = cmd
                if self._state != _IDLE:
                    if cmd == self._req + 1:
                        if self._expect >= 0 and (p.length == 0 or p.frame[0] != self._expect):
                            self.stale += 1
                            continue
                        self._state = _IDLE
                        self.error = ERR_OK
                        return EV_DONE
                    if cmd == self._ncfm or cmd == CMD_HI_ERROR_IND:
                        self._state = _IDLE
                        self.error = p.frame[0] if p.length else ERR_ERROR
                        if self.error == ERR_OK:
                            self.error = ERR_ERROR
                        return EV_DONE
                return EV_IND
        if self._state != _IDLE and now_ms - self._deadline >= 0:
            return self._retry(now_ms, ERR_TIMEOUT)
        return EV_NONE


# --- data service payloads (layouts marked [I] are our documented choices, docs/modem.md) -----
DATA_REQ_HDR = const(2)  # Protocol | ReqID | LLC data (facts section 6)
DATA_IND_HDR = const(4)  # [I] Protocol | RSSI (u8 dBuV) | SNR (s8, 1/4 dB) | FLAGS | LLC data
IND_FLAG_IN_PHASE = const(0x01)  # [I] FLAGS bit 0: received in phase with this node


def data_req_into(out, protocol, req_id, data, n=-1):
    """Slave/Master_Data.REQ payload into out; returns its length."""
    if n < 0:
        n = len(data)
    out[0] = protocol
    out[1] = req_id & 0xFF
    for i in range(n):
        out[2 + i] = data[i]
    return n + 2


def decode_data_ind(p):
    """(protocol, rssi, snr_q2, in_phase) of a Data.IND payload; LLC data is p[DATA_IND_HDR:]."""
    if len(p) < DATA_IND_HDR:
        raise ValueError("short Data.IND")
    snr = p[2] - 256 if p[2] & 0x80 else p[2]
    return p[0], p[1], snr, bool(p[3] & IND_FLAG_IN_PHASE)


def encode_data_ind(protocol, rssi, snr_q2, in_phase, data):
    """Data.IND payload (the modem's side; for simulators and tests)."""
    return bytes((protocol, rssi & 0xFF, snr_q2 & 0xFF, IND_FLAG_IN_PHASE if in_phase else 0)) + (
        bytes(data)
    )


# --- MIB objects -----------------------------------------------------------------------------
MIB_MAC_CONFIG = const(3)
MIB_FW_RELEASE = const(4)
MIB_MANUFACTURER = const(6)
MIB_SCA = const(7)
MIB_KEYS = const(8)
MIB_SECURITY_FLAGS = const(9)
MIB_LMON = const(10)
MIB_TIMING = const(12)

# object sizes by index (0 = unknown); MAC config as 2 x u8 is [I]
_MIB_SIZES = b"\x00\x00\x00\x02\x08\x00\x16\x06\x20\x01\x08\x00\x09"


def mib_size(index):
    """Size of MIB object `index` in bytes, 0 if we do not know it."""
    if 0 <= index < len(_MIB_SIZES):
        return _MIB_SIZES[index]
    return 0


def mib_read_req(index):
    """MIB_Read.REQ payload: index (1 byte). CFM payload: index | data [I]."""
    return bytes((index,))


def mib_write_req(index, data):
    """MIB_Write.REQ payload: index | data. CFM payload: index [I]."""
    return bytes((index,)) + bytes(data)


def _u16(v):
    if not 0 <= v <= 0xFFFF:
        raise ValueError("u16")
    return v


def encode_timing(tel_ms, delay_ms, icdelay_ms, tc_ms, tct):
    """MIB 12: TEL, Delay, ICDelay, TC (u16 LE, ms) + TCT (u8)."""
    if not 0 <= tct <= 255:
        raise ValueError("TCT")
    b = bytearray(9)
    for i, v in enumerate((tel_ms, delay_ms, icdelay_ms, tc_ms)):
        v = _u16(v)
        b[2 * i] = v & 0xFF
        b[2 * i + 1] = v >> 8
    b[8] = tct
    return bytes(b)


def decode_timing(b):
    """MIB 12 -> (tel_ms, delay_ms, icdelay_ms, tc_ms, tct)."""
    if len(b) != 9:
        raise ValueError("MIB 12 is 9 bytes")
    return (
        b[0] | b[1] << 8,
        b[2] | b[3] << 8,
        b[4] | b[5] << 8,
        b[6] | b[7] << 8,
        b[8],
    )


def encode_lmon(lmon):
    """MIB 10: 64-bit LMON, little-endian like the other HI integers [I] (docs/modem.md)."""
    if lmon < 0 or lmon >> 64:
        raise ValueError("LMON is 64-bit")
    return bytes((lmon >> (8 * i)) & 0xFF for i in range(8))


def decode_lmon(b):
    if len(b) != 8:
        raise ValueError("MIB 10 is 8 bytes")
    v = 0
    for i in range(7, -1, -1):
        v = (v << 8) | b[i]
    return v


def encode_mac_config(rx_mode, tx_mode):
    """MIB 3: Rx mode, Tx mode (one byte each [I])."""
    return bytes((rx_mode & 0xFF, tx_mode & 0xFF))


def decode_mac_config(b):
    if len(b) != 2:
        raise ValueError("MIB 3 is 2 bytes")
    return b[0], b[1]


def encode_manufacturer(serial, aca):
    """MIB 6: 16-byte serial + 6-byte ACA (as given to the HI: little-endian)."""
    if len(serial) != 16 or len(aca) != 6:
        raise ValueError("MIB 6 is serial(16) + ACA(6)")
    return bytes(serial) + bytes(aca)


def decode_manufacturer(b):
    if len(b) != 22:
        raise ValueError("MIB 6 is 22 bytes")
    return bytes(b[:16]), bytes(b[16:])


def encode_keys(kw, kr):
    """MIB 8 (write-only): KW (16) + KR (16)."""
    if len(kw) != 16 or len(kr) != 16:
        raise ValueError("keys are 16 bytes")
    return bytes(kw) + bytes(kr)
