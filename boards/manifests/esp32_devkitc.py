# Frozen modules for ESP32-DevKitC: build MicroPython with
#   make -C ports/esp32 BOARD=ESP32_GENERIC FROZEN_MANIFEST=$PWD/boards/manifests/esp32_devkitc.py
include("$(PORT_DIR)/boards/manifest.py")  # the port's own frozen modules (asyncio, ...)
include(
    "firmware.py",
    arch="xtensa",
    board="esp32_devkitc",
    drivers=[
        "button.py",
        "display.py",
        "esp32_flash.py",
        "esp32_i2s_capture.py",
        "esp32_meter_i2s.py",
        "esp32_tx.py",
        "led.py",
        "modem_uart.py",
        "pin_wake.py",
        "relay.py",
        "rtc.py",
        "serial.py",
        "stpm3x.py",
        "supply.py",
        "watchdog.py",
    ],
)
