"""Decoding of the profile, daily-snapshot and billing records the concentrator reads, written
from docs/profiles.md and docs/tariffs.md (never from firmware/): one dict per record.

    decode_records("load_profile", records)  -> [{"time": ..., "status": [...], ...}, ...]
"""

from __future__ import annotations

import struct

from tools.dcu_registers import format_time

# docs/profiles.md §2: the status byte, bit -> name
STATUS_BITS = {
    7: "PDN",
    6: "PAR",
    5: "CAD",
    4: "OVF",
    3: "DST",
    2: "DNV",
    1: "CIV",
    0: "ERR",
}

# docs/profiles.md §1: table name -> (record size, struct format, field names after TIME)
LAYOUTS = {
    "load_profile": (14, ">IBBHHHH", ("status", "channels", "a_plus_wh", "a_minus_wh",
                                      "r_plus_varh", "r_minus_varh")),
    "measurand_profile": (14, ">IBBHHi", ("status", "channels", "v_dv", "i_ca", "p_w")),
    "daily_snapshot": (46, ">IBB10I", ("status", "tariff", "a_plus_wh", "a_minus_wh",
                                       "q1_varh", "q2_varh", "q3_varh", "q4_varh",
                                       "t1_wh", "t2_wh", "t3_wh", "t4_wh")),
}  # fmt: skip

# docs/tariffs.md: billing data set TIME CAUSE A+ A- T1..T4 (MD_W MD_TIME) x 4
_BILLING = ">IB6I8I"
_BILLING_SIZE = struct.calcsize(_BILLING)


def status_names(b: int) -> list[str]:
    return [name for bit, name in sorted(STATUS_BITS.items(), reverse=True) if b >> bit & 1]


def decode_profile(table: str, rec: bytes) -> dict:
    size, fmt, names = LAYOUTS[table]
    if len(rec) != size:
        raise ValueError(f"{table}: record of {len(rec)} bytes, the layout has {size}")
    v = struct.unpack(fmt, rec)
    out = {"t": v[0], "time": format_time(v[0])}
    out.update(zip(names, v[1:]))
    out["flags"] = status_names(out["status"])
    return out


def decode_billing(rec: bytes) -> dict:
    if len(rec) != _BILLING_SIZE:
        return {"hex": rec.hex()}
    v = struct.unpack(_BILLING, rec)
    md = [{"w": v[8 + 2 * k], "t": v[9 + 2 * k]} for k in range(4)]
    return {
        "t": v[0],
        "time": format_time(v[0]),
        "cause": v[1],
        "a_plus_wh": v[2],
        "a_minus_wh": v[3],
        "tariff_wh": list(v[4:8]),
        "max_demand": md,
    }


def decode_records(table: str, records) -> list[dict]:
    if table == "billing_data":
        return [decode_billing(bytes(r)) for r in records]
    return [decode_profile(table, bytes(r)) for r in records]
