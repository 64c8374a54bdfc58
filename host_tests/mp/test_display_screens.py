"""Display management on a real meter: every mode against committed goldens (text of the HT1621
glass, CRC-32 of its segment RAM and of the SSD1306 pixels), the lists, timeouts, messages,
indications, the concentrator's COMMANDs and bad remote messages refused with a NACK."""

import struct
import unittest

import civiltime
import display_fixture as fx
import micropython
from datamodel import metering as mt
from datamodel import registers as r
from screens import manager as dm
from screens.frame import ICON_ARMED, ICON_COMM, ICON_T3
from test_smitp_al import Case


class TestGoldens(unittest.TestCase):
    def test_display_every_mode_matches_its_golden(self):
        with open(fx.GOLDEN) as f:
            golden = fx.parse_goldens(f.read())
        shots = fx.render_all()
        self.assertEqual(sorted(golden), sorted(shots), "scenes and goldens differ in names")
        changed = [n for n, _ in fx.SCENES if shots[n] != golden[n]]
        for n in changed:
            print("--- golden %s\n%s+++ now\n%s" % (n, golden[n], shots[n]))
        self.assertEqual(changed, [], "rendering changed: tools/regen_display_goldens.py")

    def test_display_scenes_reach_every_mode(self):
        modes = set()
        for _name, scene in fx.SCENES:
            b = fx.DisplayBench("modes")
            try:
                scene(b)
                modes.add(dm.MODE_NAMES[b.mgr.mode])
            finally:
                b.close()
        self.assertEqual(sorted(modes), sorted(dm.MODE_NAMES))

    def test_display_goldens_parse_back(self):
        shots = {n: "frame x\nline %s\n" % n for n, _ in fx.SCENES}
        self.assertEqual(fx.parse_goldens(fx.format_goldens(shots)), shots)


class Bench(unittest.TestCase):
    def setUp(self):
        self.b = fx.DisplayBench("dispb")
        self.m = self.b.meter
        self.mgr = self.b.mgr
        self.b.measurements()

    def tearDown(self):
        self.b.close()

    def code(self):
        return bytes(self.mgr.shown.code[: self.mgr.shown.code_n])

    def value(self):
        return bytes(self.mgr.shown.value[: self.mgr.shown.value_n])


