"""MicroPython side of host_tests/py/test_dl*.py (not a pytest module): one boot of a unix_sim
meter through firmware/main.py's build() (so the boot selector, slot mount and roll-back run
exactly as on a board), then requests from stdin, one per line:

    req ECC POLL BCAST HEX   -> "ans HEX ECC" (HEX "-" when the meter stays silent)
    step                     -> verify a complete download / activate when due; "state N CODE"
    erase [K]                -> what the download task does after a start: K erase units (all
                                when K is absent); "erased STATE UNITS_DONE"
    trial                    -> run the trial selftest; "trial ok" / "trial fail"
    confirm                  -> a trial image that heard the concentrator keeps it: "confirmed B"
    info                     -> "info SLOT VERSION TRIAL TRIES APPFILE LEGALCRC RESET MIXED"
                                (MIXED: loaded modules not from the running tree, must be 0)
    dlstart HEX / dlact HEX  -> COMMAND 0x18 / 0x19 without the sealing: "code N"
    events                   -> "events CODE:DATA ..." (the event log, oldest first)
    frame T_END HEX          -> the data-link frame HEX, ending on the air at T_END ms, into
                                the MAC; "tx AT HEX" of what the MAC then sends, or "tx - -"
    aca                      -> "aca HEX" (wire order)

micropython dl_worker.py STATE_DIR KEY_WRITE KEY_READ KEY_DOWNLOAD
"""

import sys


class RxInfo:
    def __init__(self, t):
        self.t_ms = self.t_end_ms = t
        self.rssi = 80
        self.snr = 40
        self.in_phase = True


class Ctx:
    def __init__(self, ecc, poll, bcast):
        self.ecc = ecc
        self.ecc_out = ecc
        self.poll = poll
        self.disc = 7
        self.max_resp = 128 if not bcast else 90
        self.broadcast = bcast
        self.slots = 1 if bcast else 0


def out(*a):
    print(*a)


def main():
    state, kw, kr, kd = sys.argv[1:5]
    import main as boot_main

    meter = boot_main.build(
        [
            "--set",
            "state_dir=" + state,
            "--set",
            "key_write=" + kw,
            "--set",
            "key_read=" + kr,
            "--set",
            "key_download=" + kd,
            "--set",
            "seed=1",
        ],
        reset=lambda: None,
    )
    reset = []
    meter.supervisor.request_reset = lambda why: reset.append(why)
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        f = line.split()
        if not f:
            continue
        cmd = f[0]
        if cmd == "req":
            lsdu = bytes.fromhex(f[4])
            ctx = Ctx(int(f[1]), int(f[2]), f[3] == "1")
            ans = meter.al.handle(memoryview(lsdu), ctx)
            out("ans", ans.hex() if ans else "-", ctx.ecc_out)
        elif cmd == "step":
            meter.dl.step(meter.wallclock.now())
            t = meter.dl.transfer
            out("state", t.state, t.code)
        elif cmd == "erase":
            t = meter.dl.transfer
            k = int(f[1]) if len(f) > 1 else -1
            while t.state == 5 and k != 0:  # dl.transfer.ERASING
                meter.dl.erase_step()
                k -= 1
            out("erased", t.state, t.erased)
        elif cmd == "frame":
            mac = meter.mac
            t = int(f[1])
            mac.on_rx(bytes.fromhex(f[2]), RxInfo(t), t)
            if mac.tx_pending():  # the worker has no PHY: take the frame out of the slot
                snap = mac.snapshot()
                out("tx", snap[3], snap[4].hex())
                mac._tx_at = -1
            else:
                out("tx", "-", "-")
        elif cmd == "aca":
            out("aca", bytes(meter.mac.aca).hex())
        elif cmd == "trial":
            out("trial", "ok" if meter.dl.trial_check() else "fail")
        elif cmd == "dlstart":  # COMMAND 0x18's effect without the sealing (kill test)
            out("code", meter.dl.cmd_start(bytes.fromhex(f[1])))
        elif cmd == "dlact":  # COMMAND 0x19's effect
            out("code", meter.dl.cmd_activate(bytes.fromhex(f[1])))
        elif cmd == "fail":
            meter.dl.fail_trial(1)
            out("failed")
        elif cmd == "confirm":
            out("confirmed", 1 if meter.dl.slots.confirm() else 0)
        elif cmd == "info":
            d = meter.dl
            sel = d.slots.selector()
            app = sys.modules["app"]
            where = "/mmslot%d/" % d.running if d.running else None
            mixed = 0  # loaded modules of our code from another tree than the running one
            for name, mod in sys.modules.items():
                f = getattr(mod, "__file__", "")
                if name == "__main__" or not f:
                    continue
                ours = f.startswith(("firmware/", "boards/", "./", "/mmslot"))
                if ours and (where is None) == f.startswith("/mmslot"):
                    mixed += 1
                elif where and f.startswith("/mmslot") and not f.startswith(where):
                    mixed += 1
            out(
                "info",
                d.running,
                d.version,
                sel[2],
                sel[3],
                getattr(app, "__file__", "?"),
                "%08x" % meter.model.legal_crc,
                "|".join(r.replace(" ", "_") for r in reset) or "-",
                mixed,
            )
        elif cmd == "modules":
            out(
                "modules",
                " ".join(
                    "%s=%s" % (k, getattr(v, "__file__", "")) for k, v in sys.modules.items()
                ),
            )
        elif cmd == "events":
            from datamodel import registers

            t = meter.model.tables[registers.EVENT_LOG]
            recs = []
            for rno in range(t.first(), t.end):
                r = t.record(rno)
                recs.append("%04x:%d" % ((r[4] << 8) | r[5], (r[6] << 8) | r[7]))
            out("events", " ".join(recs))
        else:
            out("error unknown", cmd)


main()
