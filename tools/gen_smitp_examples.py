# ruff: noqa: E501  (the MicroPython script below keeps one example per line)
"""Generate the worked examples of docs/smitp.md §9 from the firmware (`make docs`).

A real meter (app.Meter on simulated hardware, fixed clock, the config's default keys) runs under
Unix MicroPython and answers every example request; this script renders what it sent back.
Concentrator-side requests are built with the firmware's crypto primitives; tools/smitp_ref.py
(independent, AES from `cryptography`) checks every example in host tests. `--check` exits 1
when docs/smitp.md is stale.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.docgen import run_mp, write_or_check  # noqa: E402
from tools.mpenv import ROOT  # noqa: E402

DOC = ROOT / "docs" / "smitp.md"
MARK = "## 9. Worked examples"

# Runs under MicroPython with MICROPYPATH = firmware/lib, firmware, repo, host_tests/mp.
_RUN = r"""
import json, os, struct
import config, storekeys
from app import Meter
from clock import ManualClock
from drivers.relay import LatchingRelay
from drivers.sim import air
from drivers.sim.bnode import SimBNode
from drivers.sim.flash import SimFlash
from drivers.sim.pin import SimPin
from hw import Hardware
from mac.link import Mac
from mac import frame as fr
from smitp import crypto, tmac

T0 = 850000000
ACA = bytes((1, 2, 3, 4, 5, 6))
KW = bytes(range(0, 16))
KR = bytes(range(16, 32))

class Rtc:
    t = T0
    def seconds(self):
        return self.t
    def set(self, s):
        self.t = s

class Ctx:
    def __init__(self, ecc, disc):
        self.ecc = ecc; self.ecc_out = ecc; self.poll = 1; self.disc = disc
        self.max_resp = (0, 0, 20, 40, 60, 80, 100, 120, 128, 20, 30, 50, 90, 90, 90, 90)[disc]
        self.broadcast = False; self.slots = 0

try:
    os.mkdir("build")
except OSError:
    pass
path = "build/gen_smitp_examples_%s.bin" % os.urandom(4).hex()  # never shared by two runs
rtc = Rtc()
class Phy:  # what the MAC asks of a PHY outside the asyncio tasks (no frame is sent here)
    airtime_ms = staticmethod(air.airtime_ms)

clk = ManualClock()
hw = Hardware("unix_sim", clock=clk, flash=SimFlash(path, 4096, 8), rtc=rtc, phy=Phy(),
              relay=LatchingRelay(SimPin("s"), SimPin("r"), 0, None, clk))
hw.bnode = SimBNode()
m = Meter(hw, config.load(None, {"seed": 1}))
out = []

def seal_req(attr, data, mon, ecc):
    key = KW if ecc & 4 else KR
    dt = struct.pack("<Q", T0)
    t = tmac.tmac(key, attr, ACA, mon, tmac.crc32(ACA + data + dt))
    plain = data + dt + t
    return bytes((attr,)) + crypto.ctr(key, tmac.ctr_iv(ACA, mon), plain), dt

def ex(title, attr, data, ecc=0, disc=7, note=""):
    mon = m.sec.lmon + 1 if ecc else None
    if ecc:
        lsdu, dt = seal_req(attr, data, mon, ecc)
    else:
        lsdu = bytes((attr,)) + data
    c = Ctx(ecc, disc)
    ans = m.al.handle(memoryview(lsdu), c)
    ans = b"" if ans is None else bytes(ans)
    plain_ans = None
    if ecc and ans and c.ecc_out in (1, 5):
        key = KW if ecc & 4 else KR
        p = crypto.ctr(key, tmac.ctr_iv(ACA, mon, True), ans[1:])
        plain_ans = p[:-16].hex()
    out.append({"title": title, "ecc": ecc, "mon": mon, "disc": disc, "req": lsdu.hex(),
                "req_plain": data.hex(), "ans": ans.hex(),
                "ecc_out": c.ecc_out, "ans_plain": plain_ans, "note": note})
    return ans

def oid(o):
    return bytes((o >> 8, o & 255))

