"""Run as a script by host_tests/py/test_contracts_manifest.py (not a test module):

    micropython host_tests/mp/contract_probe.py BOARD PORT

builds BOARD's hardware with both PLC backends and both metering front-ends on the fake PORT
modules, builds the meter on it, and prints `module NAME` for every module that imported (not
those the fake port modules themselves use), so the test can check that the board's
frozen-module manifest covers them.
"""

import sys

import config
from contract_env import use_port
from fakes import fakehw


def main(board, port):
    use_port(port)
    had = set(sys.modules)
    __import__("fakes.common")  # the fakes' own imports (drivers.sim.pin) are not the board's
    fakes_use = set(sys.modules) - had
    # both PLC backends, and the direct-ADC front-end (on the ESP32 only beside the modem)
    for backend, metrology in (("soft", "stpm"), ("modem", "stpm"), ("modem", "adc")):
        if port == "stm32":
            fakehw.board_stm32()
        else:
            fakehw.board_esp32()
        mod = __import__("boards." + board, None, None, ["build"])
        cfg = config.load(None, {"plc_backend": backend, "metrology": metrology, "seed": 1})
        hw = mod.build(cfg)
        from app import Meter

        Meter(hw, cfg)
    for name in sorted(sys.modules):
        if name not in fakes_use:
            print("module", name)


main(sys.argv[1], sys.argv[2])
