"""ESP32-DevKitC (ESP32-WROOM-32, dual Xtensa LX6).

MicroPython has no continuous ADC on the ESP32 (machine.ADC is one-shot; issue
micropython#8527), and its timer callbacks are soft IRQs with tens of µs to ms of jitter. So the
soft PHY samples the coupler with an external I2S ADC and transmits through an external I2S DAC,
both clocked by the I2S peripherals, not by Python. A certified M&M modem on UART1 is the
alternative backend.
"""

NAME = "esp32_devkitc"
CPU_HZ = 240_000_000

PLC_BACKEND = "soft"  # "soft" (I2S ADC/DAC) or "modem"
I2S_RX = 0  # I2S0: external ADC (see drivers/esp32_i2s_capture.py for the part)
I2S_RX_SCK = 26
I2S_RX_WS = 25
I2S_RX_SD = 35  # input-only pin is fine for data in
I2S_TX = 1  # I2S1: external DAC into the line driver
I2S_TX_SCK = 27
I2S_TX_WS = 14
I2S_TX_SD = 13  # not GPIO12: it is a strapping pin (flash voltage)
TX_ENABLE_PIN = 4
MODEM_UART = 1
MODEM_TX = 18
MODEM_RX = 19
MODEM_RESET_PIN = 5

OPTICAL_UART = 2  # IEC 62056-21 head, 7E1
OPTICAL_TX = 17
OPTICAL_RX = 16
DISPLAY_SDA = 21
DISPLAY_SCL = 22
DISPLAY_ADDR = 0x3C
DISPLAY = "dots"  # "dots": the SSD1306 above; "segment": an HT1621 glass (docs/display.md §3)
HT1621_CS = 23  # the glass takes the OLED's header pins (21, 22) plus 23
HT1621_WR = 22
HT1621_DATA = 21
RELAY_SET_PIN = 32
RELAY_RESET_PIN = 33
RELAY_SENSE_PIN = 34  # input-only, external pull-up
RELAY_PULSE_MS = 50
RELAY_MIN_GAP_MS = 1000  # coil protection: pulses at least this far apart
LED_PIN = 2
BUTTON_PIN = 0  # BOOT button, low while pressed (read after boot: strapping only at reset)

# Metrology IC: STPM33 on UART1, GPIO15 TX -> RXD, GPIO36 (input-only) RX <- TXD; 9600 Bd after
# reset then 115200 (drivers/stpm3x.py); SCS and EN pulled up (UART selected), SYN high. UART1
# is the modem's when PLC_BACKEND is "modem": that build has no metrology IC (docs/boards.md).
STPM_UART = 1
STPM_TX = 15
STPM_RX = 36
# Direct-ADC option (cfg "metrology" = "adc", docs/metrology_adc.md): a stereo ADC without system
# clock (PCM1809: V left, I right) on I2S1, drivers/esp32_meter_i2s.py; SCK, WS, SD (input-only).
# The soft PHY holds both I2S ports, so only the modem build (which has no STPM3x) can take it.
METER_I2S = (1, 26, 25, 35)
SUPPLY_PIN = 39  # input-only (SENSOR_VN): mains supervisor output, low on loss, ext. pull-up
WDT_TIMEOUT_MS = 8000  # armed by the first feed (drivers/watchdog.py)

# Flash: a raw data partition labelled "mmstore" (64 KiB, 16 x 4 KiB sectors) in the partition
# table; esp32.Partition gives the extended block protocol the store needs.
STORE_PARTITION = "mmstore"
# Profiles (docs/profiles.md): an optional raw data partition "mmprof" of 176 KiB (44 x 4 KiB)
# for the load-profile, measurand-profile and daily rings; without it no profiles are kept.
PROFILE_PARTITION = "mmprof"
# Download slots: two raw data partitions of 384 KiB, "mmslot1" and "mmslot2"; an image runs in
# place from there (dl.imgvfs). The whole partition table: boards/esp32_partitions.csv (flash
# map: docs/download.md §3).
SLOT_PARTITIONS = ("mmslot1", "mmslot2")


def store_flash(cfg):
    import esp32
    from drivers.esp32_flash import PartitionFlash

    return PartitionFlash(esp32, STORE_PARTITION)


def slot_devices(cfg):
    import esp32
    from drivers.esp32_flash import PartitionFlash

    return [None] + [PartitionFlash(esp32, p) for p in SLOT_PARTITIONS]


