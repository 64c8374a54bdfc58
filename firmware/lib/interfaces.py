"""The written interfaces between the application and the hardware (docs/architecture.md).

Every object a board's `build()` puts into `hw.Hardware` satisfies one of these duck types;
boards wrap the port's objects in adapters (firmware/drivers/) and never hand out a raw
`machine.RTC`, `machine.WDT`, `machine.UART` or `pyb.Flash`. The classes below are
documentation you can read from the REPL (`help(interfaces.Rtc)`), not base classes: nothing
inherits from them, so a driver costs no extra lookups. The `check_*` helpers are what the
contract tests (host_tests/mp/test_contracts.py) run against every implementation; they raise
`ContractError` naming the first rule broken. They allocate and take time: tests only.

Hardware fields (hw.Hardware): clock, phy, flash, rtc, optical, display, relay, led, watchdog,
supply. A board without a peripheral leaves the field None.
"""


class ContractError(AssertionError):
    pass


def _need(obj, names, what):
    for n in names:
        if not callable(getattr(obj, n, None)):
            raise ContractError("%s: %s has no %s()" % (what, type(obj).__name__, n))


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# --- PHY ---------------------------------------------------------------------------------------


class Phy:
    """A PLC physical layer carrying whole data-link frames.

    await send(frame)      -- put one MAC frame (bytes-like, 1..255 bytes) on the line;
                              returns when the PHY has taken it (on air or queued in a modem).
    await recv()           -- the next received frame: (frame, info). `frame` is bytes-like and
                              valid until the next recv(); `info` is a RxInfo.
    airtime_ms(nbytes)     -- time on air in ms (int >= 1) of an n-byte MAC frame on this
                              backend, non-decreasing in n. The MAC times answers and repeats
                              with it, so each backend gives its own (soft PHY, modem, sim).
    """


class RxInfo:
    """Receive metadata handed up with a frame (attribute access, any class).

    rssi       int, dBuV at the coupler
    snr        int, quarter dB (as the modem host interface reports it)
    in_phase   True/False (received in phase with our mains), or None if unknown
    t_ms       time the frame was handed up, on the PHY's clock (clock.now_ms())
    t_end_ms   time the frame ended on the air, same clock; t_end_ms <= t_ms. The MAC times
               its answer from here, so queueing delays between air and MAC do not count.
    """


def check_phy(phy):
    _need(phy, ("send", "recv", "airtime_ms"), "phy")
    last = 0
    for n in (1, 8, 32, 64, 128, 255):
        t = phy.airtime_ms(n)
        if not _is_int(t) or t < 1:
            raise ContractError("phy.airtime_ms(%d) = %r: not an int >= 1" % (n, t))
        if t < last:
            raise ContractError("phy.airtime_ms decreases at n=%d" % n)
        last = t


def check_rx_info(info):
    for name in ("rssi", "snr", "t_ms", "t_end_ms"):
        if not _is_int(getattr(info, name, None)):
            raise ContractError("rx info: %s is not an int" % name)
    if getattr(info, "in_phase", 0) not in (True, False, None):
        raise ContractError("rx info: in_phase must be True, False or None")
    if info.t_end_ms > info.t_ms:
        raise ContractError("rx info: t_end_ms after t_ms")


# --- RTC ---------------------------------------------------------------------------------------


class Rtc:
    """Battery-backed wall clock in UTC.

    seconds()     -- int seconds since 2000-01-01 00:00:00 UTC (MicroPython's embedded epoch)
    set(seconds)  -- set the clock to that many seconds since 2000-01-01 UTC
    Nothing else: calendars, time zones and DST live in lib code (civiltime), not in drivers.
    """


def check_rtc(rtc):
    _need(rtc, ("seconds", "set"), "rtc")
    for when in (0, 86399, 790_000_000, 1_000_000_000):
        rtc.set(when)
        got = rtc.seconds()
        # the clock may tick between set() and seconds(): one second of slack, never less
        if not _is_int(got) or not when <= got <= when + 1:
            raise ContractError("rtc.set(%d) then seconds() = %r" % (when, got))


# --- flash block device ------------------------------------------------------------------------


class BlockDevice:
    """NOR flash with MicroPython's extended block protocol, as store.Store needs it.

    ioctl(4, 0)                          -- number of erase blocks
    ioctl(5, 0)                          -- block size in bytes = the erase unit
    ioctl(6, n)                          -- erase block n: every byte reads 0xFF afterwards;
                                            returns 0
    readblocks(n, buf, offset=0)         -- read len(buf) bytes from block n at offset (may run
                                            on into the following blocks)
    writeblocks(n, buf, offset)          -- program only, inside block n: each bit can only go
                                            from 1 to 0 (new = old & data), never erases.
                                            Program unit: offset and len(buf) multiples of 8
                                            always work; the store writes each 8-byte unit once.
    Block device reads and programs raise OSError on a bad block number or span, and on a
    hardware error or timeout; nothing is ever silently dropped.
    """


