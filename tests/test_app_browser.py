"""`allocator app` in real headless Chromium: start it on a free port, change the budget, and see
the brief and a chart follow (the pages' logic is tested faster with AppTest in test_app_pages.py).

Drives Chromium over the DevTools pipe (tests/browser.py): no Playwright browser download.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import browser

pytest.importorskip("streamlit", reason="the web app needs the 'app' extra: pip install 'allocator[app]'")
CHROMIUM = browser.chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
SHOTS = os.environ.get("ALLOCATOR_APP_SCREENSHOT")  # a path: also save a screenshot (the README's)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """`allocator app quickstart --no-browser` on a free port, until the module's tests end."""
    from allocator.cli.app import free_port

    port = free_port("127.0.0.1")
    log = tmp_path_factory.mktemp("app") / "app.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "allocator.cli", "app", "quickstart", "--no-browser",
                                    "--port", str(port)], stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(url + "_stcore/health", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the app did not start: {Path(log).read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


class Tab:
    """One Chromium tab: evaluate JavaScript, wait for a condition, type, screenshot."""

    def __init__(self, running: browser.Browser, url: str):
        self.b = running
        target = running.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.s = running.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime"):
            running.send(f"{domain}.enable", session=self.s)
        running.send("Emulation.setDeviceMetricsOverride",
                     {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}, self.s)
        running.send("Page.navigate", {"url": url}, self.s)

    def js(self, expression: str):
        reply = self.b.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                 "awaitPromise": True}, self.s)
        return reply.get("result", {}).get("value")

    def until(self, expression: str, what: str, timeout: float = 90.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.4)
        raise AssertionError(f"timed out waiting for {what}; the page says: {self.text()[-1500:]!r}")

    def text(self) -> str:
        return self.js("document.body ? document.body.innerText : ''") or ""

    def type_into(self, selector: str, text: str) -> None:
        """Focus the element, select its text, type ``text`` and press Enter (as a person would)."""
        assert self.js(f"(() => {{const e = document.querySelector({selector!r}); if (!e) return false; "
                       "e.focus(); e.select && e.select(); return true;})()"), f"no element {selector}"
        self.b.send("Input.insertText", {"text": text}, self.s)
        for kind in ("keyDown", "keyUp"):
            self.b.send("Input.dispatchKeyEvent", {"type": kind, "key": "Enter", "code": "Enter",
                                                   "windowsVirtualKeyCode": 13}, self.s)

    def screenshot(self, path: str) -> None:
        import base64

        data = self.b.send("Page.captureScreenshot", {"format": "png"}, self.s)["data"]
        Path(path).write_bytes(base64.b64decode(data))


BRIEF = "document.querySelector('.st-key-brief') ? document.querySelector('.st-key-brief').innerText : ''"
CHARTS = "document.querySelectorAll('[data-testid=\"stVegaLiteChart\"], [data-testid=\"stImage\"], svg').length"
BUDGET = ".st-key-budget input"


def test_changing_the_budget_updates_the_brief_and_the_charts(app_url):
    with browser.launch(CHROMIUM) as running:
        tab = Tab(running, app_url)
        before = tab.until(f"({BRIEF}).includes('£100.0m') && ({BRIEF})", "the brief of the £100m budget")
        assert tab.until(f"{CHARTS} > 0", "a chart")
        assert "Traceback" not in tab.text() and "Error" not in tab.text()[:200]
        tab.until(f"!!document.querySelector({BUDGET!r})", "the budget control")
        tab.type_into(BUDGET, "120000000")
        after = tab.until(f"({BRIEF}).includes('£120.0m') && ({BRIEF})", "the brief of the £120m budget")
        assert after != before
        assert tab.until(f"{CHARTS} > 0", "the charts after the change")
        if SHOTS:
            tab.screenshot(SHOTS)
