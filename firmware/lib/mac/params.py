"""The MAC's configurable values as typed attributes. config.py builds one from config.json
once at boot (checking types and ranges); tests build one directly. Defaults: docs/datalink.md.
"""

from mac import address, timing


class Params:
    def __init__(
        self,
        tel_ms=timing.TEL_MS,
        tc_ms=timing.TC_MS,
        add_ms=timing.ADD_MS,
        dup_ms=timing.DUP_MS,
        sca=None,
        aca_al0=address.AL0_INDEX,
    ):
        self.tel_ms = tel_ms  # elaboration time: answer this long after the request's end
        self.tc_ms = tc_ms  # RC time slot
        self.add_ms = add_ms  # margin per exchange
        self.dup_ms = dup_ms  # duplicate-suppression window
        self.sca = address.check_sca(None if sca is None else bytes(sca))  # 6 bytes or None
        if not 0 <= aca_al0 < 6:
            raise ValueError("aca_al0 0..5")
        self.aca_al0 = aca_al0  # wire byte of the ACA used as ACA_AL[0]
