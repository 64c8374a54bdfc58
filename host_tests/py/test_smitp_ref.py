"""tools/smitp_ref.py on its own: published vectors, layouts, round trips; and the concentrator's
key file, state file and register table readers (tools/dcu_keys.py, tools/dcu_registers.py)."""

import json
import random

import pytest

from tools import smitp_ref as ref
from tools.dcu_keys import KeyFile, KeyFileError, State
from tools.dcu_registers import RegisterTable, decode_value, encode_value, parse_time

KEYS = ref.Keys(bytes(range(16)), bytes(range(16, 32)))
ACA = bytes.fromhex("010203040506")


def test_cmac_rfc4493_example_2():
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    msg = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    assert ref.cmac16(key, msg).hex() == "070a16b46b4d4144f79bdd9dd04a287c"


def test_crc32_check_value():
    assert ref.crc32(b"123456789") == 0xCBF43926


def test_tmac_block_and_iv_layout():
    m = ref.tmac_block(102, ACA, 0x0102030405060708, 0xAABBCCDD)
    assert m.hex() == "66" + "010203" + "0102030405060708" + "aabbccdd"
    assert ref.ctr_iv(ACA, 5).hex() == "010203040506" + "0000000000000005" + "0001"


def test_dt_is_u64_lsb_first():
    assert ref.dt_encode(0x0102).hex() == "0201000000000000"
    assert ref.dt_decode(ref.dt_encode(123456789)) == 123456789


@pytest.mark.parametrize("ecc", [1, 2, 5, 6])
def test_seal_open_round_trip_and_tamper(ecc):
    rng = random.Random(ecc)
    # ECB needs DATA|DT|TMAC = 16 bytes, i.e. empty DATA; CTR any length
    data = b"" if ecc in (2, 6) else bytes(rng.getrandbits(8) for _ in range(37))
    dt = ref.dt_encode(800000000)
    lsdu = ref.seal(KEYS, ecc, 103, data, dt, ACA, 9)
    assert len(lsdu) == 1 + len(data) + 16
    o = ref.open_sealed(KEYS, ecc, lsdu, ACA, 9)
    assert (o.attr, o.data, o.dt) == (103, data, dt)
    for i in range(1, len(lsdu)):  # any flipped bit after ATTR breaks the TMAC
        bad = bytearray(lsdu)
        bad[i] ^= 1 << rng.randrange(8)
        with pytest.raises(ref.AuthError):
            ref.open_sealed(KEYS, ecc, bytes(bad), ACA, 9)
    with pytest.raises(ref.AuthError):  # another MON
        ref.open_sealed(KEYS, ecc, lsdu, ACA, 10)
    other = ref.Keys(KEYS.read, KEYS.write)
    with pytest.raises(ref.AuthError):  # the other key
        ref.open_sealed(other, ecc, lsdu, ACA, 9)


def test_ctr_encrypts_everything_after_attr_with_the_documented_iv():
    data, dt = b"\x00\x3f", ref.dt_encode(1)
    lsdu = ref.seal(KEYS, 1, 102, data, dt, ACA, 1)
    t = ref.tmac(KEYS.read, 102, ACA, 1, ref.crc32(ACA + data + dt))
    assert lsdu[1:] == ref.ctr(KEYS.read, ref.ctr_iv(ACA, 1), data + dt + t)
    assert lsdu[0] == 102


REQUESTS = [
    (ref.READ_REQ, {"obj": 0x003F}),
    (ref.RESETTAB_REQ, {"obj": 0xFFFF}),
    (ref.READTAB_REQ, {"obj": 0x1500, "rno": 77}),
    (ref.READTAB_SEL_REQ, {"obj": 0x1500, "sel": 1, "from": 10, "to": 20}),
    (ref.BUFF_SELECT_REQ, {"obj": 0x1500, "sel": 0, "from": 0, "to": 5}),
    (ref.GETTAB_REQ, {"tab": 2}),
    (ref.SETTAB_REQ, {"tab": 1, "objs": [0x3F, 0x100]}),
    (ref.WRITE_REQ, {"obj": 0x0100, "value": b"\x30\x00\x00\x00"}),
    (ref.WRITETAB_REQ, {"obj": 0x0A00, "start": 3, "flags": 1, "records": b"\x01\x02\x03"}),
    (ref.SETIC_REQ, {"time": 700000000, "obj": 0x0100, "value": b"\x01"}),
    (
        ref.WRITETABIC_REQ,
        {"time": 7, "obj": 0x0A00, "start": 0, "flags": 0, "records": b"\x09" * 4},
    ),
    (ref.COMMAND_REQ, {"code": 0x02, "arg": 800000000}),
    (ref.COMMAND_REQ, {"code": 0x03, "arg": -30}),
    (ref.COMMAND_REQ, {"code": 0x04}),
]


