"""NUCLEO-F429ZI (STM32F429ZIT6, Cortex-M4F).

Why this Nucleo: 256 KiB RAM (192 + 64 CCM) leaves room for the Viterbi survivor memory, the
DMA sample ring and the heap MicroPython needs; 2 MiB of flash holds firmware, a filesystem and
a dedicated store region for load profiles and logs; it has the 12-bit DAC the soft modulator
needs and the ADC/DMA/timer set the capture driver uses. (The F446RE has half the RAM.)
MicroPython's NUCLEO_F429ZI build runs it at 168 MHz (HSE 8 MHz from the ST-LINK MCO,
PLL M=4 N=168 P=2 Q=7: 48 MHz for USB), which is the figure the PHY budget uses.
"""

NAME = "nucleo_f429zi"
CPU_HZ = 168_000_000

# PLC coupler (soft B-PSK PHY)
PLC_BACKEND = "soft"  # "soft" (ADC+DAC) or "modem" (certified M&M modem on a UART)
ADC_PIN = "PA3"  # ADC123_IN3, coupler receive output after the band-pass
ADC_INSTANCE = 1
ADC_CHANNEL = 3
ADC_TRIGGER_TIMER = 2  # TIM2 TRGO starts each conversion (RM0090 13.3.8)
ADC_DMA = (2, 0, 0)  # DMA2 stream 0 channel 0 serves ADC1 (RM0090 table 43)
DAC_PIN = "PA4"  # DAC_OUT1 into the line driver
TX_TIMER = 6  # basic timer: hard IRQ paces the modulator
TX_ENABLE_PIN = "PG0"  # line-driver enable / coupler TX-RX switch
MODEM_UART = 2  # PD5 TX, PD6 RX when PLC_BACKEND == "modem"
MODEM_RESET_PIN = "PG1"

# Local interfaces
OPTICAL_UART = 6  # USART6: PG14 TX (D1), PG9 RX (D0); IEC 62056-21 head, 7E1
DISPLAY_I2C = 1  # I2C1: PB8 SCL (D15), PB9 SDA (D14); SSD1306 128x64 at 0x3C
DISPLAY_ADDR = 0x3C
DISPLAY = "dots"  # "dots": the SSD1306 above; "segment": an HT1621 glass (docs/display.md §3)
HT1621_CS = "PE2"  # CN9 D56/D57/D58, push-pull outputs into the glass module
HT1621_WR = "PE4"
HT1621_DATA = "PE5"
RELAY_SET_PIN = "PE9"  # latching relay coil drivers
RELAY_RESET_PIN = "PE11"
RELAY_SENSE_PIN = "PF13"  # auxiliary contact, pulled up
RELAY_PULSE_MS = 50
RELAY_MIN_GAP_MS = 1000  # coil protection: pulses at least this far apart
LED_PIN = "PB0"  # LD1 green
BUTTON_PIN = "PC13"  # B1 USER, high while pressed (pull-down on the Nucleo)

# Metrology IC: STPM33 on UART5, PC12 TX -> RXD, PD2 RX <- TXD (CN8 D-pins), 9600 Bd after reset
# then 115200 (drivers/stpm3x.py); SCS and EN pulled up (UART selected at power-up), SYN high
STPM_UART = 5
# Direct-ADC option (cfg "metrology" = "adc", docs/metrology_adc.md): voltage divider on PC0
# (ADC123_IN10, A1), current sensor on PC3 (ADC123_IN13, A2); ADC3 + DMA2 Stream1 + TIM3
METER_ADC = ("PC0", 10, "PC3", 13)
SUPPLY_PIN = "PF15"  # D2: mains supervisor output, low on supply loss (external pull-up)
WDT_TIMEOUT_MS = 8000  # IWDG; armed by the first feed (drivers/watchdog.py)

# Flash: the store owns two 128 KiB sectors at the top of the unused second bank (sectors 22
# and 23, 0x081C0000-0x081FFFFF), erased and programmed by drivers/stm32_flash.py through the
# flash controller. Not pyb.Flash: docs/boards.md says why, and why these sectors.
STORE_SECTORS = (22, 23)
# Download slots (flash map: docs/download.md §3): two 384 KiB regions of the same bank, raw NOR
# written by the same driver; an image runs in place from there (dl.imgvfs). Slot 1's first
# block is the five small sectors 12-16 together (128 KiB, drivers/stm32_flash.py LOW_GROUP).
# With the store they fill bank 2: no sector is left for a profile flash (docs/profiles.md §4).
SLOT_SECTORS = (((12, 13, 14, 15, 16), 17, 18), (19, 20, 21))


