"""ESP32 optical port UART (IEC 62056-21, 7E1 at 300 Bd and after the baud switch), never
blocking the asyncio loop. An interfaces.Serial.

Port facts (micropython ports/esp32/machine_uart.c, commit 1c3c201 of 2026-08-19):
- bits=7 selects UART_DATA_7_BITS and parity=0 UART_PARITY_EVEN: real 7E1, characters are
  7-bit values. Parity errors raise an IDF event the port does not read; the character is
  delivered as received, and the engine's format and BCC checks catch it.
- read() with timeout=0 and timeout_char=0 returns what the RX ring holds without waiting.
- write() copies into the driver's TX ring (txbuf, 256 here) and blocks only when the ring is
  full; the port task never has more than 32 characters queued (optical/port.py), so it never
  waits.
- init() on a running UART first waits for the TX ring to drain (uart_wait_tx_done, up to 1 s);
  the port task changes the rate only after the line is free, so that wait is empty.
- txdone() asks uart_wait_tx_done(0): it does not wait.
"""

from micropython import const

_BUF = const(256)


class Esp32OpticalUart:
    def __init__(self, uart_id, tx, rx, uart=None):
        if uart is None:
            import machine

            uart = machine.UART(uart_id, 300, tx=tx, rx=rx, txbuf=_BUF, rxbuf=_BUF)
        self._uart = uart
        self.baudrate = 0
        self.configure(300, 7, 0, 1)

    def configure(self, baudrate, bits=8, parity=None, stop=1):
        self._uart.init(baudrate, bits=bits, parity=parity, stop=stop, timeout=0, timeout_char=0)
        self.baudrate = baudrate

    def any(self):
        return self._uart.any()

    def read(self, n):
        return self._uart.read(n)

    def readinto(self, buf):
        return self._uart.readinto(buf)

    def write(self, buf):
        n = self._uart.write(buf)
        return n or 0

    def tx_idle(self):
        return self._uart.txdone()
