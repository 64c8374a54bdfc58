"""machine.UART adapter (interfaces.Serial): non-blocking read/write and line-setting changes.

    port = UartSerial(machine.UART(6), 300, 7, 0, 1)   # IEC 62056-21 start: 300 Bd 7E1
    port.configure(9600, 7, 0, 1)                     # after the mode C baud switch

The UART is (re)initialised with timeout=0 and timeout_char=0 so read()/write() never wait
(machine.UART.init keywords, docs/library/machine.UART.rst; stm32 ports/stm32/machine_uart.c,
esp32 ports/esp32/machine_uart.c). machine.UART.read returns None when nothing arrived; so
does this adapter.
Caveat: on stm32, machine.UART.write() busy-waits for TXE before every character (ports/stm32
uart.c uart_tx_data), about 33 ms per character at 300 Bd, so there a register-level writer
is needed for a truly non-blocking write (the optical port's STM32 driver does that).
"""


class UartSerial:
    def __init__(self, uart, baudrate=300, bits=7, parity=0, stop=1):
        self._uart = uart
        self.baudrate = 0
        self.configure(baudrate, bits, parity, stop)

    def configure(self, baudrate, bits=8, parity=None, stop=1):
        if parity not in (None, 0, 1) or bits not in (7, 8, 9) or stop not in (1, 2):
            raise ValueError("line settings")
        self._uart.init(baudrate, bits, parity, stop, timeout=0, timeout_char=0)
        self.baudrate = baudrate
        self.bits = bits
        self.parity = parity
        self.stop = stop

    def read(self, n):
        return self._uart.read(n)

    def readinto(self, buf):
        return self._uart.readinto(buf)

    def write(self, buf):
        n = self._uart.write(buf)
        return 0 if n is None else n

    def any(self):
        return self._uart.any()

    def tx_idle(self):
        return self._uart.txdone()  # machine.UART.txdone(), extmod/machine_uart.c
