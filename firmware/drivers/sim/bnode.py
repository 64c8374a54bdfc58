"""unix_sim B-Node: a simulated customer display behind the meter. It decodes each update
(docs/smitp.md §6) on its own, keeps the values and writes them to a text file a person or a
test can read (one `OBJ hexvalue` line per object, after a `seq time` line)."""


class SimBNode:
    def __init__(self, path=None):
        self.path = path
        self.values = {}
        self.time = 0
        self.updates = 0

    def exchange(self, frame):
        if len(frame) < 7 or frame[0] != 20:
            return bytes((249, 3))
        seq = frame[1]
        t = int.from_bytes(frame[2:6], "big")
        k = frame[6]
        p = 7
        vals = {}
        for _ in range(k):
            if p + 3 > len(frame):
                return bytes((249, 3))
            oid = (frame[p] << 8) | frame[p + 1]
            n = frame[p + 2]
            if p + 3 + n > len(frame):
                return bytes((249, 3))
            vals[oid] = bytes(frame[p + 3 : p + 3 + n])
            p += 3 + n
        if p != len(frame):
            return bytes((249, 3))
        self.values = vals
        self.time = t
        self.updates += 1
        if self.path:
            with open(self.path, "w") as f:
                f.write("%d %d\n" % (seq, t))
                for oid in sorted(vals):
                    f.write("%04x %s\n" % (oid, vals[oid].hex()))
        return bytes((251, seq))
