"""`make sim`: a simulated LV section — the medium, one MicroPython process per meter, and the
concentrator discovering the network, reading every meter's status word, then (authenticated)
its status word, its clock and its active import energy.

    python tools/sim.py [--meters 20] [--levels 3] [--seed 1] [--topology T.json] [--out build/sim]

Writes build/sim/topology.json, network.json (route table + readings + medium statistics),
network.svg (map; network.png too when matplotlib is installed) and one folder per meter under
build/sim/nodes/ (config, log, flash).
Prints the route table, then simulated and wall time, frames sent and collisions. Child
processes are always terminated on exit, Ctrl-C or when --max-wall-s runs out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tools import concentrator as dcu  # noqa: E402
from tools import topology as topogen  # noqa: E402
from tools.medium import FerCurve, Topology, serve_in_thread  # noqa: E402
from tools.mpenv import ROOT, micropython_exe, mp_env  # noqa: E402


def meter_keys(seed, aca: bytes):
    """Per-meter AES keys of the simulation, derived from the seed and the ACA (reproducible)."""
    import hashlib

    h = hashlib.sha256(b"mm-sim-keys|%d|" % seed + bytes(aca)).digest()
    return {"key_write": h[:16].hex(), "key_read": h[16:].hex()}


def meter_config(node, medium_port, state_dir, seed, extra=None):
    cfg = {
        "aca": node.aca.hex(),
        "serial": "MM%010d" % int(node.id[1:]) if node.id[1:].isdigit() else "MM" + node.id,
        "phase": node.phase if node.phase in (1, 2, 3) else 1,
        "state_dir": str(state_dir),
        "medium": f"127.0.0.1:{medium_port}",
        "seed": seed,
        "scenario_seed": seed,  # each meter its own household (docs/scenarios.md)
    }
    if extra:
        cfg.update(extra)
    return cfg


def write_keyfile(topo, seed, path: Path):
    """The concentrator's key file (docs/concentrator.md) for every meter of the section."""
    meters = {
        n.aca.hex(): meter_keys(seed, n.aca) for n in topo.nodes.values() if n.role == "meter"
    }
    path.write_text(json.dumps({"meters": meters}, indent=1))
    os.chmod(path, 0o600)
    return path


