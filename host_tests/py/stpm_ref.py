"""Shared by the STPM3x system tests: the independent UART CRC-8 and running MicroPython."""

import subprocess

from crccheck.crc import Crc8Base

from tools.mpenv import ROOT, micropython_exe, mp_env


class Crc8Reflected(Crc8Base):
    """CRC-8 poly 0x07, init 0, refin = refout = true, no final xor (the STPM3x UART CRC)."""

    _width = 8
    _poly = 0x07
    _initvalue = 0x00
    _reflect_input = True
    _reflect_output = True
    _xor_output = 0x00


def run_mp(*args, timeout=300):
    """stdout of `micropython ARGS` on the firmware's path; fails the test on a non-zero exit."""
    p = subprocess.run(
        [micropython_exe(), *[str(a) for a in args]],
        env=mp_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert p.returncode == 0, p.stderr + p.stdout[-2000:]
    return p.stdout
