"""IEC 62056-21 meter side: the protocol engine (mode C data readout and programming mode, and
the sign-on of the Original-SMITP local profile, "mode F", whose frames optical.local carries).

Pure and poll-driven like the MAC core: bytes go in with `on_rx(data, now_ms)`, bytes to send
come out of `poll(now_ms)`, `next_deadline_ms()` says when to poll again, and `baud` is the
rate the port must run at once the bytes returned so far are on the wire. It never reads time
or touches hardware; `optical.port` is the asyncio glue. docs/optical.md is the specification
(byte flow, error answers, timings); the numbers below are named there.

Every buffer is preallocated. Input bytes with bit 7 set are line errors (a 7E1 parity error
reported by the driver, or 8-bit noise): they abort the message being collected.
"""

from micropython import const

SOH = const(0x01)
STX = const(0x02)
ETX = const(0x03)
EOT = const(0x04)
ACK = const(0x06)
NAK = const(0x15)
_CR = const(0x0D)
_LF = const(0x0A)
_SLASH = const(0x2F)
_QUEST = const(0x3F)
_BANG = const(0x21)
_LPAR = const(0x28)
_RPAR = const(0x29)

# states
IDLE = const(0)  # 300 Bd, waiting for '/'
SIGN_ON = const(1)  # collecting '/?addr!CRLF'
OPTION = const(2)  # identification sent, collecting 'ACK V Z Y CRLF'
PROG = const(3)  # programming mode, collecting 'SOH C D [STX dataset] ETX BCC'
BLOCK = const(4)  # a partial readout block sent, waiting for the HHU's ACK or NAK
SENDING = const(5)  # a reply is due at _tx_at (identification, readout, P0)
LOCAL = const(6)  # mode F: 8N1 SMITP frames (optical.local) until the break or inactivity
_MODE_F = const(0x46)  # option select Y = 'F' (ours; docs/optical.md "Mode F")

BAUDS = (300, 600, 1200, 2400, 4800, 9600, 19200)  # mode C baud characters '0'..'6'

# timings (ms), docs/optical.md "Timing"
TA_MS = const(1500)  # longest gap between two characters of one message
OPTION_WAIT_MS = const(2200)  # identification end -> option select must have begun (tt max)
BLOCK_WAIT_MS = const(2200)  # partial block end -> the HHU's ACK/NAK
_BLOCK_RETRIES = const(3)  # NAKs of one block before the meter gives up

# bounds
_SIGN_ON_MAX = const(37)  # '/' '?' 32-character address '!' CR LF
_ADDR_MAX = const(32)
PROG_RX_MAX = const(160)  # SOH C D STX address(16) '(' value(128) ')' ETX BCC = 153
_ADDR_FIELD_MAX = const(16)
_VALUE_MAX = const(128)
READOUT_MAX = const(1024)  # data block of the readout, '!' CR LF included
_OUT_MAX = const(1028)

# error answers STX (ERRnn) ETX BCC; docs/optical.md "Error answers"
ERR_COMMAND = const(1)  # unknown or unsupported command
ERR_PASSWORD = const(2)  # password required first
ERR_ADDRESS = const(3)  # no such register
ERR_ACCESS = const(4)  # register not readable / not writable
ERR_VALUE = const(5)  # value malformed or of the wrong length
ERR_LOCKED = const(6)  # programming locked after wrong passwords
ERR_FAILED = const(7)  # the register refused the value


def bcc(buf, start, end):
    """Block check character: XOR of the 7-bit characters buf[start:end]."""
    x = 0
    for i in range(start, end):
        x ^= buf[i]
    return x & 0x7F


def _eq_const_time(a, b):
    """Equal, in time that depends on the lengths only (no early exit on the first mismatch)."""
    d = len(a) ^ len(b)
    for i in range(min(len(a), len(b))):
        d |= a[i] ^ b[i]
    return d == 0