class TestLists(Bench):
    def test_display_sw_id_then_checksum_then_scroll_list(self):
        s = 1000 * self.m.model.get_int(dm.SCROLL_S)
        seen = []
        for t in range(0, 4 * s, s):
            self.b.at(t)
            seen.append(self.code())
        self.assertEqual(seen, [b"0.2.1", b"0.2.8", b"1.8.0", b"1.8.1"])

    def test_display_scroll_follows_scroll_s_and_wraps(self):
        self.b.past_sw_id()  # 2 x 8 s, the period at start
        t = self.b.clock.now_ms()
        self.m.model.write(r.find(dm.SCROLL_S), b"\x03")
        codes = []
        for k in range(8):
            self.b.at(t + 3000 * k)
            codes.append(self.code())
        self.assertEqual(
            codes, [b"1.8.0", b"1.8.1", b"1.8.2", b"1.8.3", b"1.8.4", b"2.8.0", b"0.9.1", b"1.8.0"]
        )

    def test_display_button_list_steps_and_times_out(self):
        self.b.past_sw_id()
        t = self.b.clock.now_ms()
        blist = self.m.model.read(r.find(dm.BUTTON_LIST))
        n = len(blist) // 2
        codes = []
        for _ in range(n + 1):
            self.mgr.on_press(dm.PRESS_SHORT)
            codes.append(self.code())
        self.assertEqual(codes[0], b"1.8.0")
        self.assertEqual(codes[n], codes[0])  # wraps
        self.assertIn(b"0.2.1", codes)  # the software identification on demand
        self.assertEqual(self.mgr.mode, dm.MODE_BUTTON)
        timeout = 1000 * self.m.model.get_int(dm.TIMEOUT_S)
        self.b.at(t + timeout - 1)
        self.assertEqual(self.mgr.mode, dm.MODE_BUTTON)
        self.b.at(t + timeout)
        self.assertEqual(self.mgr.mode, dm.MODE_SCROLL)

    def test_display_long_press_enters_and_leaves_the_alternate_list(self):
        self.b.past_sw_id()
        self.mgr.on_press(dm.PRESS_LONG)
        self.assertEqual((self.code(), self.value()), (b"32.7.0", b"230.1"))
        self.mgr.on_press(dm.PRESS_SHORT)
        self.assertEqual((self.code(), self.value()), (b"31.7.0", b"6.52"))
        self.mgr.on_press(dm.PRESS_LONG)
        self.assertEqual(self.mgr.mode, dm.MODE_SCROLL)

    def test_display_list_written_by_the_concentrator_is_used(self):
        self.b.past_sw_id()
        ids = b"\x17\x04\x00\x01"
        self.assertEqual(self.m.model.write(r.find(dm.ALT_LIST), ids), 0)
        self.m.metering.set(mt.FREQUENCY, 2, 5001)
        self.mgr.on_press(dm.PRESS_LONG)
        self.assertEqual((self.code(), self.value()), (b"14.7.0", b"50.01"))
        self.mgr.on_press(dm.PRESS_SHORT)
        self.assertEqual((self.code(), self.value()), (b"C.1.0", b"MM000000"))  # page 1

    def test_display_long_text_pages_on_the_glass(self):
        self.b.past_sw_id()
        self.m.model.write(r.find(dm.ALT_LIST), b"\x00\x01")
        self.mgr.on_press(dm.PRESS_LONG)
        t = self.b.clock.now_ms()
        self.assertEqual(self.b.seg.shown().count("\n"), 3)
        first = bytes(self.b.seg.ram[:8])
        self.b.at(t + dm.PAGE_MS)
        self.assertNotEqual(bytes(self.b.seg.ram[:8]), first)  # "MM000000" -> "0001"
        self.b.at(t + 2 * dm.PAGE_MS)
        self.assertEqual(bytes(self.b.seg.ram[:8]), first)


