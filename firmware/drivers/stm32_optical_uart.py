"""STM32 optical port UART (IEC 62056-21, 7E1 at 300 Bd and after the baud switch), never
blocking the asyncio loop. An interfaces.Serial.

Port facts (micropython ports/stm32, commit 1c3c201 of 2026-08-19):
- machine.UART(bits=7, parity=0) is real 7E1: the port adds the parity bit to make an 8-bit
  ST word (machine_uart.c: `bits += 1; // STs convention has bits including parity`) and
  masks received characters to 7 bits (uart.c: `char_mask = 0x7f`).
- Parity errors are not reported: the RX interrupt stores DR & char_mask without looking at
  SR.PE, so a character with a parity error arrives as received; the engine's format and BCC
  checks catch it.
- machine.UART.write() blocks: uart_tx_data() busy-waits for TXE before every character and
  for TC after the last (machine_uart.c/uart.c), 33 ms per character at 300 Bd. So write()
  here puts one character straight into the data register when TXE is set and returns 0
  otherwise; the port task paces itself on the line's character time (optical/port.py).
- read() on the port waits up to timeout_char (>= 13000/baud + 2 ms, 45 ms at 300 Bd) once
  its buffer runs dry; reading exactly any() characters never reaches that wait.
The register addresses come from the port's `stm` module (USARTn base, USART_SR, USART_DR;
F4 layout, as on the NUCLEO-F429ZI).
"""

from micropython import const

_TXE = const(1 << 7)
_TC = const(1 << 6)
_RXBUF = const(256)


class Stm32OpticalUart:
    def __init__(self, uart_id, uart=None, mem32=None, base=None, sr=None, dr=None):
        if uart is None:
            import machine
            import stm

            uart = machine.UART(uart_id)
            mem32 = stm.mem32
            name = ("USART%d" if uart_id in (1, 2, 3, 6) else "UART%d") % uart_id
            base = getattr(stm, name)
            sr, dr = stm.USART_SR, stm.USART_DR
        self._uart = uart
        self._mem = mem32
        self._sr = base + sr
        self._dr = base + dr
        self.baudrate = 0
        self.configure(300, 7, 0, 1)

    def configure(self, baudrate, bits=8, parity=None, stop=1):
        self._uart.init(
            baudrate, bits=bits, parity=parity, stop=stop, timeout=0, timeout_char=0, rxbuf=_RXBUF
        )
        self.baudrate = baudrate

    def any(self):
        return self._uart.any()

    def read(self, n):
        k = min(n, self._uart.any())
        return self._uart.read(k) if k else None

    def readinto(self, buf):
        k = min(len(buf), self._uart.any())
        return self._uart.readinto(buf, k) if k else None

    def write(self, buf):
        if not len(buf) or not self._mem[self._sr] & _TXE:
            return 0
        self._mem[self._dr] = buf[0]
        return 1

    def tx_idle(self):
        """True once the last character has left the shift register (SR.TC)."""
        return bool(self._mem[self._sr] & _TC)
