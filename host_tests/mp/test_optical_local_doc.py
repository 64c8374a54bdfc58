"""The mode F example of docs/optical.md (the ```optical-f block, written by the independent
CPython codec, tools/gen_optical_local_doc.py) replayed through the optical engine as
optical.build wires it on a real meter: every answer must be the documented bytes."""

import unittest

import alfix
from optical.build import optical_port


def session(path="docs/optical.md"):
    out = []
    inside = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line == "```optical-f":
                inside = True
            elif inside and line == "```":
                break
            elif inside and line[:2] in ("> ", "< "):
                out.append((line[0], bytes(int(x, 16) for x in line[2:].split())))
    return out


class TestModeFExample(unittest.TestCase):
    def test_documented_session_byte_for_byte(self):
        b = alfix.Bench("optfdoc")
        try:
            eng = optical_port(b.meter).engine
            steps = session()
            self.assertEqual(len(steps), 12)
            t = 0
            got = bytearray()
            for d, data in steps:
                if d == ">":
                    t += 400  # each side waits its reaction time
                    eng.on_rx(data, t)
                    continue
                for _ in range(100):  # poll until the answer is out
                    o = eng.poll(t)
                    if o is not None:
                        got = bytes(o)
                        eng.tx_done(t)
                        break
                    t += 10
                self.assertEqual(got.hex(), data.hex())
            self.assertTrue(eng.idle)  # the break
            self.assertEqual(b.meter.model.get_int(0x0E02), 30)
        finally:
            b.close()


if __name__ == "__main__":
    unittest.main()
