"""The direct TCP link closes every connection's socket: thousands of connect/close cycles
under a 64-descriptor limit leave the meter's descriptor count flat and it still answers.

(MicroPython's asyncio Stream.close() does nothing; before drivers/sim/tcp_link.py awaited
wait_closed(), each connection leaked a socket, accept() failed with EMFILE after ~60 of them
and the listener spun without ever answering again.)
"""

import json
import os
import resource
import socket
import subprocess

from tools import concentrator as dcu
from tools import mm_frame as mm
from tools.mpenv import ROOT, micropython_exe, mp_env

ACA = "4d4d00004202"
FD_LIMIT = 64
CYCLES = 2000


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _limit_fds():
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def _fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def _read_status(port):
    link = dcu.DirectLink("127.0.0.1", port, connect_timeout_s=10)
    try:
        c = dcu.Concentrator(link, opts=dcu.Options(tc_ms=20))
        return c.exchange(bytes.fromhex(ACA), [], mm.DISC_RA1, mm.DSAP_APP, b"\x02\x00\x3f")
    finally:
        link.close()


def test_thousands_of_connections_under_a_low_fd_limit(tmp_path):
    port = _free_port()
    cfg = {"aca": ACA, "state_dir": str(tmp_path), "plc_listen": port, "tc_ms": 20, "seed": 3}
    cfg["strict"] = True  # any fault the meter records would end it: the last read would fail
    (tmp_path / "meter.json").write_text(json.dumps(cfg))
    p = subprocess.Popen(
        [micropython_exe(), "firmware/main.py", "--config", str(tmp_path / "meter.json")],
        env=mp_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        preexec_fn=_limit_fds,
    )
    try:
        assert _read_status(port), "no answer before the cycles"
        base = _fds(p.pid)
        for i in range(CYCLES):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:  # the client leaves mid-header
                s.sendall(b"\x00")
            else:  # a zero length: the meter drops the connection (and the client sees it)
                s.sendall(b"\x00\x00")
                assert s.recv(16) == b""
            s.close()
        answers = _read_status(port)
        after = _fds(p.pid)
    finally:
        p.terminate()
        out = p.communicate(timeout=5)[0].decode(errors="replace")
    assert answers and answers[0][0].attr == mm.READ_RESP, out
    assert after <= base + 1, (base, after, out)
