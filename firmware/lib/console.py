"""An asyncio REPL so the meter keeps running while an engineer inspects it.

It reads lines from a stream (stdin by default), evaluates expressions or executes statements
in a namespace that holds the live `meter`, and prints the result. Block statements (a line
ending in ':') continue until an empty line, as at the normal REPL.
"""

import asyncio
import sys


class Console:
    def __init__(self, namespace, reader=None, write=None, prompt="meter> "):
        self.ns = namespace
        self._reader = reader
        self._write = write or sys.stdout.write
        self.prompt = prompt

    def execute(self, src):
        """Run one complete input; return the text to show (may be empty)."""
        try:
            try:
                code = compile(src, "<console>", "eval")
            except SyntaxError:
                exec(compile(src, "<console>", "exec"), self.ns)
                return ""
            value = eval(code, self.ns)
            if value is None:
                return ""
            self.ns["_"] = value
            return repr(value) + "\n"
        except SystemExit:
            raise
        except BaseException as e:  # noqa: B036 - a REPL shows every error and carries on
            return "%s: %s\n" % (type(e).__name__, e)

    async def run(self):
        reader = self._reader or asyncio.StreamReader(sys.stdin)
        block = []
        while True:
            self._write(self.prompt if not block else "...    ")
            line = await reader.readline()
            if not line:
                return
            text = line.decode().rstrip("\r\n") if isinstance(line, bytes) else line.rstrip()
            if block:
                if text.strip():
                    block.append(text)
                    continue
                src = "\n".join(block)
                block = []
            elif text.rstrip().endswith(":"):
                block.append(text)
                continue
            else:
                src = text
            if src.strip():
                self._write(self.execute(src))
