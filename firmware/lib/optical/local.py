"""Original-SMITP local profile ("mode F") over the optical port: the frame layer.

After the IEC 62056-21 sign-on and the option select `ACK 0 Z F CR LF` the link runs 8N1 at
the agreed rate and carries whole SMITP LSDUs, each in one frame (docs/optical.md "Mode F"):

    68 | L | ECC | LSDU (L bytes, 1..128) | CRC-16 (2, big-endian)

CRC-16/CCITT-FALSE (crc.crc16_ccitt) over L, ECC and the LSDU. The request's LSDU goes to the
same application handler as the powerline's (meter.al through meter.sec, so keys, LMON and
access rights are the ones the concentrator meets); the answer goes back in the same frame form
with the answer's ECC. `SOH B 0 ETX q` between frames ends the session. A frame with a bad CRC,
a bad length or an ECC other than 0, 1, 2, 5, 6 is dropped without an answer (the hand-held
unit repeats it after its timeout). Every buffer is preallocated.
"""

from crc import crc16_ccitt
from micropython import const

START = const(0x68)
LSDU_MAX = const(128)
_SOH = const(0x01)
_BREAK = b"\x01B0\x03q"  # SOH B 0 ETX BCC: the IEC 62056-21 break
_HDR = const(3)  # START L ECC
FRAME_MAX = const(_HDR + LSDU_MAX + 2)
_ECCS = (0, 1, 2, 5, 6)

# byte() results
MORE = const(0)  # nothing complete yet (or a byte ignored between frames)
FRAME = const(1)  # a checked request frame is ready: answer() it
BREAK = const(2)  # the break: end the session
BAD = const(3)  # a frame failed its check and was dropped


class LocalCtx:
    """What the application handler learns about a local request (the powerline's Ctx fields
    the AL reads): point to point, always polled, the longest answer allowed."""

    def __init__(self):
        self.ecc = 0
        self.ecc_out = 0
        self.poll = 1
        self.broadcast = False
        self.slots = 0
        self.disc = 8  # RA7: the A-subnet class with the largest answer
        self.max_resp = LSDU_MAX


class LocalLink:
    """Collects request frames byte by byte; `answer(out)` runs the handler on the last one and
    frames its answer into `out`. handler(lsdu, ctx) -> answer LSDU or None (meter.al.handle)."""

    def __init__(self, handler):
        self._handler = handler
        self._rx = bytearray(FRAME_MAX)
        self._mv = memoryview(self._rx)
        self._checked = self._mv[1:]  # L ECC LSDU CRC: what the frame check covers
        self._ctx = LocalCtx()
        self._n = 0
        self._brk = 0  # break characters matched so far (between frames)
        self.stats = {"frames": 0, "answers": 0, "bad": 0, "breaks": 0}

    def reset(self):
        self._n = 0
        self._brk = 0

    def partial(self):
        """True while a frame or a break is half received."""
        return self._n > 0 or self._brk > 0

    def byte(self, b):
        n = self._n
        if n == 0:
            if self._brk or b == _SOH:
                return self._break_byte(b)
            if b == START:
                self._rx[0] = b
                self._n = 1
            return MORE  # anything else between frames is noise
        self._rx[n] = b
        n += 1
        self._n = n
        if n == 2 and not 1 <= b <= LSDU_MAX:
            return self._bad()
        if n < 2 or n < _HDR + self._rx[1] + 2:
            return MORE
        self._n = 0
        ln = self._rx[1]
        crc = crc16_ccitt(self._checked, 2 + ln)
        if self._rx[2] not in _ECCS or crc != (self._rx[n - 2] << 8 | self._rx[n - 1]):
            self.stats["bad"] += 1
            return BAD
        self.stats["frames"] += 1
        return FRAME

    def _break_byte(self, b):
        if b != _BREAK[self._brk]:
            self._brk = 0
            return MORE
        self._brk += 1
        if self._brk < len(_BREAK):
            return MORE
        self._brk = 0
        self.stats["breaks"] += 1
        return BREAK

    def _bad(self):
        self._n = 0
        self.stats["bad"] += 1
        return BAD

    def answer(self, out):
        """Hand the collected frame's LSDU to the handler; frame its answer into out. Returns
        the frame's length, 0 when there is no answer."""
        ctx = self._ctx
        ln = self._rx[1]
        ctx.ecc = self._rx[2]
        ctx.ecc_out = 0
        ans = self._handler(self._mv[_HDR : _HDR + ln], ctx)
        if ans is None or not 1 <= len(ans) <= LSDU_MAX:
            return 0
        n = len(ans)
        out[0] = START
        out[1] = n
        out[2] = ctx.ecc_out
        out[_HDR : _HDR + n] = ans
        crc = crc16_ccitt(memoryview(out)[1:], 2 + n)
        out[_HDR + n] = crc >> 8
        out[_HDR + n + 1] = crc & 0xFF
        self.stats["answers"] += 1
        return _HDR + n + 2
