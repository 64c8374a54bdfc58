"""Every worked example of docs/smitp.md and docs/smitp_security.md, checked by tools/smitp_ref.py.

The examples are extracted from the markdown (smitp_ref.parse_examples), so a new example is
checked as soon as it is written. For each side (request / answer) of an example the codec:
decodes the MAC frame (tools/mm_frame.py) and compares its LSDU and ECC; opens an authenticated
LSDU with the given keys and MON and compares every intermediate value the example gives
(DATA, DT, TMAC, CRC-32, M, IV); reproduces the LSDU byte for byte through smitp_ref.Master (the
concentrator's path); verifies NACK-auth and CHALLENGE.RESP and the LMON they carry; and, in
docs/smitp.md, decodes and re-encodes the plaintext APDU with the message codec of its ATTR.
"""

import re

import pytest

from tools import mm_frame as mm
from tools import smitp_ref as ref
from tools.mpenv import ROOT

DOCS = [ROOT / "docs" / "smitp.md", ROOT / "docs" / "smitp_security.md"]
MESSAGE_DOC = "smitp.md"  # examples whose APDU must follow the message layouts of §5


def _hex_run(v: str) -> str:
    """Hex as written in prose; `00 01 … 0F` (an ellipsis) is the run of consecutive bytes."""
    v = v.replace("...", "…")
    if "…" not in v:
        return v
    head, tail = v.split("…")
    a, b = bytes.fromhex(head), bytes.fromhex(tail)
    start = a[0]
    run = bytes(range(start, b[-1] + 1))
    assert run[: len(a)] == a and run[-len(b) :] == b, f"not a run: {v}"
    return run.hex()


def doc_inputs(text: str) -> dict:
    """ACA and keys stated once in the prose before the examples, e.g. "ACA (wire order)
    `01 02 ...`", "K1 (write) `...`", "K2 (read) `...`"; an example's own values win."""
    found = {}
    for key, word in (("aca", "ACA"), ("key_write", "K1"), ("key_read", "K2")):
        m = re.search(r"\b" + word + r"\b[^`\n]*`([0-9a-fA-F ….]+)`", text)
        if m:
            found[key] = _hex_run(m.group(1).strip())
    return found


def _collect():
    out = []
    for path in DOCS:
        if not path.exists():
            continue
        text = path.read_text()
        inputs = doc_inputs(text)
        examples = ref.parse_examples(text)
        # a repeated request (duplicate) may omit MON: it is the one of the same LSDU earlier
        mons = {}
        for ex in examples:
            lsdu = _side(ex, "request").get("lsdu")
            if lsdu is not None and "mon" in ex:
                mons.setdefault(lsdu, ref.intval(ex["mon"]))
        for ex in examples:
            ident = f"{path.name}:{ex.get('name', ex['line'])}"
            out.append(pytest.param(path.name, ex, inputs, mons, id=ident))
    return out


def _side(ex: dict, side: str) -> dict:
    """The fields of one side: `request_x`/`answer_x` keys, or plain keys with `dir: side`."""
    got = {k[len(side) + 1 :]: v for k, v in ex.items() if k.startswith(side + "_")}
    if ex.get("dir") == side:
        got.update({k: v for k, v in ex.items() if k not in ("dir", "name", "line")})
    if "hex" in got:  # docs/smitp.md form: a frame when the example says so, else the LSDU
        h = ref.hexbytes(got.pop("hex"))
        is_frame = "frame" in ex.get("name", "").lower() and h[0] == len(h) - 1
        got["frame" if is_frame else "lsdu"] = h.hex()
    out = {}
    if "frame" in got:
        f = mm.decode(ref.hexbytes(got["frame"]))
        assert f.up == (side == "answer"), "frame direction bit"
        if "lsdu" in got:
            assert f.lsdu == ref.hexbytes(got["lsdu"]), "frame does not embed the LSDU"
        if "ecc" in got:
            assert f.ecc == ref.intval(got["ecc"]), "INF-LSAP ECC differs from the example's"
        if "disc" in got:
            assert f.disc == ref.intval(got["disc"]), "CTL discipline differs from the example's"
        out["ecc"] = f.ecc
        out["lsdu"] = f.lsdu
    elif "lsdu" in got:
        out["lsdu"] = ref.hexbytes(got["lsdu"])
    if "ecc" in got:
        out["ecc"] = ref.intval(got["ecc"])
    for k, v in got.items():
        out.setdefault(k, v)
    return out


