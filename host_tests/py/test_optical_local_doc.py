"""docs/optical.md's mode F example is what tools/gen_optical_local_doc.py writes (the
independent CPython codec), and every frame in it checks: CRC-16/CCITT-FALSE from the standard
library, LSDUs opened and their T-MACs verified by tools/smitp_ref.py. The firmware's side is
host_tests/mp/test_optical_local_doc.py (same bytes, replayed through the engine)."""

import re

from tools import gen_optical_local_doc as gen
from tools import smitp_ref as ref
from tools.handheld import crc16, unframe


def test_crc_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1  # the catalogue check value of CRC-16/CCITT-FALSE


def test_page_is_up_to_date():
    assert gen.main(["--check"]) == 0


def test_every_documented_frame_checks_and_authenticates():
    text = gen.DOC.read_text()
    body = re.search(r"```optical-f\n(.*?)```", text, re.S).group(1)
    steps = [(ln[0], bytes.fromhex(ln[2:])) for ln in body.splitlines() if ln[:2] in ("> ", "< ")]
    frames = [(d, unframe(b)) for d, b in steps if b[0] == 0x68]
    assert len(frames) == 8
    m = ref.Master(gen.ACA, gen.KEYS, 0, seconds=lambda: gen.T0)
    for (d1, (ecc, lsdu)), (d2, (ecc_a, ans)) in zip(frames[::2], frames[1::2]):
        assert (d1, d2) == (">", "<")
        attr = lsdu[0]
        if attr == ref.CHALLENGE_REQ:
            req = m.challenge(n=lsdu[3:], t=lsdu[1:3])
        elif ecc == 0:
            req = m.request(attr, lsdu[1:])
        else:
            opened = ref.open_sealed(gen.KEYS, ecc, lsdu, gen.ACA, m.lmon + 1)
            req = m.request(ref.plain_attr(attr), opened.data, ecc, opened.dt)
        assert req.lsdu == lsdu
        rep = m.reply(req, ans, ecc_a)
        assert rep.ok
    assert m.lmon == 2  # CHALLENGE adopted 0, the write and the read each moved it