@pytest.mark.parametrize("attr,fields", REQUESTS)
def test_request_build_parse_round_trip(attr, fields):
    apdu = ref.build_request(attr, fields)
    assert ref.parse_request(attr, apdu) == fields
    assert ref.build_request(attr, ref.parse_request(attr, apdu)) == apdu


def test_request_layouts_bytewise():
    assert ref.read_req(0x3F).hex() == "003f"
    assert ref.readtab_sel_req(0x1500, 1, 2, 3).hex() == "1500010000000200000003"
    assert ref.writetab_req(0x0A00, 2, True, [b"\xaa", b"\xbb"]).hex() == "0a000201aabb"
    assert ref.command_req("clock_adjust", -1).hex() == "03ffffffff"
    assert ref.setic_req(1, 2, b"\x03").hex() == "00000001000203"
    with pytest.raises(ValueError):
        ref.command_req("relay_disconnect", 1)
    with pytest.raises(ref.SmitpError):
        ref.parse_request(ref.READ_REQ, b"\x00")


def test_answer_parsers():
    blk = ref.parse_answer(ref.READTAB_RESP, bytes.fromhex("1500 00000004 00000006 02 aabb ccdd"))
    assert blk == {
        "obj": 0x1500,
        "first": 4,
        "end": 6,
        "n": 2,
        "records": [b"\xaa\xbb", b"\xcc\xdd"],
    }
    assert ref.parse_answer(ref.NACK_A, b"\x06") == {"par1": 6, "reason": "bad value"}
    assert ref.parse_answer(ref.ACK_A, b"") == {}
    hdr = ref.parse_table_header(bytes.fromhex("0003 0010 05 00000009"))
    assert hdr == {"count": 3, "capacity": 16, "recsize": 5, "end": 9}
    with pytest.raises(ref.SmitpError):
        ref.parse_answer(ref.READTAB_RESP, bytes.fromhex("1500 00000004 00000006 02 aabbcc"))
    assert [ref.plain_attr(a) for a in (103, 243, 245, 241, 239, 3, 113)] == [
        3, 253, 255, 251, 249, 3, 13
    ]  # fmt: skip


def test_parse_examples_from_markdown():
    md = "\n".join(
        [
            "text",
            "```smitp-example",
            "name: one  # comment",
            "lsdu: 02 00 3f",
            "```",
            "```hex",
            "ignored: 1",
            "```",
        ]
    )
    ex = ref.parse_examples(md)
    assert ex == [{"line": 2, "name": "one", "lsdu": "02 00 3f"}]
    assert ref.hexbytes(ex[0]["lsdu"]) == b"\x02\x00\x3f"
    with pytest.raises(ValueError):
        ref.parse_examples("```smitp-example\nname: x\n")


def test_key_file(tmp_path):
    p = tmp_path / "k.json"
    own = {"key_write": "ff" * 16, "key_read": "ee" * 16}
    p.write_text(
        json.dumps(
            {
                "default": {"key_write": "00" * 16, "key_read": "11" * 16},
                "meters": {"010203040506": own},
                "0a0b0c0d0e0f": own,
            }
        )
    )
    kf = KeyFile.load(p)
    assert kf.for_meter(ACA).write == b"\xff" * 16
    assert kf.for_meter(bytes.fromhex("0a0b0c0d0e0f")).read == b"\xee" * 16
    assert kf.for_meter(b"\x09" * 6).read == b"\x11" * 16
    with pytest.raises(KeyFileError):
        KeyFile({"meters": {"010203040506": {"key_write": "00"}}})
    with pytest.raises(KeyFileError):
        KeyFile({}).for_meter(ACA)


def test_state_file_persists_lmon_and_route(tmp_path):
    p = tmp_path / "s" / "state.json"
    s = State(p)
    s.set_lmon(ACA, 41)
    s.set_route(ACA, [b"\x01" * 6])
    s2 = State(p)
    assert s2.lmon(ACA) == 41 and s2.route(ACA) == [b"\x01" * 6]
    assert s2.lmon(b"\x00" * 6) == 0 and s2.route(b"\x00" * 6) is None


MD = """
| id | name | type | size | access |
|---|---|---|---|---|
| 0x003F | status_word | u64 | 8 | CLEAR / - |
| 0x0100 | clock | time | 4 | CLEAR / KEY_W |
| 0x0001 | serial_number | ascii | 16 | CLEAR / - |

| bit | flag | meaning |
|---|---|---|
| 2 | clock_not_set | RTC before 2020 |
| 5 | clock_synced | set since boot |
"""


