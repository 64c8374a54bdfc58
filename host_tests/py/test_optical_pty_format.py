"""tools/optical_pty.py's LineFormat: the bridge follows a mode F session (docs/optical.md
"Mode F through the bridge") on a fake clock."""

from tools.optical_pty import IDLE_S, LineFormat


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_option_select_f_switches_to_8n1_until_the_break():
    c = Clock()
    f = LineFormat(c)
    assert f.from_client(b"/?!\r\n") and f.from_meter()
    assert f.from_client(b"\x0605")  # split across reads: still 7E1 while it is sent
    assert f.from_client(b"F\r\n")
    assert not f.from_meter() and not f.from_client(b"\x68\x03\x00\x02\x00\x03\xa1\xdd")
    assert not f.from_client(b"\x01B0\x03q")  # the break itself goes out 8-bit
    assert f.from_client(b"/?!\r\n")


def test_readout_and_programming_stay_7e1():
    f = LineFormat(Clock())
    for msg in (b"\x06050\r\n", b"\x06051\r\n", b"\x06252\r\n"):
        assert f.from_client(msg)
        assert f.seven


def test_silence_ends_the_session_as_the_meter_does():
    c = Clock()
    f = LineFormat(c)
    f.from_client(b"\x0605F\r\n")
    c.t += IDLE_S - 1
    assert not f.from_meter()
    c.t += IDLE_S + 1
    assert f.from_client(b"/?!\r\n")
