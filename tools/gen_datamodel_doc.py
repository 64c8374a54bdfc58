"""Generate docs/datamodel.md from the firmware's register table (`make docs`).

The table is read by running Unix MicroPython on firmware/lib/datamodel (the firmware is the one
definition); this script only renders it. `--check` exits 1 when the committed file is stale
(host_tests/py/test_datamodel_doc.py runs it).
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools.docgen import run_mp, write_or_check  # noqa: E402
from tools.mpenv import ROOT  # noqa: E402

OUT = ROOT / "docs" / "datamodel.md"

# Runs under MicroPython: one JSON document with everything the page shows.
_DUMP = r"""
import json
from datamodel import registers as r, values as v, events as ev
from smitp import commands as c

def rule(x):
    if x is None:
        return None
    if isinstance(x, tuple):
        return ["range", x[0], x[1]]
    if isinstance(x, bytes):
        return ["enum"] + list(x)
    return ["fn", x.__name__]

def dflt(row):
    if row[5] == r.P or row[5] == r.T:
        return r.default_bytes(row).hex()
    return None

rows = []
for row in r.TABLE:
    rows.append([row[0], row[1], v.NAMES[row[2]], row[3], row[4], row[5],
                 row[6] if row[5] in (r.L, r.T) else None, dflt(row), rule(row[8]), row[9]])
bits = {}
for k in dir(r):
    if k.startswith("SW_") or k.startswith("XS_"):
        bits[k] = getattr(r, k)
cmds = [[k, c.COMMANDS[k][0], c.COMMANDS[k][1]] for k in sorted(c.COMMANDS)]
evs = [[k, ev.NAMES[k]] for k in sorted(ev.NAMES)]
groups = [[k, r.GROUPS[k]] for k in sorted(r.GROUPS)]
print(json.dumps({"rows": rows, "bits": bits, "cmds": cmds, "events": evs, "groups": groups,
                  "blocks": [list(b) for b in r.BLOCKS]}))