class Section:
    """The running simulation: medium thread + meter processes. Use as a context manager."""

    RESET_EXIT = 3  # a unix_sim meter leaves its process with this code on reset (app.py)

    def __init__(
        self,
        topo: Topology,
        out: Path,
        seed=1,
        meter_cfg=None,
        medium_kw=None,
        keys=False,
        restart=False,
    ):
        self.keys = keys  # True: every meter gets its own meter_keys(seed, aca)
        # restart: a meter process that resets (exit 3) is started again on the same state dir
        # and rejoins the medium (which holds simulated time meanwhile: Medium rejoin_s)
        self.restart = restart
        self.restarts = {}  # node id -> times restarted
        self._cmd = {}
        self._watch = None
        self._stopping = False
        self.topo = topo
        self.out = Path(out)
        self.seed = seed
        self.meter_cfg = meter_cfg or {}
        self.medium_kw = medium_kw or {}
        self.procs = {}
        self.logs = []
        self.medium = None
        self.thread = None

    def start(self):
        nodes_dir = self.out / "nodes"
        shutil.rmtree(nodes_dir, ignore_errors=True)  # fresh flash: TCT etc. start at defaults
        nodes_dir.mkdir(parents=True)
        kw = dict(self.medium_kw)
        kw.setdefault("seed", self.seed)
        if self.restart:
            kw.setdefault("rejoin_s", 120.0)
        self.medium, self.thread = serve_in_thread(self.topo, **kw)
        env = mp_env()
        exe = micropython_exe()
        for i, node in enumerate(sorted(self.topo.nodes.values(), key=lambda n: n.id)):
            if node.role != "meter":
                continue
            d = nodes_dir / node.id
            d.mkdir()
            extra = dict(self.meter_cfg)
            if self.keys:
                extra.update(meter_keys(self.seed, node.aca))
            cfg = meter_config(node, self.medium.port, d, self.seed * 1000 + i, extra)
            (d / "meter.json").write_text(json.dumps(cfg, indent=1))
            log = open(d / "log.txt", "w")  # noqa: SIM115
            self.logs.append(log)
            self._cmd[node.id] = (
                [exe, str(ROOT / "firmware" / "main.py"), "--config", str(d / "meter.json")],
                log,
            )
            self.procs[node.id] = self._spawn(node.id, env)
        if self.restart:
            self._watch = threading.Thread(target=self._restarter, args=(env,), daemon=True)
            self._watch.start()
        return self

    def _spawn(self, node_id, env):
        argv, log = self._cmd[node_id]
        return subprocess.Popen(
            argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )

    def _restarter(self, env):
        """Start a meter again after its reset, as the board's reset would (same flash)."""
        while not self._stopping:
            for nid, p in list(self.procs.items()):
                if p.poll() == self.RESET_EXIT and not self._stopping:
                    self.restarts[nid] = self.restarts.get(nid, 0) + 1
                    self.procs[nid] = self._spawn(nid, env)
            time.sleep(0.05)

    def master_link(self):
        m = self.topo.master()
        return dcu.MediumLink("127.0.0.1", self.medium.port, m.aca)

    def finish(self, timeout_s=20):
        """Wait for the medium to stop (after the master's QUIT) and collect its statistics."""
        if self.thread is not None:
            self.thread.join(timeout_s)
        return self.medium.result if self.medium else None

    def stop(self):
        self._stopping = True
        if self._watch is not None:
            self._watch.join(5)
        for p in self.procs.values():
            if p.poll() is None:
                p.terminate()
        t_end = time.monotonic() + 5
        for p in self.procs.values():
            try:
                p.wait(max(0.1, t_end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.medium is not None and self.medium.listener is not None:
            try:
                self.medium.listener.close()
            except OSError:
                pass
        for f in self.logs:
            f.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def compare(result, topo: Topology):
    """Discovered routes vs the topology's ground truth (BFS hop counts over its links)."""
    truth = topo.hops_from_master()
    names = {n.aca.hex(): n.id for n in topo.nodes.values()}
    found = {names.get(n["aca"], n["aca"]): n for n in result["nodes"]}
    meters = [n.id for n in topo.nodes.values() if n.role == "meter"]
    reachable = [m for m in meters if m in truth]
    bad_paths = []
    longer = []
    for mid, n in found.items():
        ids = [topo.master().id] + [names.get(p, p) for p in n["path"]] + [mid]
        if any(topo.link(a, b) is None for a, b in zip(ids, ids[1:])):
            bad_paths.append(mid)
        elif mid in truth and n["hops"] > truth[mid]:
            longer.append(mid)
    return {
        "meters": len(meters),
        "reachable": len(reachable),
        "discovered": len([m for m in reachable if m in found]),
        "missed": sorted(set(reachable) - set(found)),
        "invalid_paths": sorted(bad_paths),
        "longer_than_shortest": sorted(longer),
        "status_read": sum(1 for n in result["nodes"] if n["status"] not in (None, "no answer")),
        "auth_status_read": sum(1 for n in result["nodes"] if "flags" in (n["auth_status"] or {})),
        "clocks_synced": sum(1 for n in result["nodes"] if isinstance(n["clock_step_s"], int)),
        "energy_read": sum(1 for n in result["nodes"] if isinstance(n.get("import_wh"), int)),
    }


def _cutoff_demo(c, keys):
    """The first meter found: relay_disconnect, relay_reconnect_enable (docs/cutoff.md)."""
    from tools.dcu_cutoff import disconnect_and_enable
    from tools.dcu_session import MeterSession

    aca = c.order[0]
    s = MeterSession(c, aca, c.nodes[aca].path, keys.for_meter(aca))
    return {"meter": aca.hex(), "steps": disconnect_and_enable(s)}


def main(argv=None):
    ap = argparse.ArgumentParser(description="simulated LV section: discovery and reading")
    ap.add_argument("--meters", type=int, default=20)
    ap.add_argument("--levels", type=int, default=3, help="repeater levels in the generated net")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--topology", help="use this topology JSON instead of generating one")
    ap.add_argument("--out", default=str(ROOT / "build" / "sim"))
    ap.add_argument("--max-wall-s", type=float, default=1800.0)
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.add_argument(
        "--cutoff", action="store_true", help="then disconnect the first meter and enable it"
    )
    dcu.add_arguments(ap)
    a = ap.parse_args(argv)
    if not a.topology and a.meters < 1:
        ap.error("--meters must be at least 1")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.topology:
        topo_d = json.loads(Path(a.topology).read_text())
    else:
        topo_d = topogen.generate(a.meters, a.levels, a.seed)
    (out / "topology.json").write_text(json.dumps(topo_d, indent=1))
    topo = Topology(topo_d)
    n_meters = sum(1 for n in topo.nodes.values() if n.role == "meter")
    depth = max(topo.hops_from_master().values())
    curve = FerCurve.load()
    print(
        f"sim: {n_meters} meters, {depth - 1} repeater levels, {len(topo.links)} links,"
        f" FER curve {curve.source}; "
        f"starting the medium and {n_meters} micropython processes",
        flush=True,
    )

    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    wall0 = time.monotonic()
    sec = Section(topo, out, a.seed, medium_kw={"curve": curve}, keys=True)
    keyfile = write_keyfile(topo, a.seed, out / "keys.json")
    link = None
    timer = None
    result = None
    cutoff = None
    try:
        sec.start()
        link = sec.master_link()

        def watchdog():
            print(f"\nsim: wall-time limit {a.max_wall_s:.0f} s reached, stopping", flush=True)
            try:
                link.sock.shutdown(2)
            except OSError:
                pass

        timer = threading.Timer(a.max_wall_s, watchdog)
        timer.daemon = True
        timer.start()
        bar = dcu.ProgressBar(n_meters, enabled=not a.quiet)
        c = dcu.Concentrator(link, topo.master().aca, dcu.build_options(a), bar)
        wall_disc = time.monotonic()
        try:
            c.discover()
            wall_disc = time.monotonic() - wall_disc
            if c.o.read_status:
                c.read_all()
                # final step: status word authenticated (read key), clock set (write key)
                c.secure_all(dcu.KeyFile.load(keyfile), energy=True)
            if a.cutoff and c.order:
                cutoff = _cutoff_demo(c, dcu.KeyFile.load(keyfile))
        finally:
            bar.close()
        link.close()
        link = None
        med = sec.finish()
        result = c.result()
        result["medium"] = med
        result["wall_s"] = round(time.monotonic() - wall0, 2)
        result["wall_discovery_s"] = round(wall_disc, 2)
        result["ground_truth"] = compare(result, topo)
        if cutoff is not None:
            result["cutoff"] = cutoff
    except KeyboardInterrupt:
        print("\nsim: interrupted", flush=True)
        return 130
    except ConnectionError as e:
        print(f"\nsim: stopped: {e}", flush=True)
        return 1
    finally:
        if timer is not None:
            timer.cancel()
        if link is not None:
            link.close()
        sec.stop()

    names = {n.aca.hex(): n.id for n in topo.nodes.values()}
    print(dcu.table(result, names))
    (out / "network.json").write_text(json.dumps(result, indent=1))
    from tools.netmap import draw, draw_svg

    maps = [draw_svg(result, out / "network.svg", topo_d)]
    try:
        maps.append(draw(result, out / "network.png", topo_d))
    except ImportError:  # matplotlib is in the test set, not in the run set
        pass
    med = result["medium"] or {}
    gt = result["ground_truth"]
    print()
    print(
        f"discovered {gt['discovered']}/{gt['reachable']} reachable meters"
        f" (missed {gt['missed'] or 'none'}, invalid paths {gt['invalid_paths'] or 'none'},"
        f" longer than shortest {len(gt['longer_than_shortest'])}); status read from"
        f" {gt['status_read']}, authenticated from {gt['auth_status_read']};"
        f" clocks synchronised {gt['clocks_synced']}, active import energy read from"
        f" {gt['energy_read']} (keys: {keyfile})"
    )
    print(
        f"simulated time: discovery {result['discovery_ms'] / 1000:.1f} s, reading"
        f" {(result['read_ms'] or 0) / 1000:.1f} s, authenticated status, clock + energy"
        f" {(result['secure_ms'] or 0) / 1000:.1f} s, total {med.get('sim_ms', 0) / 1000:.1f} s"
    )
    print(
        f"wall time: {result['wall_s']:.1f} s (discovery {result['wall_discovery_s']:.1f} s);"
        f" frames sent {med.get('frames_tx')} (concentrator {result['frames_sent']});"
        f" collisions: {med.get('collided_frames')} frames,"
        f" {med.get('lost_collision')} receptions; lost to noise {med.get('lost_fer')},"
        f" half-duplex {med.get('lost_half_duplex')}; concentrator retries"
        f" {result['stats']['retries']}, timeouts {result['stats']['timeouts']}"
    )
    if cutoff is not None:
        for st in cutoff["steps"]:
            print(
                f"cut-off {cutoff['meter']}: {st['step']:<22} state {st['cutoff_state']:<11}"
                f" relay {st['relay_state']:<6} flags {', '.join(st['flags']) or 'none'}"
            )
    print(f"wrote {out / 'network.json'}, " + ", ".join(str(m) for m in maps))
    ok = not gt["missed"] and not gt["invalid_paths"]
    return 0 if ok else 2


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