def test_register_table_from_markdown_and_values():
    t = RegisterTable.from_markdown(MD)
    assert t.find("status_word").id == 0x3F and t.find("0x0100").name == "clock"
    assert t.find("63").name == "status_word" and t.find(0x100).size == 4
    with pytest.raises(KeyError):
        t.find("nothing")
    assert t.status_flags(bytes.fromhex("0000000000000024")) == ["clock_not_set", "clock_synced"]
    assert t.status_flags(bytes.fromhex("0000000000000001")) == ["bit0"]
    clock = t.find("clock")
    v = encode_value(clock, "2026-01-01T00:00:00Z")
    assert int.from_bytes(v, "big") == parse_time("2026-01-01T00:00:00") == 9497 * 86400
    assert decode_value(clock, v)["time"] == "2026-01-01T00:00:00Z"
    sn = t.find("serial_number")
    assert encode_value(sn, "MM1") == b"MM1" + b" " * 13
    assert decode_value(sn, b"MM1" + b" " * 13) == "MM1"
    assert encode_value(sn, "hex:00ff") == b"\x00\xff"


def _meter_answer(req, attr, data, ecc, mon=None):
    """A sealed answer as docs/smitp_security.md describes it (meter's direction)."""
    dt = ref.dt_encode(900000000)
    return ref.seal(KEYS, ecc, attr, data, dt, ACA, req.mon if mon is None else mon, answer=True)


def test_master_moves_lmon_only_on_a_verified_answer():
    m = ref.Master(ACA, KEYS, lmon=7, seconds=lambda: 900000000)
    req = m.request(ref.READ_REQ, ref.read_req(0x3F), ref.ECC_CTR_READ)
    assert req.mon == 8 and req.attr == 102
    with pytest.raises(ref.AuthError):  # sealed with another MON
        m.reply(req, _meter_answer(req, 103, b"\x00" * 8, 1, mon=9), 1)
    with pytest.raises(ref.SmitpError):  # another ECC than the request's
        m.reply(req, _meter_answer(req, 103, b"\x00" * 8, 5), 5)
    with pytest.raises(ref.SmitpError):  # an ATTR that does not answer READ
        m.reply(req, _meter_answer(req, 107, b"\x00" * 8, 1), 1)
    assert m.lmon == 7
    rep = m.reply(req, _meter_answer(req, 103, b"\x00" * 7 + b"\x10", 1), 1)
    assert rep.fields["value"] == b"\x00" * 7 + b"\x10" and m.lmon == 8
    nack = m.request(ref.WRITE_REQ, ref.write_req(0x0303, b"\x37"), ref.ECC_CTR_WRITE)
    rep = m.reply(nack, _meter_answer(nack, ref.NACK_A_AUTH, b"\x06", 5), 5)
    assert rep.nack == 6 and rep.authenticated and m.lmon == 9  # a sealed NACK moves LMON


def test_master_ecb_request_answered_in_ctr_with_the_same_key_only():
    m = ref.Master(ACA, KEYS, lmon=0)
    req = m.request(ref.COMMAND_REQ, b"", ref.ECC_ECB_WRITE)
    assert len(req.lsdu) == 17
    with pytest.raises(ref.SmitpError):  # CTR with the read key
        m.reply(req, _meter_answer(req, ref.NACK_A_AUTH, b"\x03", 1), 1)
    rep = m.reply(req, _meter_answer(req, ref.NACK_A_AUTH, b"\x03", 5), 5)
    assert rep.nack == 3 and m.lmon == 1


def test_master_adopts_only_a_verified_nack_auth_and_challenge():
    m = ref.Master(ACA, KEYS, lmon=3)
    req = m.request(ref.READ_REQ, ref.read_req(0x3F), ref.ECC_CTR_READ)
    forged = ref.nack_auth(ref.Keys(KEYS.write, b"\x55" * 16), ACA, 99, req.lsdu)
    with pytest.raises(ref.AuthError):
        m.reply(req, forged, ref.ECC_ECB_READ)
    other = m.request(ref.READ_REQ, ref.read_req(0x40), ref.ECC_CTR_READ)
    with pytest.raises(ref.AuthError):  # a genuine NACK-auth, but for another request (Etm*)
        m.reply(req, ref.nack_auth(KEYS, ACA, 99, other.lsdu), ref.ECC_ECB_READ)
    assert m.lmon == 3
    rep = m.reply(req, ref.nack_auth(KEYS, ACA, 99, req.lsdu), ref.ECC_ECB_READ)
    assert rep.nack == ref.NACK_AUTH and rep.lmon == 99 and m.lmon == 99
    ch = m.challenge()
    t, n = ch.nonce[:2], ch.nonce[2:]
    assert ch.lsdu == bytes([112]) + t + n and len(n) == 16
    with pytest.raises(ref.AuthError):  # an old answer for another N
        m.reply(ch, ref.challenge_resp(KEYS, ACA, 5, t, b"\x00" * 16), ref.ECC_ECB_READ)
    with pytest.raises(ref.SmitpError):  # another tag T
        m.reply(ch, ref.challenge_resp(KEYS, ACA, 5, b"\xff\xff", n), ref.ECC_ECB_READ)
    assert m.lmon == 99
    assert m.reply(ch, ref.challenge_resp(KEYS, ACA, 5, t, n), ref.ECC_ECB_READ).lmon == 5
    assert m.lmon == 5  # the meter's word wins, even backwards: it is what it will accept