def _hex_eq(side, key, value: bytes):
    if key in side:
        assert ref.hexbytes(side[key]) == bytes(value), (
            f"{key}: doc {side[key]}, ref {value.hex()}"
        )


def _check_intermediates(side, attr, data, dt, aca, mon, key, answer):
    crc = ref.crc32(aca + data + dt)
    _hex_eq(side, "data", data)
    _hex_eq(side, "dt", dt)
    _hex_eq(side, "crc32", crc.to_bytes(4, "big"))
    _hex_eq(side, "crc", crc.to_bytes(4, "big"))
    _hex_eq(side, "m", ref.tmac_block(attr, aca, mon, crc))
    _hex_eq(side, "tmac", ref.tmac(key, attr, aca, mon, crc))
    if "iv" in side:
        _hex_eq(side, "iv", ref.ctr_iv(aca, mon, answer))
    if "attr" in side:
        a = side["attr"]
        assert int(a, 16) == attr or ref.intval(a) == attr, f"attr {a} vs {attr}"
    _hex_eq(side, "plain", bytes([attr]) + data)  # docs/smitp.md: ATTR + DATA


def _fields_check(side, fields):
    for item in filter(None, (x.strip() for x in side.get("fields", "").split(","))):
        k, _, v = item.partition("=")
        got = fields[k.strip()]
        want = v.strip()
        if isinstance(got, int):
            assert got == ref.intval(want), (k, got, want)
        elif isinstance(got, bytes):
            assert got == ref.hexbytes(want), (k, got.hex(), want)
        else:
            assert str(got) == want, (k, got, want)


def _plain_apdu_check(doc, attr, apdu, request, side):
    if doc != MESSAGE_DOC:
        return
    if request:
        fields = ref.parse_request(attr, apdu)
        assert ref.build_request(attr, fields) == apdu
    else:
        fields = ref.parse_answer(attr, apdu)
    _fields_check(side, fields)


EXAMPLES = _collect()


