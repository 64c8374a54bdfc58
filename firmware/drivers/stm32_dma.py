"""STM32F4 DMA stream steps the ADC capture and DAC drivers share (RM0090 rev 19, section 10).

Each takes the register window (`stm.mem32`, or the recording fake in the contract tests) and
absolute addresses, so one driver's stream, flag bits and ADC stay written in that driver.
"""

from micropython import const

_ADC_CR2 = const(0x08)  # RM0090 13.13.3
_SCR_EN = const(1 << 0)
_STOP_POLLS = const(10000)  # a stream stops within its current transfer: a few cycles


def halt_stream(mem32, stream_cr):
    """EN = 0, then wait until the stream has really stopped before it may be reprogrammed
    (RM0090 10.3.17). OSError(110) (ETIMEDOUT) if it never does."""
    mem32[stream_cr] = 0
    n = _STOP_POLLS
    while mem32[stream_cr] & _SCR_EN:
        n -= 1
        if n == 0:
            raise OSError(110)


def stop_adc_dma(mem32, adc_base, stream_cr, ifcr, flags):
    """Stop a timer-paced ADC -> DMA capture once its timer is off: ADC off (no more requests),
    stream disabled, its event flags cleared so the next start sees none of this run's."""
    mem32[adc_base + _ADC_CR2] = 0
    mem32[stream_cr] &= ~_SCR_EN
    mem32[ifcr] = flags
