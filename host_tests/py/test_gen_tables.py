"""tools/gen_tables.py: the committed table literals (crc.py, phy/tables.py) are exactly what
the generator produces, and the PHY ones equal what the firmware's own float definitions give
on the unix port (the import-time computation they replace)."""

import json
import subprocess

from tools import gen_tables
from tools.mpenv import ROOT, micropython_exe, mp_env

MP = r"""
import json, math
from phy import tables as T
from phy import profile
taps = [int(round(4096 * T.rrc((j - T.TAP_PRE - p / T.NPH) / profile.RX_SPS)))
        for p in range(T.NPH) for j in range(T.NTAP)]
cos = [int(round(16384 * math.cos(2 * math.pi * i / 256))) for i in range(256)]
n = 2 * profile.TX_SPS
ramp = [int(round(32767 * 0.5 * (1 - math.cos(math.pi * (i + 0.5) / n)))) for i in range(n)]
print(json.dumps({"float": [taps, cos, ramp],
                  "tables": [list(T.MF_TAPS), list(T.COS256), list(T.RAMP)]}))
"""


def test_generator_reproduces_the_committed_tables():
    assert gen_tables.main([]) == 0


def test_generated_phy_tables_equal_the_float_definitions():
    p = subprocess.run(
        [micropython_exe(), "-c", MP],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["tables"] == r["float"]
    d = gen_tables.phy_defs()
    assert len(r["tables"][0]) == d["NPH"] * d["NTAP"] == 640
