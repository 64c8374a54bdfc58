"""Every `optical` example block of docs/optical.md, replayed through the engine byte for byte
(set up as the page's "Example configuration" says, which optical_harness implements)."""

import unittest

from optical_harness import Harness


def blocks(path="docs/optical.md"):
    out = []
    cur = None
    with open(path) as f:
        for line in f:
            line = line.rstrip()
            if line == "```optical":
                cur = {"title": "", "steps": []}
            elif cur is not None and line == "```":
                out.append(cur)
                cur = None
            elif cur is not None and line.startswith("# "):
                cur["title"] = line[2:]
            elif cur is not None and line[:2] in ("> ", "< "):
                cur["steps"].append((line[0], bytes.fromhex(line[2:].replace(" ", ""))))
    return out


class TestDocExamples(unittest.TestCase):
    def test_every_example_replays(self):
        found = blocks()
        self.assertGreaterEqual(len(found), 5)
        for b in found:
            block = 24 if "optical_block = 24" in b["title"] else 0
            h = Harness(block=block)
            want = b""
            got = b""
            for direction, data in b["steps"]:
                if direction == ">":
                    self.assertEqual(got, want, b["title"])
                    h.feed(data)
                    h.run(1100)  # longer than every reaction time
                    got = h.take()
                    want = b""
                else:
                    want += data
            self.assertEqual(got, want, b["title"])