# --- 5.1 READ
ex("READ status_word, plain", 2, oid(0x003F))
ex("READ status_word, read key, CTR (ECC 1)", 102, oid(0x003F), 1)
ex("READ unknown object 0x7777 → NACK 1", 2, oid(0x7777))
ex("READ event_log header in clear → NACK 2 (access)", 2, oid(0x1300))
# --- 5.7 WRITE
ex("WRITE contract1_power_w = 4500 W, write key, CTR (ECC 5)", 104, oid(0x0800) + struct.pack(">I", 4500), 5)
ex("WRITE in clear → NACK 2", 4, oid(0x0800) + struct.pack(">I", 4500))
ex("WRITE nominal_frequency_hz = 55 → NACK 6 (bad value), sealed", 104, oid(0x0303) + b"\x37", 5)
# --- 5.8 WRITETAB, two blocks
ex("WRITETAB weekly_tariff block 1 (START 0, 2 records)", 110, oid(0x0900) + b"\x00\x00" + bytes((0, 0, 0, 2, 0, 7, 0, 1)), 5)
ex("WRITETAB weekly_tariff block 2 (START 2, LAST, 1 record)", 110, oid(0x0900) + b"\x02\x01" + bytes((0, 21, 0, 2)), 5)
ex("WRITETAB out of sequence (START 5) → NACK 8", 110, oid(0x0900) + b"\x05\x01" + bytes((0, 21, 0, 2)), 5)
# --- 5.2 READTAB, block read on RA1 (20 bytes) and continuation
ex("READTAB weekly_tariff from RNO 0 on RA1 (20-byte answers)", 8, oid(0x0900) + struct.pack(">I", 0), 0, 2)
ex("READTAB continuation from RNO 2", 8, oid(0x0900) + struct.pack(">I", 2), 0, 2)
# --- 5.12 COMMAND
ex("COMMAND clock_set 2026-12-08 00:01:40 UTC (850000100)", 118, b"\x02" + struct.pack(">I", T0 + 100), 5)
rtc.t = T0 + 100
ex("COMMAND clock_adjust -30 s", 118, b"\x03" + struct.pack(">i", -30), 5)
rtc.t = T0 + 70
ex("COMMAND billing_close", 118, b"\x01", 5)
ex("COMMAND relay_disconnect in clear → NACK 2", 18, b"\x04")
ex("COMMAND unknown code 0x7F → NACK 1", 118, b"\x7f", 5)
# --- 5.3 / 5.4 selective reads of the event log (read key)
sel = oid(0x1300) + b"\x01" + struct.pack(">II", T0 + 50, T0 + 200)
ex("BUFF_SELECT event_log by time [850000050, 850000200], read key", 122, sel, 1)
ex("READTAB-sel event_log by time, read key, RA3 (60 bytes)", 106, sel, 1, 4)
ex("READTAB-sel event_log by RNO range, bad SEL 2 → NACK 6", 106, oid(0x1300) + b"\x02" + bytes(8), 1)
# --- 5.6 / 5.5 custom tables
ex("SETTAB custom table 1 = status_word, clock, active_import_wh", 114, b"\x01" + oid(0x003F) + oid(0x0100) + oid(0x0400), 5)
ex("GETTAB 1, plain", 30, b"\x01")
ex("GETTAB 1, read key", 130, b"\x01", 1)
# --- 5.9 RESETTAB
ex("RESETTAB contract1_power_w", 116, oid(0x0800), 5)
ex("RESETTAB group 0x09 (tariffs)", 116, b"\x09\xff", 5)
# --- 5.10 / 5.11 deferred
ex("SETIC contract1_power_w = 6000 W at 850003600", 140, struct.pack(">I", T0 + 3600) + oid(0x0800) + struct.pack(">I", 6000), 5)
ex("SETIC another object while one is pending → NACK 7", 140, struct.pack(">I", T0 + 3600) + oid(0x0801) + b"\x02", 5)
ex("COMMAND ic_cancel", 118, b"\x0b", 5)
ex("WRITETABIC public_holidays = Dec 25 every year, at 850003600", 142, struct.pack(">I", T0 + 3600) + oid(0x0A00) + b"\x00\x01" + bytes((12, 25, 0, 2)), 5)
# --- B-Node (RB3)
ex("WRITE bnode_message under RB3 → ACK B-node", 104, oid(0x1902) + b"Tariff 2 from 21h" + b" " * 15, 5, 11)
ex("WRITE unknown object under RB3 → NACK B-node 1", 104, oid(0x7777) + b"\x00", 5, 11)
# --- security layer answers (docs/smitp_security.md)
old_mon = m.sec.lmon
old, _ = seal_req(102, oid(0x003F), old_mon, 1)
c = Ctx(1, 7)
ans = bytes(m.al.handle(memoryview(old), c))
out.append({"title": "Replay of an old MON → NACK-auth (PAR1 10, LMON, ECB read key)", "ecc": 1,
            "mon": old_mon, "disc": 7, "req": old.hex(), "req_plain": oid(0x003F).hex(),
            "ans": ans.hex(), "ecc_out": c.ecc_out, "ans_plain": None, "lmon": m.sec.lmon,
            "note": "ECB with K2; layout in docs/smitp_security.md"})
