"""The command line's progress line: where long work has got to, on one line of a terminal.

`ProgressLine` receives the stages the library reports (`allocator.progress`) and keeps one
line of stderr up to date with the stage and the seconds so far, redrawn every half second so
that a long solve shows it is alive.  It draws only when stderr is a terminal and the command
was not given ``-q``; whatever the command then prints on stdout first clears the line, so the
results are never mixed with it.  On a pipe, in CI logs and under tests it shows nothing.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time

import click

CLEAR = "\r\033[K"


class ProgressLine:
    """A reporter for `allocator.progress.reporting`: one redrawn line on ``stream``."""

    def __init__(self, stream, interval: float = 0.5):
        self.stream = stream
        self.interval = interval
        self.start = time.monotonic()
        self.text = ""
        self.shown = False
        self.lock = threading.RLock()
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    @classmethod
    def on_terminal(cls, stream=None) -> "ProgressLine | None":
        """A progress line on ``stream`` (stderr), or None when it is not a terminal."""
        stream = stream if stream is not None else sys.stderr
        try:
            return cls(stream) if stream.isatty() else None
        except (AttributeError, ValueError):  # a closed or unusual stream: no line
            return None

    def __call__(self, text: str) -> None:
        context = click.get_current_context(silent=True)
        if context is not None and context.params.get("quiet"):
            return
        with self.lock:
            self.text = text
            self._draw()
        if self.thread is None:
            self.thread = threading.Thread(target=self._tick, name="allocator-progress", daemon=True)
            self.thread.start()

    def _tick(self) -> None:
        while not self.stopped.wait(self.interval):
            with self.lock:
                if self.text:
                    self._draw()

    def _draw(self) -> None:
        seconds = time.monotonic() - self.start
        line = f"[{seconds:.0f} s] {self.text}"
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        if len(line) > width:
            line = line[:width - 3] + "..."
        self.stream.write(CLEAR + line)
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Take the line off the terminal (it comes back at the next stage or tick)."""
        with self.lock:
            if self.shown:
                self.stream.write(CLEAR)
                self.stream.flush()
                self.shown = False

    def close(self) -> None:
        """Stop redrawing and take the line off the terminal."""
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(timeout=1.0)
        with self.lock:
            self.text = ""
        self.clear()


class ClearingStream:
    """``stream`` (stdout) that takes the progress line off the terminal before each write."""

    def __init__(self, stream, line: ProgressLine):
        self._stream, self._line = stream, line

    def write(self, text: str) -> int:
        with self._line.lock:
            self._line.text = ""
            self._line.clear()
            return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)