class Iec21:
    """One optical port. `readout.build(buf) -> n` writes the readout lines into buf;
    `registers.read(obj_id) -> bytes | int error` and `registers.write(obj_id, data) -> 0 | int
    error` serve R1/W1; `rng(bits)` draws the P0 seed; `password` (bytes) opens programming
    mode, None disables it; `tries`/`on_tries` carry the wrong-password count across
    restarts (see __init__)."""

    def __init__(
        self,
        manufacturer,
        ident,
        readout,
        registers=None,
        password=None,
        rng=None,
        address=b"",
        max_baud=9600,
        reaction_ms=1000,
        prog_timeout_ms=60000,
        max_tries=3,
        lockout_ms=600000,
        block=0,
        tries=0,
        now=0,
        on_tries=None,
        local=None,
    ):
        if len(manufacturer) != 3 or max_baud not in BAUDS:
            raise ValueError("manufacturer must be 3 letters, max_baud one of %r" % (BAUDS,))
        if block < 0 or block > READOUT_MAX:
            raise ValueError("block size")
        for c in bytes(manufacturer) + bytes(ident):
            if c < 0x21 or c > 0x7E or c == _SLASH or c == _BANG:
                raise ValueError("manufacturer/ident: printable, no '/' or '!'")
        self._z = 0x30 + BAUDS.index(max_baud)
        ident = ident[:16]
        self._ident = b"/" + manufacturer + bytes((self._z,)) + ident + b"\r\n"
        # a lowercase third letter declares the 20 ms minimum reaction time (notes §protocol)
        self.tr_min_ms = 20 if 0x61 <= manufacturer[2] <= 0x7A else 200
        self.reaction_ms = reaction_ms
        self._readout = readout
        self._regs = registers
        self._password = password
        self._rng = rng
        self._address = _strip_zeros(address)
        self.prog_timeout_ms = prog_timeout_ms
        self.max_tries = max_tries
        self.lockout_ms = lockout_ms
        self._block = block
        self._local = local  # optical.local.LocalLink, or None: mode F refused
        self._rx = bytearray(PROG_RX_MAX)
        self._pl = bytearray(READOUT_MAX)
        self._out = bytearray(_OUT_MAX)
        self._outv = memoryview(self._out)
        self.stats = {
            "sign_on": 0,
            "readout": 0,
            "prog": 0,
            "bad_bcc": 0,
            "line_err": 0,
            "dropped": 0,
            "bad_password": 0,
            "lockouts": 0,
            "writes": 0,
            "logins": 0,
            "timeouts": 0,
            "local": 0,
        }
        # wrong passwords in a row; the owner keeps them across restarts through on_tries(n)
        # and hands them back as `tries`: a meter that restarts locked is locked anew from
        # `now` for the whole lockout, so a power cycle does not reopen guessing
        self._on_tries = on_tries
        self._bad_tries = tries
        self._locked_until = now + lockout_ms if tries >= max_tries else None
        self._reset(0)

    # --- state ------------------------------------------------------------------------------

    def _reset(self, now):
        """Back to idle: 300 Bd, nothing pending, no authorisation, nothing collected."""
        self.state = IDLE
        self.baud = 300
        self.binary = False  # True: 8N1 (mode F), else 7E1
        if self._local is not None:
            self._local.reset()
        self._n = 0
        self._on = 0
        self._tx_at = None  # when the pending output is due; None: nothing pending
        self._after = IDLE
        self._auth = False
        self._frame_bad = False
        self._bcc_next = False
        self._t_rx = now
        self._t_ref = now
        self._pn = 0
        self._off = 0
        self._retries = 0

    def abort(self, now):
        """End any session at once (the port task calls this after recording a fault)."""
        self.stats["dropped"] += 1
        self._reset(now)

    @property
    def idle(self):
        return self.state == IDLE and self._tx_at is None

    def locked(self, now):
        if self._locked_until is not None and now >= self._locked_until:
            self._locked_until = None
            self._set_tries(0)
        return self._locked_until is not None

    # --- input ------------------------------------------------------------------------------

    def on_rx(self, data, now):
        for b in data:
            self._byte(b, now)

    def _byte(self, b, now):
        st = self.state
        if st == PROG:
            self._prog_byte(b, now)
            return
        if st == BLOCK:
            self._block_byte(b, now)
            return
        if st == LOCAL:
            self._local_byte(b, now)
            return
        if self._tx_at is not None:
            return  # a reply is due: the optical link is half duplex, input is noise
        if b & 0x80:
            self.stats["line_err"] += 1
            if st != IDLE:
                self._reset(now)
            return
        if b == _SLASH:  # a '/' always (re)starts a sign-on at 300 Bd
            if st == OPTION or st == IDLE:
                self._rx[0] = b
                self._n = 1
                self.state = SIGN_ON
                self._t_rx = now
                return
        if st == IDLE:
            return  # noise and wake-up NULs before '/'
        if st == SIGN_ON:
            self._sign_on_byte(b, now)
        elif st == OPTION:
            self._option_byte(b, now)

    def _sign_on_byte(self, b, now):
        rx = self._rx
        n = self._n
        if b == _SLASH:
            self._n = 1
            self._t_rx = now
            return
        if n >= _SIGN_ON_MAX or (n == 1 and b != _QUEST):
            self._drop(now)
            return
        n = self._store(b, now)
        if b != _LF:
            return
        if n < 5 or rx[n - 2] != _CR or rx[n - 3] != _BANG:
            self._drop(now)
            return
        for i in range(2, n - 3):
            c = rx[i]
            if c < 0x20 or c > 0x7E or c == _BANG or c == _SLASH:
                self._drop(now)
                return
        if not self._addressed(rx, 2, n - 3):
            self._reset(now)  # a sign-on for another meter: stay silent
            return
        self.stats["sign_on"] += 1
        self._n = 0
        self._put(self._ident)
        self._send_at(now + self.tr_min_ms, OPTION)

    def _store(self, b, now):
        """Append a character of the message being collected; returns the new length."""
        n = self._n
        self._rx[n] = b
        self._n = n + 1
        self._t_rx = now
        return n + 1

    def _addressed(self, rx, a, b):
        while a < b and rx[a] == 0x30:  # leading zeros are not significant
            a += 1
        if a == b:
            return True  # empty address: every meter on the head answers
        mine = self._address
        if b - a != len(mine):
            return False
        for i in range(b - a):
            if rx[a + i] != mine[i]:
                return False
        return True

    def _option_byte(self, b, now):
        rx = self._rx
        n = self._n
        if n == 0 and b != ACK:
            self._drop(now)
            return
        n = self._store(b, now)
        if n < 6:
            return
        v, z, y = rx[1], rx[2], rx[3]
        if rx[4] != _CR or rx[5] != _LF or v != 0x30 or z < 0x30 or z > self._z:
            self._drop(now)
            return
        self._n = 0
        self.baud = BAUDS[z - 0x30]
        if y == 0x30:
            self._start_readout(now)
        elif y == 0x31 and self._password is not None:
            self._start_prog(now)
        elif y == _MODE_F and self._local is not None:
            self._start_local(now)
        else:  # binary (HDLC) and manufacturer modes are not offered; programming may be off
            self._drop(now)

    def _drop(self, now):
        self.stats["dropped"] += 1
        self._reset(now)

    # --- data readout -----------------------------------------------------------------------

    def _start_readout(self, now):
        pl = self._pl
        n = self._readout.build(memoryview(pl)[: READOUT_MAX - 3])
        pl[n] = _BANG
        pl[n + 1] = _CR
        pl[n + 2] = _LF
        self._pn = n + 3
        self._off = 0
        self._retries = 0
        self.stats["readout"] += 1
        self._next_block(now + self.reaction_ms)

    def _next_block(self, at):
        """Frame _pl[_off:] (or its next `block` bytes) as STX data ETX|EOT BCC."""
        size = self._pn - self._off
        last = self._block == 0 or size <= self._block
        if not last:
            size = self._block
        out = self._out
        out[0] = STX
        out[1 : 1 + size] = memoryview(self._pl)[self._off : self._off + size]
        out[1 + size] = ETX if last else EOT
        out[2 + size] = bcc(out, 1, 2 + size)
        self._on = 3 + size
        self._blk_size = size
        if last:
            self._send_at(at, IDLE)  # after the readout: back to 300 Bd and idle
        else:
            self._send_at(at, BLOCK)

    def _block_byte(self, b, now):
        if self._tx_at is not None:
            return
        if b == ACK:
            self._off += self._blk_size
            self._retries = 0
            self._next_block(now + self.tr_min_ms)
        elif b == NAK:
            self._retries += 1
            if self._retries > _BLOCK_RETRIES:
                self._drop(now)
            else:
                self._next_block(now + self.tr_min_ms)
        # any other byte is noise; the block timeout ends a session that never answers

    # --- mode F: the Original-SMITP local profile ------------------------------------------

    def _start_local(self, now):
        """8N1 at the agreed rate from now on; no answer: the hand-held unit speaks first."""
        self.stats["local"] += 1
        self.binary = True
        self.state = LOCAL
        self._t_ref = now
        self._t_rx = now

    def _local_byte(self, b, now):
        if self._tx_at is not None:
            return  # half duplex: nothing is heard while an answer waits
        self._t_rx = now
        r = self._local.byte(b)
        if r == 1:  # local.FRAME
            self._t_ref = now  # a well-formed frame restarts the inactivity timer
            self._on = self._local.answer(self._out)
            if self._on:
                self._send_at(now + self.tr_min_ms, LOCAL)
        elif r == 2:  # local.BREAK
            self._reset(now)

    # --- programming mode -------------------------------------------------------------------

    def _start_prog(self, now):
        self.stats["prog"] += 1
        seed = self._rng(32) if self._rng else 0
        self._put_frame(b"P0", b"(%08X)" % seed)
        self._send_at(now + self.reaction_ms, PROG)

    def _prog_byte(self, b, now):
        rx = self._rx
        n = self._n
        if n == 0:
            if b == SOH:
                rx[0] = b
                self._n = 1
                self._frame_bad = False
                self._bcc_next = False
                self._t_rx = now
            return  # bytes between commands are noise
        self._t_rx = now
        if b & 0x80:
            self.stats["line_err"] += 1
            self._frame_bad = True
            b &= 0x7F
        elif b == SOH and not self._bcc_next:  # a new command: the previous lost its end
            self._n = 1
            self._frame_bad = False
            return
        if n >= PROG_RX_MAX:  # overlong: drop it silently, the HHU times out and repeats
            self.stats["dropped"] += 1
            self._n = 0
            return
        rx[n] = b
        n += 1
        self._n = n
        if self._bcc_next:
            self._n = 0
            self._command(n, now)
        elif b == ETX or b == EOT:
            self._bcc_next = True

    def _command(self, n, now):
        rx = self._rx
        if self._frame_bad or bcc(rx, 1, n - 1) != rx[n - 1]:
            self.stats["bad_bcc"] += 1
            self._reply_byte(NAK, now)
            return
        self._t_ref = now  # a well-formed command restarts the inactivity timer
        c, d = rx[1], rx[2]
        if n == 5 and c == 0x42 and d == 0x30 and rx[3] == ETX:  # SOH B0 ETX BCC: break
            self._reset(now)
            return
        if n < 8 or rx[3] != STX or rx[n - 2] != ETX:
            self._error(ERR_COMMAND, now)
            return
        # dataset rx[4:n-2] = address '(' value ')'
        end = n - 2
        lp = 4
        while lp < end and rx[lp] != _LPAR:
            lp += 1
        if lp == end or rx[end - 1] != _RPAR or lp - 4 > _ADDR_FIELD_MAX:
            self._error(ERR_VALUE, now)
            return
        addr = memoryview(rx)[4:lp]
        value = memoryview(rx)[lp + 1 : end - 1]
        if c == 0x50 and d == 0x31:
            self._password_cmd(value, now)
        elif c == 0x52 and d == 0x31:
            self._read_cmd(addr, now)
        elif c == 0x57 and d == 0x31:
            self._write_cmd(addr, value, now)
        else:
            self._error(ERR_COMMAND, now)

    def _password_cmd(self, value, now):
        if self.locked(now):
            self._error(ERR_LOCKED, now)
            return
        if _eq_const_time(value, self._password):
            self.stats["logins"] += 1
            self._auth = True
            self._set_tries(0)
            self._reply_byte(ACK, now)
            return
        self._auth = False
        self._set_tries(self._bad_tries + 1)
        self.stats["bad_password"] += 1
        if self._bad_tries < self.max_tries:
            self._reply_byte(NAK, now)
            return
        self.stats["lockouts"] += 1
        self._locked_until = now + self.lockout_ms
        self._on = 0
        self._put_frame(b"B0", None)  # the meter breaks the session off
        self._send_at(now + self.tr_min_ms, IDLE)

    def _set_tries(self, n):
        if n != self._bad_tries:
            self._bad_tries = n
            if self._on_tries is not None:
                self._on_tries(n)

    def _read_cmd(self, addr, now):
        """R1 of a register (hex object id) or of a readout-list entry (its OBIS code)."""
        if not self._auth:
            self._error(ERR_PASSWORD, now)
            return
        obj = _hex_id(addr)
        if obj < 0:
            n = self._readout.line(bytes(addr), self._pl)
            if not n:
                self._error(ERR_ADDRESS, now)
                return
            body = memoryview(self._pl)[:n]
        else:
            data = self._regs.read(obj)
            if isinstance(data, int):
                self._error(data, now)
                return
            body = bytes(addr) + b"(" + hexlify(data) + b")"
        if not self._put_frame(None, body):
            self._error(ERR_VALUE, now)
            return
        self._send_at(now + self.tr_min_ms, PROG)

    def _write_cmd(self, addr, value, now):
        if not self._auth:
            self._error(ERR_PASSWORD, now)
            return
        obj = _hex_id(addr)
        if obj < 0:
            self._error(ERR_ADDRESS, now)
            return
        data = _unhexlify(value)
        if data is None:
            self._error(ERR_VALUE, now)
            return
        err = self._regs.write(obj, data)
        if err:
            self._error(err, now)
            return
        self.stats["writes"] += 1
        self._reply_byte(ACK, now)

    def _error(self, code, now):
        self._put_frame(None, b"(ERR%02d)" % code)
        self._send_at(now + self.tr_min_ms, PROG)

    def _reply_byte(self, b, now):
        if self._on < _OUT_MAX:
            self._out[self._on] = b
            self._on += 1
        self._send_at(now + self.tr_min_ms, PROG)

    # --- output -----------------------------------------------------------------------------

    def _put(self, data):
        """Append raw bytes to the pending output; False (nothing appended) if full."""
        n = len(data)
        if self._on + n > _OUT_MAX:
            return False
        self._out[self._on : self._on + n] = data
        self._on += n
        return True

    def _put_frame(self, cmd, body):
        """Append [SOH cmd] [STX body] ETX BCC (SOH form when cmd is given)."""
        start = self._on
        need = 2 + (3 if cmd else 0) + (len(body) + 1 if body is not None else 0)
        if start + need > _OUT_MAX:
            return False
        out = self._out
        i = start
        if cmd:
            out[i] = SOH
            out[i + 1 : i + 3] = cmd
            i += 3
        if body is not None:
            out[i] = STX
            out[i + 1 : i + 1 + len(body)] = body
            i += 1 + len(body)
        out[i] = ETX
        out[i + 1] = bcc(out, start + 1, i + 1)
        self._on = i + 2
        return True

    def _send_at(self, at, after):
        """Send the pending output at `at` (the earlier time if a reply is already due)."""
        if self._tx_at is None or at < self._tx_at:
            self._tx_at = at
        self._after = after
        # in programming mode the collector keeps listening while an answer waits, so a
        # command sent without waiting for the previous answer is not lost; anything that
        # ends the session stops the input
        if self.state != PROG or after != PROG:
            self.state = SENDING

    def poll(self, now):
        """Bytes to send now (a memoryview valid until the next call), or None; runs timeouts."""
        st = self.state
        if self._tx_at is not None:
            if now < self._tx_at:
                return None
            n = self._on
            self._on = 0
            self._tx_at = None
            after = self._after
            if after == IDLE:
                self._reset(now)
            else:
                self.state = after
                self._t_ref = now
                self._t_rx = now
            return self._outv[:n]
        if st == SIGN_ON or st == OPTION:
            if self._n and now - self._t_rx > TA_MS:
                self._timeout(now)
            elif st == OPTION and not self._n and now - self._t_ref > OPTION_WAIT_MS:
                self._timeout(now)
        elif st == PROG:
            if now - self._t_ref > self.prog_timeout_ms:
                self._timeout(now)
            elif self._n and now - self._t_rx > TA_MS:
                self._n = 0  # a command that stalled mid-way is forgotten
        elif st == LOCAL:
            if now - self._t_ref > self.prog_timeout_ms:
                self._timeout(now)
            elif self._local.partial() and now - self._t_rx > TA_MS:
                self._local.reset()  # a frame that stalled mid-way is forgotten
        elif st == BLOCK:
            if now - self._t_ref > BLOCK_WAIT_MS:
                self._timeout(now)
        return None

    def _timeout(self, now):
        self.stats["timeouts"] += 1
        self._reset(now)

    def tx_done(self, now):
        """The bytes from the last poll() are on the wire: timers run from here."""
        self._t_ref = now
        self._t_rx = now

    def next_deadline_ms(self):
        """When poll() next has something to do, or None while idle."""
        if self._tx_at is not None:
            return self._tx_at
        st = self.state
        if st == IDLE:
            return None
        if st == PROG or st == LOCAL:
            t = self._t_ref + self.prog_timeout_ms + 1
        elif st == BLOCK:
            t = self._t_ref + BLOCK_WAIT_MS + 1
        elif st == OPTION and not self._n:
            t = self._t_ref + OPTION_WAIT_MS + 1
        else:
            t = self._t_rx + TA_MS + 1
        if (self._n and st != BLOCK) or (st == LOCAL and self._local.partial()):
            t = min(t, self._t_rx + TA_MS + 1)
        return t


def _strip_zeros(a):
    i = 0
    while i < len(a) and a[i] == 0x30:
        i += 1
    return bytes(a[i:])


def _hex_id(addr):
    """A register address: 1..4 hex digits -> object id, else -1."""
    if not 1 <= len(addr) <= 4:
        return -1
    v = 0
    for c in addr:
        d = _nibble(c)
        if d < 0:
            return -1
        v = (v << 4) | d
    return v


def _nibble(c):
    if 0x30 <= c <= 0x39:
        return c - 0x30
    c |= 0x20
    if 0x61 <= c <= 0x66:
        return c - 0x57
    return -1


def _unhexlify(value):
    if len(value) & 1:
        return None
    out = bytearray(len(value) // 2)
    for i in range(len(out)):
        hi = _nibble(value[2 * i])
        lo = _nibble(value[2 * i + 1])
        if hi < 0 or lo < 0:
            return None
        out[i] = (hi << 4) | lo
    return out


def hexlify(data):
    out = bytearray(2 * len(data))
    for i in range(len(data)):
        out[2 * i] = _HEX[data[i] >> 4]
        out[2 * i + 1] = _HEX[data[i] & 15]
    return out


_HEX = b"0123456789ABCDEF"