def store_flash(cfg):
    from drivers.stm32_flash import Stm32Bank2Flash

    return Stm32Bank2Flash(STORE_SECTORS)


def slot_devices(cfg):
    from drivers.stm32_flash import Stm32Bank2Flash

    return [None] + [Stm32Bank2Flash(s) for s in SLOT_SECTORS]


def build(cfg):
    import machine
    from clock import Clock
    from drivers.button import Button
    from drivers.display import SSD1306
    from drivers.led import Led
    from drivers.relay import LatchingRelay
    from drivers.rtc import MachineRtc
    from drivers.stm32_optical_uart import Stm32OpticalUart
    from drivers.supply import SupplyInput
    from drivers.watchdog import Watchdog
    from hw import Hardware

    clock = Clock()
    if (cfg.get("plc_backend") or PLC_BACKEND) == "modem":
        from drivers.modem_uart import HostIfPhy

        uart = machine.UART(MODEM_UART, 57600, timeout=0)
        phy = HostIfPhy(uart, reset_pin=machine.Pin(MODEM_RESET_PIN, machine.Pin.OUT))
    else:
        from drivers.stm32_adc_dma import AdcDmaCapture
        from drivers.stm32_dac_tx import DacModulator
        from phy.softphy import SoftPhy

        capture = AdcDmaCapture(ADC_PIN, ADC_INSTANCE, ADC_CHANNEL, ADC_TRIGGER_TIMER)
        modulator = DacModulator(DAC_PIN, TX_TIMER, machine.Pin(TX_ENABLE_PIN, machine.Pin.OUT))
        phy = SoftPhy(capture, modulator, clock)
    sense = machine.Pin(RELAY_SENSE_PIN, machine.Pin.IN, machine.Pin.PULL_UP)
    return Hardware(
        NAME,
        clock=clock,
        phy=phy,
        flash=store_flash(cfg),
        rtc=MachineRtc(machine.RTC(), 1),  # stm32: weekday 1..7 (drivers/rtc.py)
        # not drivers.serial.UartSerial: the stm32 port's UART.write() busy-waits per character
        optical=Stm32OpticalUart(OPTICAL_UART),
        display=_display(cfg, machine, SSD1306),
        relay=LatchingRelay(
            machine.Pin(RELAY_SET_PIN, machine.Pin.OUT),
            machine.Pin(RELAY_RESET_PIN, machine.Pin.OUT),
            RELAY_PULSE_MS,
            sense,
            clock,
            RELAY_MIN_GAP_MS,
        ),
        led=Led(machine.Pin(LED_PIN, machine.Pin.OUT)),
        watchdog=Watchdog(machine.WDT, WDT_TIMEOUT_MS),
        supply=SupplyInput(machine.Pin(SUPPLY_PIN, machine.Pin.IN)),
        metrology=_metrology(cfg, clock),
        button=Button(machine.Pin(BUTTON_PIN, machine.Pin.IN), clock, active_low=False),
        slots=slot_devices(cfg),
    )


def _metrology(cfg, clock):
    import machine
    from drivers.serial import UartSerial
    from drivers.stpm3x import Stpm3x

    if cfg.get("metrology") == "adc":
        from drivers.stm32_meter_adc import MeterAdc
        from metrology.adc_frontend import AdcFrontend

        return AdcFrontend(MeterAdc(*METER_ADC))
    # UartSerial despite the busy-waiting write: 5 characters at 115200 Bd are 0.43 ms
    return Stpm3x(UartSerial(machine.UART(STPM_UART), 9600, 8, None, 1), clock)


def _display(cfg, machine, ssd1306):
    if (cfg.get("display") or DISPLAY) == "segment":
        from drivers.ht1621 import on_pins

        return on_pins(machine.Pin, HT1621_CS, HT1621_WR, HT1621_DATA)
    return ssd1306(machine.I2C(DISPLAY_I2C, freq=400_000), DISPLAY_ADDR)
