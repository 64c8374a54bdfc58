"""The one selector of the direct-ADC metering kernel (docs/metrology_adc.md "Kernel").

The asm_thumb kernel (adc_thumb.run) is bit exact with the viper one (adc_viper.run) and costs
a fraction of its instructions on a Cortex-M4. On a port listed in ASM_PORTS it must load: the
CPU budget beside the PHY is planned with it. If it does not, nothing falls back silently: FAULT
holds what went wrong (exception type, message, place), a log line is printed,
metrology.adc_selftest.run() fails, and the viper kernel runs (correct, only slower).

    from metrology import adc_kernel
    adc_kernel.KIND     # "thumb" or "viper"
    adc_kernel.FAULT    # None, or "ImportError: ... (metrology.adc_kernel)"
    adc_kernel.run      # run(buf, npairs, st, ring) -> pairs in the period
"""

import sys

from metrology.adc_viper import run as run_viper

ASM_PORTS = ("pyboard",)  # sys.platform of the stm32 port
ASM_REQUIRED = sys.platform in ASM_PORTS

KIND = "viper"
FAULT = None
run = run_viper


def _load_thumb():
    from metrology.adc_thumb import run as r

    return r


def select(asm_required, loader=_load_thumb, log=print):
    """Select the kernel: asm_thumb (from loader()) if asm_required, else viper.
    Returns FAULT (None if the selection is what the port needs)."""
    global KIND, FAULT, run
    KIND = "viper"
    FAULT = None
    run = run_viper
    if not asm_required:
        return None
    try:
        r = loader()
    except Exception as e:  # any load failure is recorded (type, message, place) and logged
        FAULT = "%s: %s (metrology.adc_kernel)" % (type(e).__name__, e)
        log("metrology.adc_kernel: FAULT asm_thumb kernel did not load, running viper: " + FAULT)
        return FAULT
    run = r
    KIND = "thumb"
    return None


select(ASM_REQUIRED)