@pytest.mark.parametrize("doc,ex,inputs,mons", EXAMPLES)
def test_doc_example(doc, ex, inputs, mons):
    ctx = dict(inputs)
    ctx.update(ex)
    keys = aca = None
    if "key_write" in ctx and "key_read" in ctx:
        keys = ref.Keys(ref.hexbytes(ctx["key_write"]), ref.hexbytes(ctx["key_read"]))
    if "aca" in ctx:
        aca = ref.hexbytes(ctx["aca"])
    req = _side(ex, "request")
    ans = _side(ex, "answer")
    assert req.get("lsdu") or ans.get("lsdu"), "an example needs an LSDU or a frame"
    mon = ref.intval(ex["mon"]) if "mon" in ex else mons.get(req.get("lsdu"))
    master = None
    sent = None

    if "lsdu" in req:
        lsdu, ecc = req["lsdu"], req.get("ecc", 0)
        attr = lsdu[0]
        if ecc == 0 and attr == ref.CHALLENGE_REQ:
            assert len(lsdu) == 19, "CHALLENGE.REQ is 70 | T(2) | N(16)"
            master = ref.Master(aca, keys)
            sent = master.challenge(n=lsdu[3:], t=lsdu[1:3])
            assert sent.lsdu == lsdu
        elif ecc == 0:
            _plain_apdu_check(doc, attr, lsdu[1:], True, req)
            sent = ref.Request(attr, lsdu[1:], 0, lsdu)
        else:
            assert keys and aca and mon is not None, "authenticated example without keys/ACA/MON"
            o = ref.open_sealed(keys, ecc, lsdu, aca, mon)
            _check_intermediates(req, attr, o.data, o.dt, aca, mon, keys.for_ecc(ecc), False)
            if "lmon_before" in ex:
                assert ref.intval(ex["lmon_before"]) == mon - 1
            master = ref.Master(aca, keys, mon - 1, seconds=lambda: ref.dt_decode(o.dt))
            sent = master.request(ref.plain_attr(attr), o.data, ecc)
            assert sent.lsdu == lsdu, f"ref seals {sent.lsdu.hex()}"
            _plain_apdu_check(doc, ref.plain_attr(attr), o.data, True, req)

    if "lsdu" in ans:
        lsdu, ecc = ans["lsdu"], ans.get("ecc", 0)
        attr = lsdu[0]
        if sent is None:  # an answer alone: only its plain layout can be checked
            assert ecc == 0, "a sealed answer example needs its request"
            _plain_apdu_check(doc, attr, lsdu[1:], False, ans)
            return
        master = master or ref.Master(aca, keys, 0)
        if attr == ref.NACK_A_AUTH and ecc == ref.ECC_ECB_READ:
            lmon = ref.open_nack_auth(keys, aca, lsdu, sent.lsdu)  # TMAC verified
            assert lmon == ref.intval(ex.get("lmon", str(lmon)))
            _hex_eq(ex, "etm", ref.etm(sent.lsdu))
            crc = ref.crc32(aca + bytes([ref.NACK_AUTH]) + ref.etm(sent.lsdu))
            _hex_eq(ex, "crc32", crc.to_bytes(4, "big"))
            _hex_eq(ex, "m", ref.tmac_block(attr, aca, lmon, crc))
            _hex_eq(
                ex, "plain", ref.lmon_block(keys, attr, aca, lmon, lsdu[1:2] + ref.etm(sent.lsdu))
            )
            assert ref.nack_auth(keys, aca, lmon, sent.lsdu) == lsdu
            rep = master.reply(sent, lsdu, ecc)
            assert rep.nack == ref.NACK_AUTH and master.lmon == lmon
        elif attr == ref.CHALLENGE_RESP:
            t, n = sent.nonce[:2], sent.nonce[2:]
            lmon = ref.open_challenge_resp(keys, aca, lsdu, t, n)  # TMAC verified
            assert lmon == ref.intval(ex.get("lmon", str(lmon)))
            crc = ref.crc32(aca + n)
            _hex_eq(ex, "crc32", crc.to_bytes(4, "big"))
            _hex_eq(ex, "m", ref.tmac_block(attr, aca, lmon, crc))
            _hex_eq(ex, "plain", ref.lmon_block(keys, attr, aca, lmon, n))
            assert ref.challenge_resp(keys, aca, lmon, t, n) == lsdu
            assert ecc == ref.ECC_ECB_READ
            rep = master.reply(sent, lsdu, ecc)
            assert rep.lmon == lmon and master.lmon == lmon
        elif ecc == 0:
            rep = master.reply(sent, lsdu, ecc)
            _plain_apdu_check(doc, attr, lsdu[1:], False, ans)
        else:
            o = ref.open_sealed(keys, ecc, lsdu, aca, sent.mon, answer=True)
            _check_intermediates(ans, attr, o.data, o.dt, aca, sent.mon, keys.for_ecc(ecc), True)
            assert ref.seal(keys, ecc, attr, o.data, o.dt, aca, sent.mon, answer=True) == lsdu
            rep = master.reply(sent, lsdu, ecc)
            assert master.lmon == sent.mon and rep.authenticated
            _plain_apdu_check(doc, ref.plain_attr(attr), o.data, False, ans)
        if "lmon_after" in ex:
            assert master.lmon == ref.intval(ex["lmon_after"])


def test_examples_found_in_every_doc_present():
    """The extraction itself: every doc that exists yields examples (a format change that the
    parser no longer sees would otherwise pass silently)."""
    for path in DOCS:
        if path.exists():
            assert ref.parse_examples(path.read_text()), f"no worked example found in {path.name}"


def _doc_table(text, first_col):
    from tools.dcu_registers import _md_tables

    for header, rows in _md_tables(text):
        if header and header[0] == first_col:
            return header, rows
    raise AssertionError(f"no table with a first column {first_col!r}")


def test_nack_codes_and_command_codes_match_the_doc():
    """smitp_ref's PAR1 names and COMMAND codes are the tables of docs/smitp.md §2 and §5.12."""
    text = (ROOT / "docs" / "smitp.md").read_text()
    _, rows = _doc_table(text, "par1")
    assert {int(r[0]): r[1] for r in rows} == ref.NACK_NAMES
    _, rows = _doc_table(text, "code")
    doc = {r[1]: int(r[0], 16) for r in rows}
    assert doc == ref.COMMANDS
    for r in rows:  # the argument layouts: TIME(4) -> u32, DELTA(i32) -> i32, '–' -> none
        fmt = ref.COMMAND_ARGS.get(int(r[0], 16))
        assert (fmt == ">I") == r[2].startswith("TIME(4)"), r
        assert (fmt == ">i") == ("i32" in r[2]), r
