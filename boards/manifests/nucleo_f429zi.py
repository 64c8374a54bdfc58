# Frozen modules for NUCLEO-F429ZI: build MicroPython with
#   make -C ports/stm32 BOARD=NUCLEO_F429ZI FROZEN_MANIFEST=$PWD/boards/manifests/nucleo_f429zi.py
include("$(PORT_DIR)/boards/manifest.py")  # the port's own frozen modules (asyncio, ...)
include(
    "firmware.py",
    arch="thumb",
    board="nucleo_f429zi",
    drivers=[
        "button.py",
        "display.py",
        "led.py",
        "modem_uart.py",
        "pin_wake.py",
        "relay.py",
        "rtc.py",
        "serial.py",
        "stm32_adc_dma.py",
        "stm32_dac_tx.py",
        "stm32_dma.py",
        "stm32_flash.py",
        "stm32_meter_adc.py",
        "stm32_optical_uart.py",
        "stpm3x.py",
        "supply.py",
        "watchdog.py",
    ],
)
