"""The hex examples of docs/optical.md checked by the PyPI `iec62056-21` client's own codec
(BCC, identification, readout and command parsing): an implementation that shares no code
with the firmware."""

import re

import pytest

from tools.mpenv import ROOT

iec = pytest.importorskip("iec62056_21")
from iec62056_21 import messages, utils  # noqa: E402

DOC = ROOT / "docs" / "optical.md"


def _frames():
    text = DOC.read_text()
    out = []
    for block in re.findall(r"```optical\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line[:2] in ("> ", "< "):
                out.append((line[0], bytes.fromhex(line[2:].replace(" ", ""))))
    return out


def test_every_framed_message_has_a_valid_bcc():
    """Each meter frame is valid; each HHU frame is valid unless the meter NAKs it (the bad-BCC
    example), and the meter NAKs no valid one (utils.bcc_valid recomputes from SOH/STX on)."""
    frames = _frames()
    n = 0
    for i, (direction, data) in enumerate(frames):
        if data[:1] not in (b"\x01", b"\x02"):
            continue
        n += 1
        nak = i + 1 < len(frames) and frames[i + 1] == ("<", b"\x15")
        if direction == "<":
            assert utils.bcc_valid(data), data.hex(" ")
        elif data[:3] == b"\x01P1" and nak:
            continue  # a wrong password is NAKed too, whatever its BCC
        else:
            assert utils.bcc_valid(data) != nak, data.hex(" ")
    assert n > 20


def test_messages_parse_with_the_client_codec():
    seen = set()
    for direction, data in _frames():
        if direction == "<" and data[:1] == b"/":
            ident = messages.IdentificationMessage.from_bytes(data)
            assert ident.manufacturer == "OMM" and ident.switchover_baudrate_char == "5"
            seen.add("ident")
        elif direction == "<" and data[:1] == b"\x02" and data[-2:-1] == b"\x03":
            ans = messages.AnswerDataMessage.from_bytes(data)
            if ans.data and ans.data[0].address == "C.1.0":
                got = {d.address: (d.value, d.unit) for d in ans.data}
                assert got["1.8.0"] == ("000123.456", "kWh")
                seen.add("readout")
        elif data[:3] == b"\x01P0":
            cmd = messages.CommandMessage.from_bytes(data)
            assert cmd.data_set.value == "1234ABCD"
            seen.add("p0")
        elif direction == ">" and data[:3] in (b"\x01R1", b"\x01W1") and utils.bcc_valid(data):
            cmd = messages.CommandMessage.from_bytes(data)
            assert cmd.command in ("R", "W")
            seen.add("command")
    assert seen == {"ident", "readout", "p0", "command"}
