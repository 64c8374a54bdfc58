"""tools/mm_frame.py (CPython, written from docs/datalink.md) against hand-built vectors from the
document, and against the firmware codec (mac.frame in a real micropython process): two
independent implementations must agree on every frame, valid or not, on airtime and timeouts."""

import json
import random
import subprocess

import pytest

from tools import mm_frame as mm
from tools.mpenv import ROOT, micropython_exe, mp_env

BC = "ffffffffff03"
M1 = "4d4d00000101"
M2 = "4d4d00000201"
M3 = "4d4d00000301"

# (description, hex, expected fields) — built by hand from docs/datalink.md §1, §2, §6
VECTORS = [
    (
        "ADDRESS.REQ broadcast, NOR, RC2, poll, DSAP 2, hop 0, tag 3",
        # 16 bytes: LT=0x0f | ADDRESS | CTL=0xD1 (RC2<<4 | NOR) | Rsv=0x30 | IC=01 | LSAP=0x20
        "0f" + BC + "d1" + "30" + "01" + "20" + "5a02550000",
        dict(addr=BC, disc=13, route=[], up=False, tag=3, hop=0, poll=True, dsap=2, ecc=0,
             lsdu="5a02550000"),
    ),
    (
        "READ.REQ status to M3 via M1, M2 (RA1), hop 0, tag 1",
        # 26 bytes: LT 0x19, CTL = 0x20 | (2-1)<<1 = 0x22, Rsv = 0x10, LSAP 0x00, 02 00 3f
        "19" + M3 + "22" + M1 + M2 + "10" + "01" + "00" + "02003f",
        dict(addr=M3, disc=2, route=[M1, M2], up=False, tag=1, hop=0, poll=True, dsap=0, ecc=0,
             lsdu="02003f"),
    ),
    (
        "its READ.RESP relayed by M1 (uplink, hop 1), same route and tag, poll 0",
        "1f" + M3 + "22" + M1 + M2 + "91" + "00" + "00" + "03" + "0000000000000010",
        dict(addr=M3, disc=2, route=[M1, M2], up=True, tag=1, hop=1, poll=False, dsap=0, ecc=0,
             lsdu="030000000000000010"),
    ),
    (
        "SCA mode: ADDRESS = SCA (byte 5 = 03), 2-byte route entries [subsection, node]",
        "0f" + "563412010703" + "42" + "0105" + "0102" + "01" + "00" + "01" + "01",
        dict(addr="563412010703", disc=4, route=["0105", "0102"], up=False, tag=0, hop=1,
             poll=False, dsap=0, ecc=1, lsdu="01"),
    ),
    (
        "broadcast routed via one repeater keeps 6-byte entries; TCT_SET 0xff, S, no poll",
        "12" + BC + "00" + M1 + "00" + "00" + "20" + "5cff",
        dict(addr=BC, disc=0, route=[M1], up=False, tag=0, hop=0, poll=False, dsap=2, ecc=0,
             lsdu="5cff"),
    ),
]  # fmt: skip

BAD = [
    ("short", "0b" + BC + "01" + "00" + "00"),  # 11 bytes
    ("lt", "11" + BC + "d1" + "30" + "01" + "20" + "5a02550000"),
    ("ctl", "0f" + BC + "d3" + "30" + "01" + "20" + "5a02550000"),  # NOR with count
    ("hop", "0f" + BC + "d1" + "01" + "01" + "20" + "5a02550000"),  # downlink hop 1, n=0
    ("hop", "0f" + BC + "d1" + "80" + "01" + "20" + "5a02550000"),  # uplink hop 0
    ("rsv", "0f" + BC + "d1" + "00" + "03" + "20" + "5a02550000"),
    ("dsap", "0f" + BC + "d1" + "00" + "01" + "10" + "5a02550000"),
    ("ecc", "0f" + BC + "d1" + "00" + "01" + "03" + "5a02550000"),
    ("lsdu", "%02x" % (10 + 129) + M1 + "01" + "00" + "00" + "00" + "02" * 129),
    ("short", "0d" + M1 + "22" + M2 + ""),  # route longer than the frame
]


def _fields(f):
    return dict(addr=f.addr.hex(), disc=f.disc, route=[r.hex() for r in f.route], up=f.up,
                tag=f.tag, hop=f.hop, poll=f.poll, dsap=f.dsap, ecc=f.ecc,
                lsdu=f.lsdu.hex())  # fmt: skip


@pytest.mark.parametrize("desc,hexframe,want", VECTORS, ids=[v[0][:30] for v in VECTORS])
def test_vectors_decode_and_encode(desc, hexframe, want):
    raw = bytes.fromhex(hexframe)
    f = mm.decode(raw)
    assert _fields(f) == want
    assert mm.encode(f) == raw


@pytest.mark.parametrize("reason,hexframe", BAD)
def test_rejections(reason, hexframe):
    with pytest.raises(mm.FrameError) as e:
        mm.decode(bytes.fromhex(hexframe))
    assert e.value.reason == reason


def test_nm_payloads():
    e = mm.parse_address_resp(bytes.fromhex("5b" + M1 + "3c28ff" + "ffffff"))
    assert (e.aca.hex(), e.sig, e.snr_db, e.tx) == (M1, 60, 10.0, 255)
    lst = mm.parse_reqaddr_resp(bytes.fromhex("5f02" + M2 + "3c28ffffffff" + M3 + "ffffffffffff"))
    assert [x.aca.hex() for x in lst] == [M2, M3] and lst[1].snr_db is None
    with pytest.raises(ValueError):
        mm.parse_reqaddr_resp(bytes.fromhex("5f02" + M2 + "3c28ffffffff"))