def build(cfg):
    import machine
    from clock import Clock
    from drivers.button import Button
    from drivers.display import SSD1306
    from drivers.led import Led
    from drivers.relay import LatchingRelay
    from drivers.rtc import MachineRtc
    from drivers.serial import UartSerial
    from drivers.stpm3x import Stpm3x
    from drivers.supply import SupplyInput
    from drivers.watchdog import Watchdog
    from hw import Hardware

    machine.freq(CPU_HZ)
    clock = Clock()
    metrology = None
    if (cfg.get("plc_backend") or PLC_BACKEND) == "modem":
        from drivers.modem_uart import HostIfPhy

        uart = machine.UART(MODEM_UART, 57600, tx=MODEM_TX, rx=MODEM_RX, timeout=0)
        phy = HostIfPhy(uart, reset_pin=machine.Pin(MODEM_RESET_PIN, machine.Pin.OUT))
    else:
        from drivers.esp32_i2s_capture import I2sCapture
        from drivers.esp32_tx import I2sModulator
        from phy.softphy import SoftPhy

        capture = I2sCapture(I2S_RX, I2S_RX_SCK, I2S_RX_WS, I2S_RX_SD)
        modulator = I2sModulator(
            I2S_TX, I2S_TX_SCK, I2S_TX_WS, I2S_TX_SD, machine.Pin(TX_ENABLE_PIN, machine.Pin.OUT)
        )
        phy = SoftPhy(capture, modulator, clock)
        stpm = machine.UART(STPM_UART, 9600, tx=STPM_TX, rx=STPM_RX, timeout=0)
        metrology = Stpm3x(UartSerial(stpm, 9600, 8, None, 1), clock)
    if cfg.get("metrology") == "adc":
        metrology = _meter_adc(cfg)
    optical = machine.UART(
        OPTICAL_UART, 300, bits=7, parity=0, stop=1, tx=OPTICAL_TX, rx=OPTICAL_RX
    )
    return Hardware(
        NAME,
        clock=clock,
        phy=phy,
        flash=store_flash(cfg),
        rtc=MachineRtc(machine.RTC(), 0),  # esp32: weekday 0..6 (drivers/rtc.py)
        optical=UartSerial(optical, 300, 7, 0, 1),
        display=_display(cfg, machine, SSD1306),
        relay=LatchingRelay(
            machine.Pin(RELAY_SET_PIN, machine.Pin.OUT),
            machine.Pin(RELAY_RESET_PIN, machine.Pin.OUT),
            RELAY_PULSE_MS,
            machine.Pin(RELAY_SENSE_PIN, machine.Pin.IN),
            clock,
            RELAY_MIN_GAP_MS,
        ),
        led=Led(machine.Pin(LED_PIN, machine.Pin.OUT)),
        watchdog=Watchdog(machine.WDT, WDT_TIMEOUT_MS),
        supply=SupplyInput(machine.Pin(SUPPLY_PIN, machine.Pin.IN)),
        metrology=metrology,
        profile_flash=_profile_flash(),
        button=Button(machine.Pin(BUTTON_PIN, machine.Pin.IN, machine.Pin.PULL_UP), clock),
        slots=slot_devices(cfg),
    )


def _profile_flash():
    import esp32
    from drivers.esp32_flash import PartitionFlash

    if not esp32.Partition.find(esp32.Partition.TYPE_DATA, label=PROFILE_PARTITION):
        return None  # an older partition table: the meter runs without profiles
    return PartitionFlash(esp32, PROFILE_PARTITION)


def _display(cfg, machine, ssd1306):
    if (cfg.get("display") or DISPLAY) == "segment":
        from drivers.ht1621 import on_pins

        return on_pins(machine.Pin, HT1621_CS, HT1621_WR, HT1621_DATA)
    i2c = machine.I2C(0, scl=machine.Pin(DISPLAY_SCL), sda=machine.Pin(DISPLAY_SDA))
    return ssd1306(i2c, DISPLAY_ADDR)


def _meter_adc(cfg):
    from config import ConfigError

    if (cfg.get("plc_backend") or PLC_BACKEND) != "modem":
        raise ConfigError('metrology "adc" on %s needs plc_backend "modem" (I2S1)' % NAME)
    from drivers.esp32_meter_i2s import MeterI2s
    from metrology.adc_frontend import AdcFrontend

    return AdcFrontend(MeterI2s(*METER_I2S))
