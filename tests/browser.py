"""Open a local HTML file in headless Chromium and report what a reader would get.

Talks the Chrome DevTools protocol over ``--remote-debugging-pipe`` (file
descriptors 3 and 4, messages ended by a NUL byte), with the standard library
only: no websocket client, no Selenium.  `visit` loads a page and returns its
console errors and uncaught exceptions, the page title, the values of
JavaScript expressions and a PNG screenshot.

Run as a script to take a full-page screenshot of a report (``--print``: as printed)::

    .venv/bin/python tests/browser.py out/options/report.html report.png [--print]
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--no-default-browser-check", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
         "--hide-scrollbars", "--remote-debugging-pipe")


def chromium() -> str | None:
    """The Chromium executable (Debian's package installs /usr/bin/chromium), or None."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Visit:
    """What the page did: errors logged, the title, evaluated values and a screenshot."""

    errors: list[str] = field(default_factory=list)
    title: str = ""
    values: dict[str, object] = field(default_factory=dict)
    png: bytes = b""
    print_values: dict[str, object] = field(default_factory=dict)


class Browser:
    """A Chromium process driven over the DevTools pipe."""

    def __init__(self, executable: str, timeout: float = 30.0):
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="allocator-chromium-")
        to_child_r, self._write = os.pipe()
        self._read, from_child_w = os.pipe()

        def fds():  # the protocol's fixed descriptors: 3 = commands in, 4 = replies out
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (to_child_r, from_child_w)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=fds, pass_fds=(3, 4))
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send one command and wait for its reply; events that arrive meanwhile are kept."""
        self._next += 1
        message = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        """The first event called ``method`` (already received or still to come)."""
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._receive()
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _receive(self) -> dict:
        deadline = time.monotonic() + self.timeout
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise TimeoutError(f"no reply from Chromium within {self.timeout:.0f} s")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe (did it crash?)")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)


def visit(path: str | Path, *, expressions: dict[str, str] | None = None, width: int = 1200,
          height: int = 2000, full_page: bool = False, media: str = "screen", print_width: int | None = None,
          executable: str | None = None) -> Visit:
    """Load ``path`` and return its errors, title, the values of ``expressions`` and a screenshot.

    ``media="print"`` lays the page out with its print style sheet from the start.
    With ``print_width``, the page is then laid out with its print style sheet at that many
    CSS pixels (794 is A4 paper's width) and ``expressions`` evaluated again (``print_values``).
    """
    executable = executable or chromium()
    if executable is None:
        raise FileNotFoundError("chromium not found: apt-get install -y chromium")
    browser = Browser(executable)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        browser.send("Emulation.setEmulatedMedia", {"media": media}, session)
        browser.send("Page.navigate", {"url": Path(path).resolve().as_uri()}, session)
        browser.wait_for("Page.loadEventFired")
        result = Visit()
        for name, expression in (expressions or {}).items():
            reply = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
            result.values[name] = reply.get("result", {}).get("value")
        result.title = browser.send("Runtime.evaluate", {"expression": "document.title", "returnByValue": True},
                                    session)["result"].get("value", "")
        shot = {"format": "png"}
        if full_page:
            size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot.update(captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1})
        result.png = base64.b64decode(browser.send("Page.captureScreenshot", shot, session)["data"])
        if print_width:
            browser.send("Emulation.setEmulatedMedia", {"media": "print"}, session)
            browser.send("Emulation.setDeviceMetricsOverride", {"width": print_width, "height": height,
                                                                "deviceScaleFactor": 1, "mobile": False}, session)
            for name, expression in (expressions or {}).items():
                reply = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                     session)
                result.print_values[name] = reply.get("result", {}).get("value")
        result.errors = _errors(browser.events)
        return result
    finally:
        browser.close()


def _errors(events: list[dict]) -> list[str]:
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append("uncaught: " + details.get("exception", {}).get("description", details.get("text", "")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                 for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            errors.append(f"log ({entry.get('source')}): {entry.get('text')}")
    return errors


if __name__ == "__main__":
    page, out = sys.argv[1], sys.argv[2]
    printed = "--print" in sys.argv[3:]  # as on A4 paper, with the print style sheet
    seen = visit(page, full_page=True, media="print" if printed else "screen", width=794 if printed else 1200)
    Path(out).write_bytes(seen.png)
    print(f"{out}: {len(seen.png):,} bytes; title {seen.title!r}; errors: {seen.errors or 'none'}")
