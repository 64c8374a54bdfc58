"""System test of the cut-off (docs/cutoff.md): a real `micropython firmware/main.py --repl`
meter on a direct TCP link, the concentrator (tools/smitp_ref.py on the wire) sending the relay
COMMANDs, and the meter's console standing in for what is not a frame: the metering seconds of
an overload (POWER, Seam D, then the cut-off's second) and the customer's finger on the button
(the unix_sim ButtonPin)."""

import contextlib
import json
import subprocess
import sys
import threading
import time

import pytest
from direct_meter import free_port, running_meter, spawn

from tools import concentrator as dcu
from tools import smitp_ref as ref
from tools.dcu_cutoff import disconnect_and_enable, look
from tools.dcu_keys import State
from tools.mpenv import ROOT

ACA = bytes.fromhex("4d4d00004207")
KEYS = ref.Keys(bytes(range(0xA0, 0xB0)), bytes(range(0xB0, 0xC0)))
PROMPT = b"meter> "


class Console:
    """The meter's asyncio REPL over its stdin/stdout."""

    def __init__(self, proc):
        self.proc = proc
        self.out = b""
        self._lock = threading.Lock()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        while True:
            b = self.proc.stdout.read1(4096)
            if not b:
                return
            with self._lock:
                self.out += b

    def _prompts(self):
        with self._lock:
            return self.out.count(PROMPT)

    def run(self, line, timeout_s=30):
        n = self._prompts()
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        end = time.monotonic() + timeout_s
        while self._prompts() <= n:
            if time.monotonic() > end or self.proc.poll() is not None:
                raise AssertionError(f"console: no prompt after {line!r}: {self.out[-400:]!r}")
            time.sleep(0.02)
        with self._lock:
            return self.out.rsplit(PROMPT, 2)[-2].decode(errors="replace").strip()

    def until(self, expr, want, timeout_s=30):
        """Evaluate expr until it prints want (the meter's tasks run meanwhile)."""
        end = time.monotonic() + timeout_s
        while True:
            got = self.run(expr)
            if got == want or time.monotonic() > end:
                return got
            time.sleep(0.1)


@contextlib.contextmanager
def repl_meter(tmp_path):
    port = free_port()
    cfg = {
        "state_dir": str(tmp_path),
        "plc_listen": port,
        "seed": 7,
        "aca": ACA.hex(),
        "key_write": KEYS.write.hex(),
        "key_read": KEYS.read.hex(),
    }
    p = spawn(tmp_path, cfg, "--repl", stdin=subprocess.PIPE)
    try:
        con = Console(p)
        con.run("1")  # the console is up, so the meter's tasks are
        yield port, con
    finally:
        p.terminate()
        p.communicate(timeout=5)


def _session(port):
    link = dcu.DirectLink("127.0.0.1", port)
    c = dcu.Concentrator(link)
    return link, dcu.MeterSession(c, ACA, (), KEYS, State(None))


def _own_seconds(con):
    """Take the cut-off off the live energy engine's seconds (it is hooked there): the unix_sim
    load is far below any limit, so a live second between two of _seconds' would reset the
    overload count. From now on the cut-off hears only the seconds the test delivers."""
    assert con.run("meter.cutoff.on_second in meter.on_second") == "True"
    con.run("meter.on_second.remove(meter.cutoff.on_second)")


def _seconds(con, power_w, n):
    """n metering seconds at power_w, as the energy engine delivers them (Seam D: POWER, then
    the second's listener), in one console line: no task runs in between."""
    con.run(
        f"for _ in range({n}):\n    meter.metering.set(69, 4, {power_w}); "
        "meter.cutoff.on_second(meter.wallclock.now())\n"
    )


def test_concentrator_disconnects_and_enables_then_the_button_closes(tmp_path):
    with repl_meter(tmp_path) as (port, con):
        link, s = _session(port)
        try:
            steps = disconnect_and_enable(s)
            assert [x["cutoff_state"] for x in steps] == ["closed", "open_remote", "armed"]
            assert [x["relay_state"] for x in steps] == ["closed", "open", "armed"]
            assert "cut_remote" in steps[1]["flags"] and "relay_armed" in steps[2]["flags"]
            assert con.run("meter.hw.relay.state()") == "False"  # the latch's contact
            con.run("meter.hw.button.pin.press(100)")  # short: the display's, not the relay's
            assert con.until("meter.hw.button.presses", "1") == "1"
            assert con.run("meter.cutoff.state()") == "'armed'"
            con.run("meter.hw.button.pin.press(2500)")
            assert con.until("meter.cutoff.state()", "'closed'") == "'closed'"
            assert con.until("meter.hw.relay.state()", "True") == "True"
            assert look(s)["cutoff_state"] == "closed"
        finally:
            link.close()