class TestIndications(Bench):
    def test_display_unchanged_frame_is_not_sent_again(self):
        self.b.past_sw_id()
        before = (self.mgr.renders, self.b.seg.refreshes)
        for _ in range(4):
            self.b.at(self.b.clock.now_ms() + 100)
        self.assertEqual((self.mgr.renders, self.b.seg.refreshes), before)
        self.m.metering.set(mt.ACTIVE_IMPORT, 4, 1234667)
        self.b.at(self.b.clock.now_ms() + 100)
        self.assertEqual(self.b.seg.refreshes, before[1] + 1)

    def test_display_glass_reset_is_repaired_within_rewrite_ms(self):
        md = self.m.model
        md.write(r.find(dm.DISPLAY_LIST), b"\x04\x00")  # one item: the screen never changes
        md.write(r.find(dm.SCROLL_S), b"\x3c")
        self.b.at(2 * 8000)  # past the sw id screens (8 s each, set at start)
        t = self.b.clock.now_ms()
        chip = self.b.seg.chip
        good = bytes(chip.ram)
        chip.ram[:] = bytes(32)  # a supply dip reset the controller: blank, LCD off
        chip.lcd_on = chip.sys_on = False
        self.b.at(t + dm.REWRITE_MS - 1)
        self.assertFalse(chip.lcd_on)
        self.b.at(t + dm.REWRITE_MS)
        self.assertTrue(chip.lcd_on and chip.sys_on)
        self.assertEqual(bytes(chip.ram), good)

    def test_display_glass_failing_is_recorded_and_retried(self):
        class Gone:
            cols = 16

            def __init__(self):
                self.tries = 0

            def render(self, frame):
                self.tries += 1
                raise OSError(19)  # ENODEV: the I2C device does not acknowledge

        self.mgr.display = gone = Gone()
        self.b.past_sw_id()
        self.mgr.on_press(dm.PRESS_SHORT)  # the button task survives it too
        self.b.at(self.b.clock.now_ms() + dm.REFRESH_MS)
        self.assertEqual(gone.tries, 3)  # every refresh tries again, the frame never "sent"
        self.assertEqual(self.mgr.render_errors, 3)
        self.assertEqual(self.m.faults.recent()[-1][:2], ("OSError", "display.render"))
        self.mgr.display = self.b.seg
        self.b.at(self.b.clock.now_ms() + dm.REFRESH_MS)
        self.assertEqual(self.code(), b"1.8.0")
        self.assertEqual(bytes(self.b.seg.ram[8:11]), b"\x86\xff\x3f")  # 1. 8. 0 on the glass

    def test_display_armed_icon_blinks_each_refresh_period(self):
        fx.set_cutoff(self.m, "armed")
        self.b.past_sw_id()
        t = self.b.clock.now_ms()
        lit = []
        for k in range(6):
            self.b.at(t + k * dm.REFRESH_MS)
            lit.append(bool(self.mgr.shown.icons & ICON_ARMED))
        self.assertEqual(lit, [True, False, True, False, True, False])

    def test_display_tariff_icon_and_local_time_from_the_calendar(self):
        fx.set_tariff(self.m, 3)
        self.b.past_sw_id()
        self.assertTrue(self.mgr.shown.icons & ICON_T3)
        self.m.model.write(r.find(dm.ALT_LIST), b"\x01\x00")
        self.mgr.on_press(dm.PRESS_LONG)
        t = civiltime.datetime(self.m.wallclock.now() + 3600)
        self.assertEqual((self.code(), self.value()), (b"0.9.1", b"%02d:%02d:%02d" % t[3:6]))

    def test_display_tariff_icon_without_a_calendar_from_register_0902(self):
        self.m.tariffs = None  # a build without the calendar feature
        self.m.metering.set(mt.ACTIVE_TARIFF, 1, 4)
        self.b.past_sw_id()
        self.assertEqual(self.mgr.shown.icons & 0x0F, 0x08)  # T4

    def test_display_comm_icon_after_an_exchange(self):
        self.b.past_sw_id()
        self.assertFalse(self.mgr.shown.icons & ICON_COMM)
        self.b.req(b"\x02\x00\x3f")  # a plain READ of the status word
        t = self.b.clock.now_ms()
        self.b.at(t + 1)
        self.assertTrue(self.mgr.shown.icons & ICON_COMM)
        self.b.at(t + 1 + dm.COMM_MS)
        self.assertFalse(self.mgr.shown.icons & ICON_COMM)

    def test_display_refresh_allocates_nothing(self):
        self.b.past_sw_id()
        me = self.m.metering
        t = self.b.clock.now_ms()
        for k in range(1, 4):  # a changed energy value: a full HT1621 refresh each time
            self.b.clock.set(t + 10 * k)  # the test clock's bookkeeping allocates
            micropython.heap_lock()
            try:
                me.set(mt.ACTIVE_IMPORT, 4, 1234567 + 100 * k)
                self.mgr.refresh()
            finally:
                micropython.heap_unlock()
        self.assertEqual(self.value(), b"0001234.8")


