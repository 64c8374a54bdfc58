"""`make sim-upgrade`: a new software version to every meter of a simulated section.

    python tools/sim_upgrade.py [--meters 20] [--levels 3] [--seed 1] [--bs 96] [--gap-ms 0]

The section of tools/sim.py (medium thread with the PHY's frame-loss curve, one MicroPython
process per meter running the factory tree), discovery, then `tools/dcu_upgrade.Upgrade` with
the unix_sim tree packed as version factory + 1: download_start, REPROG_BROADCAST along every
route, gap filling per meter, activation (a day ahead). Prints the
simulated time until every meter holds the verified image and accepted its activation, against
the lower bound image size / 4800 bit/s, and the frames sent. The reboot into the image is not
simulated on the medium (tools/medium.py takes nodes only at start; a unix_sim meter leaves its
process on reset): host_tests/py/test_dl_upgrade.py covers it on a direct link.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import concentrator as dcu  # noqa: E402
from tools import dl_pack, sim  # noqa: E402
from tools import topology as topogen  # noqa: E402
from tools.build_mpy import build  # noqa: E402
from tools.dcu_upgrade import Upgrade  # noqa: E402
from tools.medium import FerCurve, Topology  # noqa: E402
from tools.mpenv import ROOT  # noqa: E402

FACTORY_VERSION = 2
KEY_DOWNLOAD = bytes(range(0x20, 0x30))  # config.py's demo download key: every sim meter's
NET_BPS = 4800
FAR_AHEAD_S = 0xFFFFFFF0  # activation time no simulated run reaches


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--meters", type=int, default=20)
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bs", type=int, default=96)
    ap.add_argument("--gap-ms", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "build" / "sim_upgrade"))
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tree = build("unix_sim", out_root=out / "tree")
    image = dl_pack.pack(tree, "unix_sim", FACTORY_VERSION + 1, KEY_DOWNLOAD)
    topo = Topology(topogen.generate(a.meters, a.levels, a.seed))
    sec = sim.Section(topo, out, a.seed, medium_kw={"curve": FerCurve.load()}, keys=True)
    keyfile = sim.write_keyfile(topo, a.seed, out / "keys.json")
    keys = dcu.KeyFile.load(keyfile)
    wall0 = time.monotonic()
    link = None
    try:
        sec.start()
        link = sec.master_link()
        c = dcu.Concentrator(link, topo.master().aca, dcu.Options())
        c.discover()
        state = dcu.State(None)
        sessions = [
            dcu.MeterSession(c, n.aca, n.path, keys.for_meter(n.aca), state)
            for n in (c.nodes[x] for x in c.order)
        ]
        t0 = link.now_ms()
        up = Upgrade(c, sessions, image, KEY_DOWNLOAD, a.bs, a.gap_ms)
        up.start()
        up.broadcast()
        t_bcast = link.now_ms() - t0
        # activation a day ahead: the medium cannot take a meter process back after its reset
        # (tools/medium.py accepts nodes only at start), so the reboot is not simulated here
        up.activate(FAR_AHEAD_S)
        t_ms = link.now_ms() - t0
        res = up.result
        link.close()
        link = None
    finally:
        if link is not None:
            link.close()
        sec.stop()
    bound = len(image) * 8 / NET_BPS
    for aca, r in res.items():
        print(f"  {aca}: {r['error'] or r['state']}")
    summary = {
        "meters": a.meters,
        "levels": a.levels,
        "discovered": len(sessions),
        "image_bytes": len(image),
        "blocks": up.n,
        "sim_s": round(t_ms / 1000, 1),
        "bound_s": round(bound, 1),
        "ratio": round(t_ms / 1000 / bound, 2),
        "frames": up.frames,
        "broadcast_s": round(t_bcast / 1000, 1),
        "wall_s": round(time.monotonic() - wall0, 1),
        "ready_and_activated": sum(1 for r in res.values() if r["state"] == "activating"),
    }
    (out / "upgrade.json").write_text(json.dumps({"summary": summary, "meters": res}, indent=1))
    print(json.dumps(summary))
    return 0 if summary["ready_and_activated"] == len(sessions) == a.meters else 1


if __name__ == "__main__":
    sys.exit(main())
