"""A real `micropython firmware/main.py` meter on a direct TCP link, for system tests (not a
pytest module): `with running_meter(tmp_path, aca=..., key_write=...) as m:` -> m.port; after
the block m.output holds what the meter printed."""

import contextlib
import json
import socket
import subprocess

from tools.mpenv import ROOT, micropython_exe, mp_env


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class MeterProcess:
    def __init__(self, port, proc):
        self.port = port
        self.proc = proc
        self.output = b""


def spawn(state_dir, cfg, *args, **popen):
    """`micropython firmware/main.py --config state_dir/meter.json [args]` with cfg written
    there; stdout and stderr piped together unless popen says otherwise."""
    (state_dir / "meter.json").write_text(json.dumps(cfg))
    kw = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    kw.update(popen)
    cmd = [micropython_exe(), "firmware/main.py", "--config", str(state_dir / "meter.json")]
    return subprocess.Popen(cmd + list(args), env=mp_env(), cwd=ROOT, **kw)


@contextlib.contextmanager
def running_meter(state_dir, **cfg):
    """Start a meter whose flash lives in state_dir (so a second start finds it again)."""
    port = free_port()
    cfg = dict({"state_dir": str(state_dir), "plc_listen": port, "seed": 7}, **cfg)
    p = spawn(state_dir, cfg)
    m = MeterProcess(port, p)
    try:
        yield m
    finally:
        p.terminate()
        m.output = p.communicate(timeout=5)[0]