class TestRemote(Case):
    NAME = "disp_al"

    def setUp(self):
        self.b = fx.DisplayBench(self.NAME)
        self.m = self.b.meter

    def test_display_bad_remote_message_refused(self):
        before = self.snap()
        self.assertEqual(self.write(dm.MESSAGE, b"caf\xe9 ouvert 24h!"), b"\xf5\x06")
        self.assertEqual(self.write(dm.MESSAGE, b"\x00" * 16), b"\xf5\x06")
        self.assertEqual(self.write(dm.MESSAGE, b"SEVENTEEN CHARS!!"), b"\xf5\x03")
        self.assertEqual(self.write(dm.MESSAGE, b"SHORT"), b"\xf5\x03")
        self.assertSame(before, self.snap())
        self.assertEqual(self.write(dm.MESSAGE, b"CALL 800 123 456"), b"\xf3")
        self.b.past_sw_id()
        self.assertEqual(bytes(self.b.mgr.shown.value[:8]), b"CALL 800")

    def test_display_special_message_command(self):
        self.b.past_sw_id()
        t = self.b.clock.now_ms()
        arg = struct.pack(">H", 30) + b"METER TEST 14:00"
        self.assertEqual(self.cmd(0x20, arg), b"\xf3")
        self.assertEqual(self.b.mgr.mode, dm.MODE_SPECIAL)
        self.assertEqual(self.read(0x0F06, ecc=1)[1:], arg)
        self.b.at(t + 29_999)
        self.assertEqual(self.b.mgr.mode, dm.MODE_SPECIAL)
        self.b.at(t + 30_000)
        self.assertEqual(self.b.mgr.mode, dm.MODE_SCROLL)
        self.assertEqual(self.read(0x0F06, ecc=1)[1:], bytes(18))
        codes = [e[1] for e in self.events()]
        self.assertIn(0x0060, codes)

    def test_display_hex_examples_of_the_doc(self):
        with open("docs/display.md") as f:
            doc = f.read()
        i = doc.index("\n20 00 3C ") + 1
        cmd = bytes.fromhex(doc[i : doc.index("  ", i)])
        self.assertEqual(self.cmd(cmd[0], cmd[1:]), b"\xf3")
        self.assertEqual(self.read(0x0F06, ecc=1)[3:], b"PAY BILL BY 3/12")
        i = doc.index("`0F 02 ") + 1
        w = bytes.fromhex(doc[i : doc.index("`", i)])
        self.assertEqual(self.write(w[0] << 8 | w[1], w[2:]), b"\xf3")
        self.assertEqual(self.m.model.read(r.find(dm.MESSAGE)), b"CALL 800 123 456")

    def test_display_special_message_cleared_by_command_or_press(self):
        arg = struct.pack(">H", 600) + b"OUTAGE 22-24    "
        self.assertEqual(self.cmd(0x20, arg), b"\xf3")
        self.assertEqual(self.cmd(0x21), b"\xf3")
        self.assertEqual(self.b.mgr.mode, dm.MODE_SCROLL)
        self.assertEqual(self.cmd(0x20, arg), b"\xf3")
        self.b.mgr.on_press(dm.PRESS_SHORT)
        self.assertEqual(self.b.mgr.mode, dm.MODE_SCROLL)

    def test_display_bad_special_message_refused(self):
        self.b.past_sw_id()
        before = self.snap()
        ok = b"HELLO           "
        for args, answer in (
            (struct.pack(">H", 60) + b"HELLO\x07          ", b"\xf5\x06"),  # control char
            (struct.pack(">H", 60) + b"h\xc3\xa9llo          ", b"\xf5\x06"),  # UTF-8
            (struct.pack(">H", 60) + ok + b"!", b"\xf5\x03"),  # overlong
            (struct.pack(">H", 60) + b"HELLO", b"\xf5\x03"),  # short
            (struct.pack(">H", 0) + ok, b"\xf5\x06"),  # no duration
            (struct.pack(">H", 3601) + ok, b"\xf5\x06"),  # over an hour
        ):
            self.assertEqual(self.cmd(0x20, args), answer, args)
        self.assertSame(before, self.snap())
        self.assertEqual(self.b.mgr.mode, dm.MODE_SCROLL)
        # a plain (unauthenticated) COMMAND is refused before it reaches the display
        out = self.req(b"\x12\x20" + struct.pack(">H", 60) + ok)
        self.assertNotEqual(out, b"\xfd")
        self.assertEqual(self.b.mgr.mode, dm.MODE_SCROLL)

    def test_display_sw_id_on_command(self):
        self.b.past_sw_id()
        self.assertEqual(self.cmd(0x22), b"\xf3")
        self.assertEqual(bytes(self.b.mgr.shown.code[:5]), b"0.2.1")
        self.assertEqual(self.b.mgr.mode, dm.MODE_SW_ID)
