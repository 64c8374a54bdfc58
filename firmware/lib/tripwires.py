"""Regression tripwires: checksums of our own kernels' outputs on fixed vectors, recorded from
known-good code. They are not references (those are published vectors, the `cryptography`
package, the independent codecs and models in tools/); they only say "this output changed".
When one trips, find out why (a deliberate change of the kernel's arithmetic, or a bug), check
the kernel against its reference again, and only then record the new value here.

Every stored checksum lives here, named: the on-board self-test (phy.selftest) and the host
tests (host_tests/py/test_thumb_kernels.py) both read these.
"""

# phy.selftest mix vector: (checksum of the mixer ring, dc, write position); the same value from
# the viper kernel, the emulated asm_thumb kernel and a plain-Python model of the mixer
PHY_MIX = (8554772, 524337, 205)
# phy.selftest._acs_run: (survivor-byte checksum, path-metric checksum); viper = thumb
PHY_ACS = (15605311, 2544960)
# phy.selftest._sym_run: checksum of return codes, state, strobe history and work area
PHY_SYM = 5411391

# metrology.adc_selftest: checksum of the direct-ADC kernel state and delay line on its fixed
# vector; viper = asm_thumb (host_tests/py/test_adc_thumb.py)
ADC_RUN = 11321797
