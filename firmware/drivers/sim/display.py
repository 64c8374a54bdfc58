"""unix_sim display: the same framebuf drawing as the board, each frame written as a PBM image
and the text rows kept, so a test or a person can see what the meter shows."""

from drivers.display import Screen


class SimDisplay(Screen):
    def __init__(self, path=None, width=128, height=64, echo=False):
        super().__init__(width, height)
        self.path = path
        self.echo = echo  # print each new screen on the terminal
        self.frames = 0
        self.last = ""  # the last rendered frame as one line of text

    def render(self, frame):
        self.last = frame.text()
        super().render(frame)  # the PBM is written before the line is printed
        if self.echo:
            print("display: " + self.last)

    def shown(self):
        """What the display shows now, as text for a terminal."""
        return self.last

    def show(self):
        self.frames += 1
        if not self.path:
            return
        w, h = self.width, self.height
        row = bytearray(w // 8)
        with open(self.path, "wb") as f:
            f.write(b"P4\n%d %d\n" % (w, h))
            for y in range(h):
                for xb in range(w // 8):
                    byte = 0
                    for bit in range(8):
                        if self.pixel(xb * 8 + bit, y):
                            byte |= 0x80 >> bit
                    row[xb] = byte
                f.write(row)