def check_block_device(dev, block=None):
    """Erase/program/read rules on one block (the last by default; it is erased afterwards)."""
    _need(dev, ("readblocks", "writeblocks", "ioctl"), "flash")
    n = dev.ioctl(4, 0)
    bs = dev.ioctl(5, 0)
    if not _is_int(n) or n < 2 or not _is_int(bs) or bs < 256 or bs & (bs - 1):
        raise ContractError("flash: %r blocks of %r bytes" % (n, bs))
    b = n - 1 if block is None else block
    if dev.ioctl(6, b) != 0:
        raise ContractError("flash: erase did not return 0")
    buf = bytearray(64)
    for off in (0, bs // 2, bs - 64):
        dev.readblocks(b, buf, off)
        if buf != b"\xff" * 64:
            raise ContractError("flash: erased block does not read 0xFF at %d" % off)
    dev.writeblocks(b, b"\x0f\xf0\x5a\xa5\x00\xff\x33\xcc", 8)
    dev.writeblocks(b, b"\xff\x0f\xff\xff\xff\x00\x0f\xff", 8)  # bits only ever cleared
    got = bytearray(24)
    dev.readblocks(b, got, 0)
    want = b"\xff" * 8 + b"\x0f\x00\x5a\xa5\x00\x00\x03\xcc" + b"\xff" * 8
    if got != want:
        raise ContractError("flash: program is not old & new: %s" % bytes(got).hex())
    dev.writeblocks(b, b"\x00" * 8, bs - 8)
    dev.ioctl(6, b)
    dev.readblocks(b, buf, bs - 64)
    if buf != b"\xff" * 64:
        raise ContractError("flash: erase left programmed bytes")
    return n, bs


# --- relay -------------------------------------------------------------------------------------


class Relay:
    """The supply cut-off relay. Commands never block the loop.

    open() / close()  -- request a position; returns at once. The coil pulse runs as a task;
                         requests closer together than the coil's minimum interval wait for it
                         (the last request wins).
    state()           -- True closed, False open, None unknown (from the sense contact if wired)
    fault()           -- True when the sense contact disagrees with the settled command
    busy()            -- True while a pulse runs or a request waits
    await settle()    -- until no pulse runs or waits (tests, shutdown)
    """


def check_relay(relay):
    _need(relay, ("open", "close", "state", "fault", "busy", "settle"), "relay")


# --- display -----------------------------------------------------------------------------------


class Display:
    """A meter display: a segment glass (drivers/ht1621.py) or a dot matrix (drivers/display.py
    SSD1306). The display manager (lib/screens/) hands it device-independent screens.

    cols           -- characters the value field shows at once (8 digits, 16 on the matrix);
                      longer text is paged by the manager
    render(frame)  -- draw a screens.frame.Frame (OBIS code, value text, unit, icon bits) and
                      push it to the glass; synchronous and bounded (an HT1621 refresh is 137
                      clocks of bit-bang, an SSD1306 one 1 KiB of I2C)
    """


def check_display(d):
    _need(d, ("render",), "display")
    if not (_is_int(getattr(d, "cols", None)) and d.cols >= 8):
        raise ContractError("display: cols must be an int >= 8")
    from screens.frame import ICON_ALARM, U_KWH, Frame

    f = Frame()
    f.set_code(b"1.8.0")
    f.set_value(b"0000123.4")
    f.unit = U_KWH
    f.icons = ICON_ALARM
    d.render(f)
    f.set_value(b"TEXT LONGER THAN ANY GLASS")
    f.left = True
    d.render(f)  # overlong text is clipped by the driver, never an error


# --- serial port -------------------------------------------------------------------------------


class Serial:
    """A byte-oriented port (the optical head, IEC 62056-21). Never blocks.

    read(n)              -- up to n bytes received so far, or None if there are none
    readinto(buf)        -- same into buf; returns the count or None
    write(buf)           -- queue bytes; returns how many were taken (maybe fewer than len(buf))
    any()                -- number of bytes waiting (0 if none)
    tx_idle()            -- True once every byte written has left the line (a rate change
                            waits for it)
    configure(baudrate, bits=8, parity=None, stop=1)
                         -- change the line settings (IEC 62056-21 mode C switches from 300 Bd
                            7E1 to the agreed rate); parity None, 0 even, 1 odd as machine.UART
    """


def check_serial(port):
    _need(port, ("read", "readinto", "write", "any", "tx_idle", "configure"), "serial")
    if port.read(1) is not None and port.any() < 0:
        raise ContractError("serial: any() negative")
    port.configure(300, 7, 0, 1)
    port.configure(9600, 7, 0, 1)


# --- supply-loss input -------------------------------------------------------------------------


class Supply:
    """Mains supervision: an input that drops when the supply fails (early power-fail warning).

    present()            -- True while the supply is there
    losses               -- int, supply losses seen since boot (edges, counted in the IRQ)
    await wait_loss()    -- returns when the supply drops (at once if it already has)
    The interrupt handler only counts and sets a ThreadSafeFlag; the app task that awaits
    wait_loss() does the saving, so nothing allocates in the interrupt.
    """


def check_supply(s):
    _need(s, ("present", "wait_loss"), "supply")
    if not _is_int(s.losses):
        raise ContractError("supply: losses")


# --- watchdog ----------------------------------------------------------------------------------


class Watchdog:
    """feed()  -- restart the countdown; not fed within timeout_ms, the MCU resets.

    timeout_ms  -- the countdown (int). The hardware watchdog starts on the first feed(), so a
                   board only runs it once the supervisor that feeds it is up.
    """


def check_watchdog(w):
    _need(w, ("feed",), "watchdog")
    if not _is_int(w.timeout_ms) or w.timeout_ms < 1:
        raise ContractError("watchdog: timeout_ms")


# --- clock -------------------------------------------------------------------------------------


class ClockSource:
    """now_ms() -- monotonic, non-wrapping ms; await sleep_ms(ms). See clock.py."""


def check_clock(c):
    _need(c, ("now_ms", "sleep_ms"), "clock")
    a = c.now_ms()
    b = c.now_ms()
    if not (_is_int(a) and b >= a):
        raise ContractError("clock: now_ms not monotonic")


# --- LED ---------------------------------------------------------------------------------------


class Led:
    """value(v=None), on(), off(): a status LED (machine.Pin has these)."""


def check_led(p):
    _need(p, ("value", "on", "off"), "led")


class BNodePort:
    """exchange(frame) -> answer bytes: the link to the meter's B-Node (the customer device behind
    it, docs/smitp.md §6). The update frame goes out whole and the device's ACK/NACK B-node
    answer (ATTR 251 / 249) comes back; unix_sim's SimBNode decodes it on its own."""


def check_bnode(b):
    _need(b, ("exchange",), "bnode")


# --- metrology front-end ---------------------------------------------------------------------


class Metrology:
    """The metering front-end: a metrology IC behind its driver, or the direct-ADC path.

    await read(sample) -- fill a metrology.sample.Sample with what was measured since the
                          previous successful read; True on success, False when the front-end
                          gave nothing usable (bad CRC, no answer, implausible values): the
                          sample is then untouched and the next good read covers the gap
    errors             -- int, failed reads since boot
    fault()            -- True while the front-end is failing (drives the status word)
    name               -- str, e.g. "stpm33" or "adc"
    run()              -- optional coroutine function: a task the front-end needs running (an
                          I2S stream to keep drained, drivers/esp32_meter_i2s.py); the metering
                          feature supervises it as task "metrology"
    Optional, so the metering second allocates nothing (the energy engine prefers them):
    measure(sample)    -- read() done synchronously (the direct-ADC path)
    await reader(sample) -- read() as an awaitable that is not a new coroutine (the STPM3x)
    """


def check_metrology(m):
    _need(m, ("read", "fault"), "metrology")
    if not _is_int(m.errors):
        raise ContractError("metrology: errors")


# --- push button -------------------------------------------------------------------------------


class Button:
    """The meter's push button (display scrolling, re-arming the relay).

    await wait() -- the next press, as 1 (short) or 2 (long, held >= long_ms); the pin
                    interrupt only counts the edge and sets a ThreadSafeFlag, the waiting task
                    debounces and classifies (drivers/button.py)
    presses      -- int, debounced presses since boot
    """


def check_button(b):
    _need(b, ("wait",), "button")
    if not _is_int(b.presses):
        raise ContractError("button: presses")


CHECKS = (
    ("clock", check_clock),
    ("phy", check_phy),
    ("flash", check_block_device),
    ("rtc", check_rtc),
    ("optical", check_serial),
    ("display", check_display),
    ("relay", check_relay),
    ("led", check_led),
    ("watchdog", check_watchdog),
    ("supply", check_supply),
    ("bnode", check_bnode),
    ("metrology", check_metrology),
    ("button", check_button),
    ("profile_flash", check_block_device),
)


def check_hardware(hw, skip=()):
    """Run every check on the fields a board filled (except `skip`); returns the names checked."""
    done = []
    for name, check in CHECKS:
        obj = getattr(hw, name)
        if obj is not None and name not in skip:
            check(obj)
            done.append(name)
    return done
