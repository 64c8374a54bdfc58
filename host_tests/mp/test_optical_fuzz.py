"""10,000 seeded garbage optical sessions against the engine on simulated time.

Each session mixes random bytes, wrong parity, overlong lines, bad BCC, stalls mid-message and
wrong passwords (also the right password with a corrupted BCC or parity). After each one the
engine must be back at idle at 300 Bd once its timeouts have run, and no register may have
changed unless the session logged in: one session in eight of those reaching programming
mode carries a correct password frame, and only a session the meter answered that password
with ACK may have written (and never the read-only register).
"""

import random
import time
import unittest

from optical import iec21
from optical_harness import PASSWORD, Harness, frame

SESSIONS = 10000
SEED = 6205621
GOOD_PASSWORD = frame(b"P1", b"(" + PASSWORD + b")")


def _rand_bytes(n, top=256):
    return bytes(random.getrandbits(8) % top for _ in range(n))


def _parity_hit(b):
    """Flip one character's bit 7: how the driver marks a 7E1 parity error."""
    b = bytearray(b)
    if b:
        b[random.getrandbits(16) % len(b)] ^= 0x80
    return bytes(b)


def _bad_bcc(b):
    b = bytearray(b)
    b[-1] ^= 1 + random.getrandbits(6)
    return bytes(b)


def _command():
    k = random.getrandbits(4)
    if k == 0:
        return frame(b"P1", b"(" + _rand_bytes(random.getrandbits(4), 128) + b")")
    if k == 1:
        return _bad_bcc(frame(b"P1", b"(" + PASSWORD + b")"))
    if k == 2:
        return _parity_hit(frame(b"P1", b"(" + PASSWORD + b")"))
    if k == 3:
        return frame(b"W1", b"0010(%08X)" % random.getrandbits(32))
    if k == 4:
        return _bad_bcc(frame(b"W1", b"0010(%08X)" % random.getrandbits(32)))
    if k == 5:
        return frame(b"R1", b"%04X()" % random.getrandbits(5))
    if k == 6:
        return b"\x01W1\x02" + _rand_bytes(200 + random.getrandbits(8), 128)  # overlong
    if k == 7:
        return frame(b"B0")
    if k == 8:
        return frame(_rand_bytes(2, 128), _rand_bytes(random.getrandbits(5), 128))
    if k == 9:
        f = frame(b"W1", b"0011(%04X)" % random.getrandbits(16))
        return f[: random.getrandbits(8) % len(f)]  # cut short: a stall mid-message
    return _rand_bytes(random.getrandbits(6))


def _sign_on():
    k = random.getrandbits(3)
    if k == 0:
        return b"/?" + _rand_bytes(30 + random.getrandbits(5), 128) + b"!\r\n"  # overlong
    if k == 1:
        return _parity_hit(b"/?!\r\n")
    if k == 2:
        return b"/?" + _rand_bytes(random.getrandbits(3), 128) + b"!\r\n"
    return _rand_bytes(random.getrandbits(3)) + b"/?!\r\n"


def _option():
    k = random.getrandbits(3)
    if k < 3:
        return b"\x06051\r\n"
    if k == 3:
        return b"\x06050\r\n"
    if k == 4:
        return _parity_hit(b"\x06051\r\n")
    return b"\x06" + _rand_bytes(random.getrandbits(3), 128) + b"\r\n"


def _pieces():
    """[(ms of silence before it, bytes)] of one session."""
    k = random.getrandbits(2)
    if k == 0:
        return [(0, _rand_bytes(random.getrandbits(9)))]
    # the HHU answers the identification after >= 200 ms and waits out the reaction time
    out = [(0, _sign_on()), (200 + random.getrandbits(8), _option())]
    wait = 1000 + random.getrandbits(8)
    if not random.getrandbits(3):  # now and then a session that does log in
        out.append((wait, GOOD_PASSWORD))
        wait = 200 + random.getrandbits(8)
    for _ in range(random.getrandbits(3)):
        c = _command() if random.getrandbits(2) else _rand_bytes(random.getrandbits(4))
        out.append((wait, c))
        wait = 200 + random.getrandbits(8)
    return out


def _gap():
    k = random.getrandbits(3)
    if k == 0:
        return 0
    if k == 1:
        return iec21.TA_MS + random.getrandbits(10)  # a stall
    return random.getrandbits(9)


class TestGarbageSessions(unittest.TestCase):
    def test_10000_sessions_end_idle_and_change_nothing_without_login(self):
        random.seed(SEED)
        h = Harness(block=40, lockout_ms=30000)
        before = h.regs.snapshot()
        logins = 0
        nbytes = 0
        t0 = time.ticks_ms()
        for s in range(SESSIONS):
            for silence, piece in _pieces():
                h.run(silence)
                # a piece may arrive in several reads, with gaps between them
                i = 0
                while i < len(piece):
                    k = 1 + random.getrandbits(6)
                    h.feed(piece[i : i + k], gap_ms=_gap() if i else 0)
                    i += k
                nbytes += len(piece)
                if random.getrandbits(1):
                    h.feed(b"\x06" if random.getrandbits(1) else b"\x15", gap_ms=_gap())
            h.run(h.eng.prog_timeout_ms + iec21.BLOCK_WAIT_MS + 2)
            if not h.eng.idle or h.eng.baud != 300:
                self.fail("session %d: state %d baud %d" % (s, h.eng.state, h.eng.baud))
            logged_in = h.eng.stats["logins"] != logins
            logins = h.eng.stats["logins"]
            now = h.regs.snapshot()
            if not logged_in and now != before:
                self.fail("session %d changed %r without a login" % (s, now))
            self.assertEqual(now[0x0001], b"METER-01")
            before = now
            h.take()
            del h.bauds[:-1]
        dt = time.ticks_diff(time.ticks_ms(), t0)
        st = h.eng.stats
        self.assertGreater(h.regs.writes, 0)  # logged-in sessions did write: the check bites
        # the generator did reach the paths it is meant to exercise
        for key in ("sign_on", "readout", "prog", "bad_bcc", "bad_password", "lockouts", "logins"):
            self.assertGreater(st[key], 0, key)
        print(
            "  %d sessions, %d bytes in %d ms; %s"
            % (SESSIONS, nbytes, dt, " ".join("%s=%d" % kv for kv in sorted(st.items())))
        )
