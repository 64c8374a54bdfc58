"""Wiring: the optical port of a meter from its config, data model and hardware."""

import storekeys
from datamodel import registers as dm

from optical import readout
from optical.iec21 import Iec21
from optical.local import LocalLink
from optical.port import OpticalPort
from optical.regaccess import TableAccess


def optical_port(meter):
    cfg = meter.cfg
    regs = TableAccess(meter)
    fw = regs.read(dm.FIRMWARE_VERSION)
    ident = b"" if isinstance(fw, int) else bytes(fw).strip()
    password = cfg.get("optical_password")  # --set may hand over digits as a number
    saved = meter.store.get(storekeys.OPTICAL_TRIES)
    engine = Iec21(
        cfg["manufacturer"].encode(),
        ident,
        readout.make(cfg.get("optical_readout") or readout.DEFAULT, meter, regs),
        registers=regs,
        password=str(password).encode() if password is not None else None,
        rng=meter.rng,
        address=cfg["serial"].encode(),
        reaction_ms=cfg.get("optical_reaction_ms", 1000),
        block=cfg.get("optical_block", 0),
        tries=saved[0] if saved else 0,
        now=meter.clock.now_ms(),
        on_tries=lambda n: meter.store.put(storekeys.OPTICAL_TRIES, bytes((min(n, 255),))),
        # mode F: SMITP frames to the same application layer as the powerline's
        local=LocalLink(meter.al.handle) if cfg["optical_smitp"] else None,
    )
    return OpticalPort(engine, meter.hw.optical, meter.clock, getattr(meter, "faults", None))
