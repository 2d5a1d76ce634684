"""Write docs/repl.txt: a `gradcli repl` session typed through a pseudo-terminal (pexpect) and
read back as the terminal shows it (pyte, a terminal emulator), so the capture is what a person
sees, prompts, line editing and all. A development tool: `pip install pexpect pyte`, then

    PYTHONPATH=. python docs/repl_capture.py            # writes docs/repl.txt
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pexpect
import pyte

ROWS, COLUMNS = 400, 104  # the emulator's screen, tall enough to hold the whole session
TERMINAL_ROWS = 30  # what the session is told: the plot takes the terminal's height

# (keys typed, what to wait for before the next): Enter is \r, as a terminal sends it
SESSION = [
    ("(x + y) * z\r", "∂f/∂z = 3"),
    ("x := 3\r", "∂f/∂z = 8"),
    (":steps\r", "distributes: passes"),
    ("q = x + y\r", "..."),
    ("sig(t) = 1/(1 + exp(-t))\r", "..."),
    ("sig(q * z)\r", "∂f/∂z = "),
    ("z := -0.25\r", "∂f/∂z = "),
    (":diff z\r", "∂f/∂z = "),
    (":check\r", "check passed"),
    (":plot z -1:1\r", "∂f/∂z"),
    ("x * w\r", "hint:"),
    ("w := 0.5\r", "∂f/∂w = "),
    (":save circuit.grad\r", "saved circuit.grad"),
]


def capture() -> str:
    screen = pyte.Screen(COLUMNS, ROWS)
    stream = pyte.Stream(screen)
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "XDG_DATA_HOME": home, "NO_COLOR": "1", "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1"}
        env.pop("COLUMNS", None)
        child = pexpect.spawn(sys.executable, ["-m", "gradcli", "repl", "x=-2", "y=5", "z=-4"], env=env,
                              encoding="utf-8", timeout=30, dimensions=(TERMINAL_ROWS, COLUMNS), cwd=home)
        seen = []

        def wait(text: str) -> None:
            child.expect_exact(text)
            seen.append(child.before + child.after)

        wait("grad>")
        for keys, until in SESSION:
            child.send(keys)
            wait(until)
            if until != "...":  # a program goes on: no new prompt yet
                wait("grad>")
        child.send("\x04")
        child.expect(pexpect.EOF)
        seen.append(child.before)
        child.close()
    stream.feed("".join(seen).replace("\r\r\n", "\r\n"))
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    return "$ gradcli repl x=-2 y=5 z=-4\n" + "\n".join(lines) + "\n"


if __name__ == "__main__":
    text = capture()
    Path(__file__).with_name("repl.txt").write_text(text, encoding="utf-8")
    print(text)
