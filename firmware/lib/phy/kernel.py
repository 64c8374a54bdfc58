"""The one selector of the PHY's per-arch kernels (docs/phy.md "Kernels").

Three kernels have an asm_thumb version (bit exact with the viper one, ~3-9x fewer instructions
on a Cortex-M4): the per-sample mixer `mix` (kern_thumb / kern_viper), the Viterbi ACS `acs`
(fec_thumb._acs / fec._acs_viper) and the receiver's per-symbol loop `sym` (rx_thumb._sym /
rx_viper._sym). On a port listed in ASM_PORTS the asm ones must load: the receive chain's CPU
budget on the STM32 is planned with them. If they do not, this module does not fall back
silently: FAULT holds what went wrong (exception type, message, place), a log line is printed,
phy.selftest.run() fails and SoftPhy.kernel_fault reports it; the receiver then runs the viper
kernels (correct, only slower). Elsewhere the viper kernels are selected and FAULT stays None.

    from phy import kernel
    kernel.KIND        # "thumb" or "viper"
    kernel.FAULT       # None, or "ImportError: no module named 'phy.rx_thumb' (phy.kernel)"
    kernel.mix         # the per-sample mixer; kernel.acs / kernel.sym are None for viper

phy.fec and phy.rx take acs / sym from here (None -> their own viper function).
"""

import sys

from phy.kern_viper import mix as mix_viper

ASM_PORTS = ("pyboard",)  # sys.platform of the stm32 port
ASM_REQUIRED = sys.platform in ASM_PORTS

KIND = "viper"
FAULT = None
mix = mix_viper
acs = None
sym = None


def _load_thumb():
    from phy.fec_thumb import _acs
    from phy.kern_thumb import mix as m
    from phy.rx_thumb import _sym

    return m, _acs, _sym


def select(asm_required, loader=_load_thumb, log=print):
    """Select the kernels: the asm_thumb ones (from loader()) if asm_required, else viper.
    Returns FAULT (None if the selection is what the port needs)."""
    global KIND, FAULT, mix, acs, sym
    KIND = "viper"
    FAULT = None
    mix = mix_viper
    acs = None
    sym = None
    if not asm_required:
        return None
    try:
        m, a, s = loader()
    except Exception as e:  # any load failure is recorded (type, message, place) and logged
        FAULT = "%s: %s (phy.kernel)" % (type(e).__name__, e)
        log("phy.kernel: FAULT asm_thumb kernels did not load, running viper: " + FAULT)
        return FAULT
    mix = m
    acs = a
    sym = s
    KIND = "thumb"
    return None


select(ASM_REQUIRED)