def test_overload_trips_after_the_delay_then_enable_and_button_rearm(tmp_path):
    with repl_meter(tmp_path) as (port, con):
        link, s = _session(port)
        try:
            s.write("contract1_power_w", (3000).to_bytes(4, "big"))
            s.write("cutoff_delay_s", (5).to_bytes(2, "big"))
            s.write("cutoff_mode", b"\x01")
            assert s.read("limit_w") == (3300).to_bytes(4, "big")
            _own_seconds(con)
            _seconds(con, 4000, 4)
            got = look(s)
            assert got["cutoff_state"] == "closed" and "overload" in got["flags"]
            assert s.read("overload_s") == b"\x00\x04"
            _seconds(con, 4000, 1)
            got = look(s)
            assert got["cutoff_state"] == "open_limit" and "cut_limit" in got["flags"]
            assert con.until("meter.hw.relay.state()", "False") == "False"
            con.run("meter.hw.button.pin.press(2500)")  # not enabled: nothing happens
            assert con.until("meter.hw.button.presses", "1") == "1"
            assert con.until("meter.hw.button.pin.value()", "1") == "1"  # released
            assert con.run("meter.cutoff.state()") == "'open_limit'"
            s.command("relay_reconnect_enable")
            assert look(s)["cutoff_state"] == "armed"
            con.run("meter.hw.button.pin.press(2500)")
            assert con.until("meter.cutoff.state()", "'closed'") == "'closed'"
            assert con.until("meter.hw.relay.state()", "True") == "True"
            assert s.read("limit_trips") == b"\x00\x01"
        finally:
            link.close()


@pytest.mark.parametrize("cmd", ["relay_disconnect", "relay_reconnect"])
def test_relay_command_in_clear_is_refused(tmp_path, cmd):
    with repl_meter(tmp_path) as (port, con):
        link, s = _session(port)
        try:
            with pytest.raises(dcu.Refused) as e:
                s.command(cmd, ecc=ref.ECC_CLEAR)
            assert e.value.reply.nack == 2
            assert con.run("meter.cutoff.state()") == "'closed'"
        finally:
            link.close()


def test_concentrator_cli_relay_subcommand(tmp_path, capsys):
    keyfile = tmp_path / "keys.json"
    keyfile.write_text(
        json.dumps({"default": {"key_write": KEYS.write.hex(), "key_read": KEYS.read.hex()}})
    )
    with running_meter(
        tmp_path, aca=ACA.hex(), key_write=KEYS.write.hex(), key_read=KEYS.read.hex()
    ) as m:
        base = ["--direct", f"127.0.0.1:{m.port}", "--auth", str(keyfile), "--json"]
        base += ["--state", str(tmp_path / "state.json"), "relay"]
        got = []
        for action in ("show", "disconnect", "enable", "reconnect"):
            assert dcu.main(base + [action]) == 0
            got.append(json.loads(capsys.readouterr().out)[ACA.hex()])
    assert [g["cutoff_state"] for g in got] == ["closed", "open_remote", "armed", "closed"]
    assert "cut_remote" in got[1]["status_flags"]


def test_make_sim_cutoff_disconnects_and_enables_through_the_section(tmp_path):
    # as `make sim SIMARGS=--cutoff` runs it: its own process (it installs a SIGTERM handler)
    cmd = [sys.executable, str(ROOT / "tools" / "sim.py"), "--meters", "3", "--levels", "1"]
    cmd += ["--cutoff", "--quiet", "--out", str(tmp_path)]
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "cut-off" in p.stdout and "relay_reconnect_enable" in p.stdout
    cut = json.loads((tmp_path / "network.json").read_text())["cutoff"]
    steps = {s["step"]: s for s in cut["steps"]}
    assert steps["before"]["cutoff_state"] == "closed"
    assert steps["relay_disconnect"]["relay_state"] == "open"
    assert "cut_remote" in steps["relay_disconnect"]["flags"]
    assert steps["relay_reconnect_enable"]["cutoff_state"] == "armed"
    assert "relay_armed" in steps["relay_reconnect_enable"]["flags"]
