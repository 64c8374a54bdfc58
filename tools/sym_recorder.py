"""MicroPython side of the recordings of the receiver's per-symbol loop (tests and bench).

    rec = Recorder(path, every=1)   # wraps phy.rx._sym from now on
    ... feed a Receiver ...
    rec.close()

    steps = count_acs_steps()       # steps[0]: Viterbi trellis steps run from now on

Each kept call appends its inputs (ring, S, hist, W) and its outputs (return value as int32 LE,
then S, hist, W) to the file, for replay on the emulated Cortex-M4 (tools/thumb_emu.py). Every
`every`-th call is kept, and every call that returns an event. Runs under Unix MicroPython only.
"""

import struct

import phy.rx as rx


class Recorder:
    def __init__(self, path, every=1):
        self.out = open(path, "wb")
        self.every = every
        self.calls = 0
        self.kept = 0
        self.sym = rx._sym
        rx._sym = self.call

    def call(self, ring, S, hist, W):
        before = (bytes(ring), bytes(S), bytes(hist), bytes(W))
        ev = self.sym(ring, S, hist, W)
        if ev or self.calls % self.every == 0:
            for b in before:
                self.out.write(b)
            self.out.write(struct.pack("<i", ev))
            for b in (S, hist, W):
                self.out.write(b)
            self.kept += 1
        self.calls += 1
        return ev

    def close(self):
        rx._sym = self.sym
        self.out.close()


def count_acs_steps():
    """Wrap phy.fec._acs (the Viterbi add-compare-select) with a counter of its trellis steps;
    returns the one-element list holding the count."""
    import phy.fec as fec

    steps = [0]
    acs = fec._acs

    def counting(pm, soft, n, surv):
        steps[0] += n
        acs(pm, soft, n, surv)

    fec._acs = counting
    return steps