chl = bytes((112,)) + b"\x00\x00" + bytes(range(0xA0, 0xB0))
c = Ctx(0, 7)
ans = bytes(m.al.handle(memoryview(chl), c))
out.append({"title": "CHALLENGE.REQ → CHALLENGE.RESP", "ecc": 0, "mon": None, "disc": 7,
            "req": chl.hex(), "req_plain": "", "ans": ans.hex(), "ecc_out": c.ecc_out,
            "ans_plain": None, "lmon": m.sec.lmon,
            "note": "T, LMON, TMAC: layout in docs/smitp_security.md"})
# --- one full frame through the MAC (docs/datalink.md §1)
buf = bytearray(200)
n = fr.encode(buf, ACA, 7, b"", 0, 1, 0, 1, 0, 0, b"\x02\x00\x3f")
m.mac.on_rx(bytes(buf[:n]), None, 0)
f = None
t = 0
while f is None and t < 1000:
    f = m.mac.poll(t)
    t += 5
out.append({"title": "Full frames: READ status_word, RA6, NOR, tag 1", "ecc": 0, "mon": None,
            "disc": 7, "req": bytes(buf[:n]).hex(), "req_plain": "", "ans": f.hex(),
            "ecc_out": 0, "ans_plain": None, "frame": True,
            "note": "The same READ as 9.1 as whole MAC frames (docs/datalink.md §1)."})
os.remove(path)
print(json.dumps(out))
"""


def run():
    return json.loads(run_mp(_RUN))


def _hex(h):
    return " ".join(h[i : i + 2] for i in range(0, len(h), 2)).upper()


def render(exs):
    out = [MARK, ""]
    w = out.append
    w("Generated by `tools/gen_smitp_examples.py` (`make docs`) from the firmware answering each")
    w("request, in this order, starting from a fresh meter; every example is checked by an")
    w("independent codec (tools/smitp_ref.py, host's branch; AES from `cryptography`). Inputs:")
    w("")
    w("- ACA (wire order) `01 02 03 04 05 06`")
    w("- K1 (write) `00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F`")
    w("- K2 (read) `10 11 12 13 14 15 16 17 18 19 1A 1B 1C 1D 1E 1F`")
    w("- meter clock 850000000 (2026-12-08 00:00:00 UTC) until the clock commands move it; the")
    w("  concentrator's DT = 850000000 (u64, LSB first); MON = LMON + 1")
    w("")
    w("Each block: `request_lsdu` / `answer_lsdu` = the LSDU on the wire (ATTR first, then")
    w(
        "ciphertext when ECC ≠ 0), `request_data` / `answer_data` = the DATA in clear (without ATTR,"
    )
    w("DT and TMAC), `*_ecc` = the frame's ECC, `discipline` = the request's CTL nibble (it sets")
    w("the answer size limit). CTR IV: `ACA | MON | 00 01` for the request, `ACA | MON | 80 01`")
    w("for the answer (docs/smitp_security.md). Every authenticated example is CTR: an ECB")
    w("(ECC 2/6) request needs an encrypted part of exactly 16 bytes, i.e. empty DATA, which no")
    w("message of §5 has; ECB appears in NACK-auth and CHALLENGE.RESP.")
    w("")
    for i, e in enumerate(exs, 1):
        title = "9.%d %s" % (i, e["title"])
        w("### " + title)
        w("")
        w("```")
        w("example: " + title)
        if e["mon"] is not None:
            w("mon: %d" % e["mon"])
        w("discipline: 0x%X" % e["disc"])
        side = "frame" if e.get("frame") else "lsdu"
        w("request_ecc: %d" % e["ecc"])
        w("request_%s: %s" % (side, _hex(e["req"])))
        if e["ecc"] and e["req_plain"]:
            w("request_data: " + _hex(e["req_plain"]))
        if e["ans"]:
            w("answer_ecc: %d" % e["ecc_out"])
            w("answer_%s: %s" % (side, _hex(e["ans"])))
            if e["ans_plain"] is not None:
                w("answer_data: " + (_hex(e["ans_plain"]) if e["ans_plain"] else "  # empty"))
        else:
            w("answer: none")
        if "lmon" in e:
            w("lmon: %d" % e["lmon"])
        w("```")
        if e["note"]:
            w("")
            w(e["note"])
        w("")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/smitp.md is stale")
    ap.add_argument("--json", help="also write the examples as JSON here")
    a = ap.parse_args(argv)
    exs = run()
    doc = DOC.read_text()
    head = doc[: doc.index(MARK)]
    text = head + render(exs)
    if a.json:
        Path(a.json).write_text(json.dumps(exs, indent=1))
    return write_or_check(DOC, text, a.check)


if __name__ == "__main__":
    sys.exit(main())