# --- two implementations agree ------------------------------------------------------------------

MP_SCRIPT = r"""
import json, sys
from mac.frame import Frame, encode, REASONS
from mac import timing
from phy import profile
from drivers.sim.air import airtime_ms as air
inp = json.load(open(sys.argv[1]))
f = Frame()
out = {"parse": [], "encode": [], "airtime": [], "timeout": []}
for h in inp["frames"]:
    b = bytes.fromhex(h)
    r = f.parse(memoryview(b))
    if r:
        out["parse"].append(["rej", REASONS[r]])
    else:
        out["parse"].append(["ok", bytes(f.addr_mv()).hex(), f.disc, bytes(f.route_mv()).hex(),
            f.esize, f.up, f.tag, f.hop, f.poll, f.dsap, f.ecc, bytes(f.lsdu_mv()).hex()])
buf = bytearray(256)
for e in inp["encode"]:
    try:
        n = encode(buf, bytes.fromhex(e[0]), e[1], bytes.fromhex(e[2]), e[3], e[4], e[5], e[6],
                   e[7], e[8], bytes.fromhex(e[9]))
        out["encode"].append(bytes(buf[:n]).hex())
    except ValueError:
        out["encode"].append(None)
for n in range(1, 256):
    out["airtime"].append(profile.airtime_us(n))
for t in inp["timeouts"]:
    out["timeout"].append(timing.response_timeout_ms(air, *t))
out["reqaddr"] = timing.reqaddr_round_ms(air)
print(json.dumps(out))
"""


def _random_frames(rng, n):
    out = []
    for _ in range(n):
        sca = rng.random() < 0.2
        if sca:
            addr = bytes(rng.randrange(256) for _ in range(5)) + b"\x03"
        elif rng.random() < 0.2:
            addr = mm.BROADCAST
        else:
            addr = bytes(rng.randrange(256) for _ in range(5)) + bytes([rng.choice([1, 2, 0x10])])
        e = mm.entry_size_for(addr)
        nr = rng.randrange(0, 9)
        up = rng.random() < 0.5
        hop = rng.randrange(1, nr + 2) if up else rng.randrange(0, nr + 1)
        f = mm.Frame(
            addr=addr,
            lsdu=bytes(rng.randrange(256) for _ in range(rng.randrange(1, 129))),
            disc=rng.randrange(16),
            route=[bytes(rng.randrange(256) for _ in range(e)) for _ in range(nr)],
            up=up,
            tag=rng.randrange(8),
            hop=hop,
            poll=rng.random() < 0.5,
            dsap=rng.choice([0, 2]),
            ecc=rng.choice(mm.VALID_ECC),
        )
        raw = bytearray(f.encode())
        k = rng.random()
        if k < 0.15:  # one random byte changed
            i = rng.randrange(len(raw))
            raw[i] = rng.randrange(256)
        elif k < 0.25:  # truncated or extended
            raw = raw[: rng.randrange(len(raw))] if rng.random() < 0.5 else raw + b"\x00"
        out.append((f, bytes(raw)))
    return out


def test_firmware_codec_agrees(tmp_path):
    rng = random.Random(4)
    cases = _random_frames(rng, 600) + [(None, bytes.fromhex(v[1])) for v in VECTORS]
    cases += [(None, bytes.fromhex(b[1])) for b in BAD]
    enc = [
        [f.addr.hex(), f.disc, b"".join(f.route).hex(), f.up, f.tag, f.hop, f.poll, f.dsap,
         f.ecc, f.lsdu.hex()]
        for f, _ in cases if f is not None
    ]  # fmt: skip
    timeouts = [
        [disc, nr, 6, ql]
        for disc in (0, 2, 4, 8, 9, 12, 13, 15)
        for nr in (0, 1, 3, 8)
        for ql in (12, 16, 60)
    ]
    inp = {"frames": [raw.hex() for _, raw in cases], "encode": enc, "timeouts": timeouts}
    (tmp_path / "in.json").write_text(json.dumps(inp))
    (tmp_path / "t.py").write_text(MP_SCRIPT)
    p = subprocess.run(
        [micropython_exe(), "-X", "heapsize=8M", str(tmp_path / "t.py"),
         str(tmp_path / "in.json")],
        env=mp_env(), cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    fw = json.loads(p.stdout)
    n_ok = 0
    for (_, raw), got in zip(cases, fw["parse"]):
        try:
            f = mm.decode(raw)
        except mm.FrameError as e:
            assert got == ["rej", e.reason], raw.hex()
            continue
        n_ok += 1
        assert got == [
            "ok", f.addr.hex(), f.disc, b"".join(f.route).hex(), f.esize, int(f.up), f.tag,
            f.hop, int(f.poll), f.dsap, f.ecc, f.lsdu.hex(),
        ], raw.hex()  # fmt: skip
    assert n_ok > 300  # most frames valid, the rest exercise the rejections
    fs = [f for f, _ in cases if f is not None]
    assert fw["encode"] == [f.encode().hex() for f in fs]
    assert fw["airtime"] == [mm.airtime_us(n) for n in range(1, 256)]
    assert fw["timeout"] == [mm.response_timeout_ms(*t) for t in timeouts]
    assert fw["reqaddr"] == mm.reqaddr_round_ms()