"""

_RULES = {
    "time_or_zero": "0, or 2020-01-01 .. 2099-12-31",
    "_ids_known": "object ids that exist, are readable and are not tables or keys",
    "_custom_ok": "as display_list, values ≤ 110 bytes in total",
    "_tariff_rec": "PROG x 16 + DAYTYPE 0..3, HOUR 0..23, MINUTE 0..59, TARIFF 1..4",
    "_season_rec": "valid MONTH/DAY (Feb 29 allowed), PROG 0..15, PLAN 0..15",
    "_holiday_rec": "valid MONTH/DAY, YEAR 0..99, DAYTYPE 0..3",
}
_KIND = {0: "P", 1: "M", 2: "F", 3: "L", 4: "T"}


def dump():
    return json.loads(run_mp(_DUMP))


def _access(acc):
    if acc & 1:
        r = "CLEAR"
    elif acc & 2:
        r = "KEY_R"
    else:
        r = "-"
    if acc & 8:
        r += " M"
    w = "KEY_W" if acc & 4 else "-"
    return r + " / " + w


def _rule(rule):
    if rule is None:
        return ""
    if rule[0] == "range":
        return "%d..%d" % (rule[1], rule[2])
    if rule[0] == "enum":
        return "one of " + ", ".join(str(x) for x in rule[1:])
    return _RULES[rule[1]]


def _default(row):
    d = row[7]
    if d is None:
        return ""
    if row[2] == "ascii":
        t = bytes.fromhex(d).decode()
        return "spaces" if not t.strip() else "`%s`" % t
    if row[2] in ("u8", "u16", "u32", "u64", "time"):
        return str(int(d, 16))
    if row[2] in ("i16", "i32"):
        n = len(d) * 4
        v = int(d, 16)
        return str(v - (1 << n) if v >> (n - 1) else v)
    return "`%s`" % d if d else "(empty)"


def render(data):
    out = []
    w = out.append
    w("# Data model (generated: `make docs`, from firmware/lib/datamodel/registers.py)")
    w("")
    w("Do not edit: `tools/gen_datamodel_doc.py` writes this page from the firmware's register")
    w("table, and a test fails when it is stale. Object ids, layouts, rules and defaults other")
    w("than 0x003F = Status Word (public, facts §3) are **our choices**; CLC/TS 50568-8 clauses")
    w("9–10 are not public. Messages that read and write them: `docs/smitp.md`.")
    w("")
    w("- **id**: 2 bytes, big-endian on the wire; the high byte is the group.")
    w("- **type**: u8/u16/u32/u64, i16/i32 (two's complement), time (u32 seconds since")
    w("  2000-01-01 00:00:00 UTC), ascii (fixed size, printable, space padded), bytes (fixed),")
    w("  objlist (0..size bytes: object ids, 2 bytes each), key (16 bytes, write-only), log and")
    w("  table (records of *size* bytes; READ gives the 9-byte header of docs/smitp.md §4). All")
    w("  integers big-endian.")
    w("- **access**: read right / write right (docs/smitp.md §3). CLEAR = plain or any key,")
    w("  KEY_R = read or write key, `-` = never; KEY_W = write key; M = metering data, KEY_R")
    w("  when `reading_mode` bit 0 is set.")
    w("- **kind**: P parameter persisted in the store (one store value per group), M metering")
    w("  state (RAM `meter.metering`, datamodel/metering.py offsets; its producer is the metering")
    w("  code, and it reads 0 until then), F computed from live")
    w("  objects, L log table (ring, capacity in *cap*), T parameter table (WRITETAB).")
    w("- **rule**: what WRITE/SETIC/WRITETAB accept (else NACK 6); a wrong length is NACK 3.")
    w("")
    groups = dict((g, n) for g, n in data["groups"])
    cur = None
    for row in data["rows"]:
        g = row[0] >> 8
        if g != cur:
            cur = g
            w("")
            w("## 0x%02Xxx %s" % (g, groups[g]))
            w("")
            w("| id | name | type | size | cap | access | kind | default | rule | content |")
            w("|---|---|---|---|---|---|---|---|---|---|")
        cap = "" if row[6] is None else str(row[6])
        w(
            "| 0x%04X | %s | %s | %d | %s | %s | %s | %s | %s | %s |"
            % (
                row[0],
                row[1],
                row[2],
                row[3],
                cap,
                _access(row[4]),
                _KIND[row[5]],
                _default(row),
                _rule(row[8]),
                row[9],
            )
        )
    w("")
    w("## Status word (0x003F) and extended status (0x0040)")
    w("")
    w("u64 big-endian; bit n has the value 1 << n.")
    w("")
    w("| word | bit | name |")
    w("|---|---|---|")
    for name, v in sorted(data["bits"].items(), key=lambda kv: (kv[0][:2], kv[1])):
        word = "0x003F" if name.startswith("SW_") else "0x0040"
        w("| %s | %d | %s |" % (word, v.bit_length() - 1, name[3:].lower()))
    w("")
    w("## Events (event_log 0x1300 record: TIME(4) CODE(2) DATA(2))")
    w("")
    w("| code | event |")
    w("|---|---|")
    for code, name in data["events"]:
        w("| 0x%04X | %s |" % (code, name))
    w("")
    w("DATA: clock_set/clock_adjust the step in seconds (i16, clamped); deferred_activation,")
    w("reset_defaults, table_programmed, parameter_written the object id; key_changed 1 write,")
    w("2 read; billing_close the new billing_count; contract_switch the new plan; boot the")
    w("boot count; event_log_cleared the number of records dropped; else 0.")
    w("")
    w("## COMMAND codes (docs/smitp.md §5.12)")
    w("")
    w("| code | name | argument bytes |")
    w("|---|---|---|")
    for code, name, n in data["cmds"]:
        w("| 0x%02X | %s | %d |" % (code, name, n))
    w("")
    w("## Storage")
    w("")
    w(
        "Parameter blocks (store key 0x0100 + group, bytes): "
        + ", ".join("0x%02X: %d" % (g, n) for g, n in data["blocks"])
        + ". A block is written only when one of its values changes; until then the defaults"
    )
    w("apply. A stored value that no longer passes its rule (e.g. after a firmware update) is")
    w("replaced by its default at start. Log tables: chunks of ≤ 96 ring bytes under 0x0200 +")
    w("8 × table + chunk; parameter tables one value each; the pending activation under 0x0300.")
    w("")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/datamodel.md is stale")
    a = ap.parse_args(argv)
    return write_or_check(OUT, render(dump()), a.check)


if __name__ == "__main__":
    sys.exit(main())
