"""Calibration of the metrology IC from the data model (rows 0x0310..0x0313, group 0x03).

    tasks += attach(meter)     # app.Meter._attach_features

At start and whenever group 0x03 is written (the model replaces the group's block on every
commit, so an identity check per metering second costs nothing), the four values go to
`hw.metrology.set_calibration(gain_v, gain_i, phase_c, offset_p)`; the driver writes them to the
IC before its next read. A front-end without calibration registers (direct ADC) is left alone.
"""

from micropython import const

CAL_GAIN_V = const(0x0310)
CAL_GAIN_I = const(0x0311)
CAL_PHASE_I = const(0x0312)
CAL_OFFSET_P = const(0x0313)
_GROUP = const(0x03)


class Calibration:
    def __init__(self, model, front_end):
        self._model = model
        self._fe = front_end
        self._blk = None
        self.applied = None  # the last values handed to the front-end

    def check(self, utc_s=None):
        blk = self._model.blocks[_GROUP]
        if blk is self._blk:
            return
        self._blk = blk
        g = self._model.get_int
        v = (g(CAL_GAIN_V), g(CAL_GAIN_I), g(CAL_PHASE_I), g(CAL_OFFSET_P))
        if v != self.applied:
            self._fe.set_calibration(*v)
            self.applied = v


def attach(meter):
    fe = meter.hw.metrology
    if fe is None or not hasattr(fe, "set_calibration"):
        return []
    meter.calibration = cal = Calibration(meter.model, fe)
    cal.check()
    meter.on_second.append(cal.check)
    return []
