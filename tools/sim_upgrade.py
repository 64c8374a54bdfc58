"""`make sim-upgrade`: a new software version to every meter of a simulated section.

    python tools/sim_upgrade.py [--meters 20] [--levels 3] [--seed 1] [--bs 112] [--gap-ms 0]
                                [--broken]

The section of tools/sim.py (medium thread with the PHY's frame-loss curve, one MicroPython
process per meter running the factory tree; a meter that resets is started again on its flash
and rejoins the medium), discovery, then `tools/dcu_upgrade.Upgrade` with the unix_sim tree
packed as version factory + 1: download_start, REPROG_BROADCAST, gap filling per meter,
activation at once, the resets into the new image, and running_image (0x1006) read back from
every meter through the application layer (that read is also what the trial image must hear to
confirm itself), then read again to show it confirmed. Prints the per-meter table (version,
slot, state), the simulated time until every meter runs the new version against the lower
bound image size / 4800 bit/s, and the frames sent.

--broken packs an image whose CMAC is wrong (smitp/crypto.py with a bug): its selftest fails on
the first boot, and every meter must roll back to the factory tree by itself.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import concentrator as dcu  # noqa: E402
from tools import dl_pack, flood_model, sim  # noqa: E402
from tools import smitp_ref as ref  # noqa: E402
from tools import topology as topogen  # noqa: E402
from tools.build_mpy import build  # noqa: E402
from tools.dcu_session import NoAnswer, Refused  # noqa: E402
from tools.dcu_upgrade import Upgrade, table  # noqa: E402
from tools.medium import FerCurve, Topology  # noqa: E402
from tools.mpenv import ROOT  # noqa: E402

FACTORY_VERSION = 2
KEY_DOWNLOAD = bytes(range(0x20, 0x30))  # config.py's demo download key: every sim meter's
NET_BPS = 4800
BOOT_WAIT_MS = 30_000  # after the last activation: resets, boots, selftests (simulated)
CONFIRM_WAIT_MS = 5_000  # between the read that confirms a trial image and the read showing it


class NormalReads:
    """The meters' status words, one meter after the other (authenticated, read key), read
    between flood blocks: the download must leave the medium to normal reads."""

    def __init__(self, sessions):
        self.sessions = sessions
        self.ok = self.failed = 0

    def __call__(self):
        s = self.sessions[(self.ok + self.failed) % len(self.sessions)]
        try:
            s.status(ref.ECC_CTR_READ)
            self.ok += 1
        except (NoAnswer, Refused, ref.SmitpError):
            self.failed += 1


class Progress:
    """One line now and then (the log of a long run says how far it got)."""

    def __init__(self, link):
        self.link = link
        self.wall0 = time.monotonic()
        self.count = {}

    def __call__(self, kind, **kw):
        n = self.count[kind] = self.count.get(kind, 0) + 1
        if kind == "block" and kw["n"] % 200 and kw["n"] != kw["total"]:
            return
        if kind != "block" and n % 20:
            return
        what = f"{kw['n']}/{kw['total']}" if kind == "block" else f"{n}"
        print(
            f"  {kind} {what}: simulated {self.link.now_ms() / 1000:.0f} s,"
            f" wall {time.monotonic() - self.wall0:.0f} s",
            flush=True,
        )


def known_map(topo):
    """The network map a concentrator keeps between operations, instead of a discovery: each
    meter's route along the shortest paths of the topology, a meter's repeater the node of the
    level above with the strongest bottleneck SNR that hears it (what discovery's BFS order
    finds; tools/flood_model.routes). [(ACA, [repeater ACAs])], level by level."""
    parent, level = flood_model.routes(topo)
    m = topo.master().id
    out = []
    for n in sorted((n for n in level if n != m), key=lambda n: (level[n], n)):
        path, r = [], parent[n]
        while r != m:
            path.insert(0, topo.nodes[r].aca)
            r = parent[r]
        out.append((topo.nodes[n].aca, path))
    return out


def break_selftest(tree: Path):
    """Make `tree` an image that fails its selftest: the CMAC subkey doubling of its
    smitp/crypto takes the wrong bit, so every MAC (and the selftest's RFC 4493 vectors) is
    wrong. Verification of the image does not use it (the loader's crypto is the factory's)."""
    import subprocess

    from tools.mpenv import mpy_cross_exe

    src = (ROOT / "firmware/lib/smitp/crypto.py").read_text()
    bug = "msb = inp[0] >> 7"
    if bug not in src:
        raise RuntimeError("smitp/crypto.py changed: update break_selftest")
    tmp = tree / "crypto_broken.py"
    tmp.write_text(src.replace(bug, "msb = inp[0] >> 6"))
    out = tree / "lib/smitp/crypto.mpy"
    cmd = [mpy_cross_exe(), "-march=x64", "-O1", "-s", "smitp/crypto.py", "-o", str(out)]
    subprocess.run(cmd + [str(tmp)], check=True)
    tmp.unlink()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--meters", type=int, default=20)
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--bs", type=int, default=112, help="block size (16..112, x8)")
    ap.add_argument("--gap-ms", type=int, default=0)
    ap.add_argument("--broken", action="store_true", help="an image failing its selftest")
    ap.add_argument(
        "--known-map",
        action="store_true",
        help="the concentrator knows the routes (shortest paths of the topology): no discovery",
    )
    ap.add_argument("--read-every", type=int, default=50, help="a normal read every N blocks")
    ap.add_argument("--out", default=str(ROOT / "build" / "sim_upgrade"))
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tree = build("unix_sim", out_root=out / "tree")
    if a.broken:
        break_selftest(tree)
    image = dl_pack.pack(tree, "unix_sim", FACTORY_VERSION + 1, KEY_DOWNLOAD)
    topo = Topology(topogen.generate(a.meters, a.levels, a.seed))
    # 200 processes start slowly on a loaded machine: generous wall-time limits
    kw = {"curve": FerCurve.load(), "connect_timeout_s": 900, "node_timeout_s": 300}
    sec = sim.Section(topo, out, a.seed, medium_kw=kw, keys=True, restart=True)
    keyfile = sim.write_keyfile(topo, a.seed, out / "keys.json")
    keys = dcu.KeyFile.load(keyfile)
    wall0 = time.monotonic()
    link = None
    try:
        sec.start()
        link = sec.master_link()
        c = dcu.Concentrator(link, topo.master().aca, dcu.Options(), progress=Progress(link))
        if a.known_map:
            paths = known_map(topo)
        else:
            c.discover()
            paths = [(n.aca, n.path) for n in (c.nodes[x] for x in c.order)]
        print(
            f"  {len(paths)} meters {'mapped' if a.known_map else 'discovered'}:"
            f" simulated {link.now_ms() / 1000:.0f} s",
            flush=True,
        )
        state = dcu.State(None)
        sessions = [
            dcu.MeterSession(c, aca, path, keys.for_meter(aca), state) for aca, path in paths
        ]
        t0 = link.now_ms()
        reads = NormalReads(sessions)
        up = Upgrade(
            c,
            sessions,
            image,
            KEY_DOWNLOAD,
            a.bs,
            a.gap_ms,
            progress=Progress(link),
            between=reads,
            every=a.read_every,
        )
        up.start()
        t_start = link.now_ms() - t0
        up.broadcast()
        t_bcast = link.now_ms() - t0
        up.activate(0)  # at once: every meter resets ~2 s after the last activate copy
        t_act = link.now_ms() - t0
        up.wait(BOOT_WAIT_MS)
        up.check()  # the trial image hears the concentrator: it confirms
        if up.late:  # missed the broadcast activate: the sealed one went out in check()
            late = up.late
            up.wait(BOOT_WAIT_MS)
            up.check(late)
        t_ms = link.now_ms() - t0
        up.wait(CONFIRM_WAIT_MS)
        res = up.check()
        link.close()
        link = None
        med = sec.finish()
        restarts = dict(sec.restarts)
    finally:
        if link is not None:
            link.close()
        sec.stop()
    bound = len(image) * 8 / NET_BPS
    # the same tree as a format-1 image (no file deflated): the bound of the uncompressed tree
    bound1 = len(dl_pack.pack(tree, "unix_sim", FACTORY_VERSION + 1, KEY_DOWNLOAD, fmt=1)) * 8
    bound1 /= NET_BPS
    print(table(res, up.version))
    want = FACTORY_VERSION if a.broken else up.version
    ok = [r for r in res.values() if r.get("version") == want and not r.get("trial")]
    tx = dict((med or {}).get("tx_by_node", {}))
    conc = tx.pop(topo.master().id, 0)
    summary = {
        "meters": a.meters,
        "levels": a.levels,
        "broken": a.broken,
        "discovered": len(sessions),
        "known_map": a.known_map,
        "image_bytes": len(image),
        "blocks": up.n,
        "sim_s": round(t_ms / 1000, 1),
        "bound_s": round(bound, 1),
        "ratio": round(t_ms / 1000 / bound, 2),
        "bound_format1_s": round(bound1, 1),
        "ratio_format1": round(t_ms / 1000 / bound1, 2),
        "start_s": round(t_start / 1000, 1),
        "bcast_copies_s": round(up.copies_ms / 1000, 1),
        "erase_polls": up.erase_polls,
        "broadcast_s": round(t_bcast / 1000, 1),
        "activated_s": round(t_act / 1000, 1),
        "relays": up.relays,
        "flood_passes": up.passes,
        "plans": [dict(q, colours={str(k): v for k, v in q["colours"].items()}) for q in up.plans],
        "neighbour_tables": sum(1 for h in up.heard.values() if h),
        "normal_reads_during_flood": {"ok": reads.ok, "failed": reads.failed},
        "frames": up.frames,
        "frames_concentrator": conc,
        "frames_meters": sum(tx.values()),
        "restarts": sum(restarts.values()),
        "wall_s": round(time.monotonic() - wall0, 1),
        ("rolled_back" if a.broken else "running_new"): len(ok),
    }
    (out / "upgrade.json").write_text(json.dumps({"summary": summary, "meters": res}, indent=1))
    print(json.dumps(summary))
    return 0 if len(ok) == len(sessions) == a.meters else 1


if __name__ == "__main__":
    sys.exit(main())
