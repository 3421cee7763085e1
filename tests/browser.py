"""Open a local HTML file in headless Chromium and report what a reader would get.

Talks the Chrome DevTools protocol over ``--remote-debugging-pipe`` (file
descriptors 3 and 4, messages ended by a NUL byte), with the standard library
only: no websocket client, no Selenium.  `visit` loads a page and returns its
console errors and uncaught exceptions, the page title, the values of
JavaScript expressions and a PNG screenshot; on request also every request the
page made (`Visit.network`), whether it scrolls sideways, where given elements
start against the fold, axe-core's accessibility violations and the page
printed to PDF (with its page count and text).  Pass ``browser=`` (from
`launch`) to reuse one Chromium for many visits; each visit gets a fresh tab.

Run as a script to take a full-page screenshot of a report (``--print``: as printed), or
to see what tests/test_report_browser.py would say of it (``--check``)::

    .venv/bin/python tests/browser.py out/options/report.html report.png [--print]
    .venv/bin/python tests/browser.py out/options/report.html --check
"""

from __future__ import annotations

import base64
import fcntl
import importlib.resources
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
import zlib
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
    """What the page did: errors logged, the title, evaluated values and a screenshot.

    The other fields are filled in when `visit` is asked for them: ``requests`` always,
    the layout measures always, ``tops`` with ``fold=``, ``violations`` with ``axe=True``,
    ``pdf``, ``pdf_pages`` and ``pdf_text`` with ``pdf=True``.
    """

    errors: list[str] = field(default_factory=list)
    title: str = ""
    values: dict[str, object] = field(default_factory=dict)
    png: bytes = field(default=b"", repr=False)
    print_values: dict[str, object] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)  # every URL the page asked for, but the page itself
    scroll_width: int = 0  # document.documentElement.scrollWidth, CSS pixels
    inner_width: int = 0  # window.innerWidth: the viewport
    inner_height: int = 0
    overflowing: list[str] = field(default_factory=list)  # elements sticking out on the right
    tops: dict[str, dict | None] = field(default_factory=dict)  # fold name: its box, or None if not found
    violations: list[dict] | None = None  # axe-core's, each {id, impact, help, helpUrl, nodes}
    pdf: bytes = field(default=b"", repr=False)
    pdf_pages: int = 0  # the PDF's /Type /Page objects
    pdf_text: list[str] = field(default_factory=list, repr=False)  # each printed page's text (approximate spacing)

    @property
    def network(self) -> list[str]:
        """The requests that would leave the machine or read other files: all but data: URLs."""
        return [url for url in self.requests if not url.startswith("data:")]

    @property
    def horizontal_scroll(self) -> bool:
        """True when the page is wider than the viewport (a reader must scroll sideways)."""
        return self.scroll_width > self.inner_width

    def above_fold(self, name: str) -> bool:
        """True when the ``fold`` element called ``name`` starts inside the first screen."""
        box = self.tops.get(name)
        return box is not None and box["top"] < self.inner_height

    def describe_violations(self) -> str:
        """axe's violations, one line per element: rule id, impact, selector, HTML snippet."""
        lines = []
        for v in self.violations or []:
            lines.append(f"{v['id']} ({v.get('impact')}): {v.get('help')} [{len(v['nodes'])} element(s)]")
            for node in v["nodes"][:8]:
                target = " ".join(" >> ".join(t) if isinstance(t, list) else str(t) for t in node.get("target", []))
                html = " ".join(str(node.get("html", "")).split())
                where = f" (in {node['where'][:70]})" if node.get("where") else ""
                lines.append(f"    {target}{where}: {html[:160]}")
            if len(v["nodes"]) > 8:
                lines.append(f"    ... and {len(v['nodes']) - 8} more")
        return "\n".join(lines)


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

    def wait_for(self, method: str, session: str | None = None) -> dict:
        """The first event called ``method`` (from ``session`` if given), already received or still to come."""
        def wanted(event: dict) -> bool:
            return event.get("method") == method and (session is None or event.get("sessionId") == session)

        for event in self.events:
            if wanted(event):
                return event
        while True:
            event = self._receive()
            self.events.append(event)
            if wanted(event):
                return event

    def session_events(self, session: str) -> list[dict]:
        """The events received so far from one tab."""
        return [event for event in self.events if event.get("sessionId") == session]

    def forget(self, session: str) -> None:
        """Drop a closed tab's events."""
        self.events = [event for event in self.events if event.get("sessionId") != session]

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

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


def launch(executable: str | None = None, timeout: float = 60.0) -> Browser:
    """Start Chromium for several `visit` calls (``browser=``); close it with ``.close()`` or ``with``."""
    executable = executable or chromium()
    if executable is None:
        raise FileNotFoundError("chromium not found: apt-get install -y chromium")
    return Browser(executable, timeout=timeout)


# The layout as a reader sees it: how wide the page is against the viewport, and the elements
# that stick out on the right: outermost first, skipping those that a scrolling box clips (an
# absolutely positioned element escapes a scrolling box that does not contain its containing block).
LAYOUT = r"""(() => {
  const view = window.innerWidth, root = document.documentElement, body = document.body;
  const scrolls = a => a !== root && a !== body && getComputedStyle(a).overflowX !== 'visible';
  const clipped = e => {
    const position = getComputedStyle(e).position;
    if (position === 'fixed') return false;
    let block = null;
    if (position === 'absolute')
      for (block = e.parentElement; block && block !== root && getComputedStyle(block).position === 'static';
           block = block.parentElement);
    for (let a = e.parentElement; a; a = a.parentElement)
      if (scrolls(a) && (position !== 'absolute' || (block && a.contains(block)))) return true;
    return false; };
  const path = e => { const parts = [];
    for (; e && e.nodeType === 1 && parts.length < 6; e = e.parentElement) {
      let s = e.localName; if (e.id) { parts.unshift(s + '#' + e.id); break; }
      if (e.classList.length) s += '.' + [...e.classList].join('.');
      parts.unshift(s); }
    return parts.join(' > '); };
  const found = new Map();  // alike elements (same path, same table) once, with how many and the widest
  if (root.scrollWidth > view) {
    const culprits = new Set([...body.querySelectorAll('*')].filter(
      e => e.getBoundingClientRect().right > view + 0.5 && !clipped(e)));
    for (const e of culprits) {
      if (culprits.has(e.parentElement)) continue;
      const table = e.closest('table'), caption = table && table.querySelector('caption');
      const key = path(e) + (caption ? ' in the table "' + caption.textContent.trim().slice(0, 60) + '"' : '');
      const right = Math.round(e.getBoundingClientRect().right), seen = found.get(key);
      if (seen) { seen.count += 1; seen.right = Math.max(seen.right, right); }
      else found.set(key, {count: 1, right: right, html: e.outerHTML.slice(0, 80)}); } }
  const out = [...found].slice(0, 10).map(([key, f]) =>
    key + (f.count > 1 ? ' (x' + f.count + ')' : '') + ': ' + f.html + ' (right edge ' + f.right + ' px)');
  return {scrollWidth: root.scrollWidth, innerWidth: view, innerHeight: window.innerHeight, overflowing: out};
})()"""

# axe's violations, each element with its selector, its HTML and where it is: its table's caption,
# or the heading of the section or figure around it
AXE_RUN = """(() => {
  const where = target => { try {
      const e = document.querySelector(Array.isArray(target) ? target[0] : target); if (!e) return '';
      const caption = e.querySelector('caption') || (e.closest('table') && e.closest('table').querySelector('caption'));
      if (caption) return 'table: ' + caption.textContent.trim();
      const around = e.closest('figure, section, header, footer, nav');
      const title = around && around.querySelector('figcaption, h1, h2, h3');
      return title ? around.localName + ': ' + title.textContent.trim() : '';
    } catch (error) { return ''; } };
  return axe.run(document, %s).then(r => r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    helpUrl: v.helpUrl, tags: v.tags,
    nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary,
                              where: where(n.target[0])}))})));
})()"""


def axe_source() -> str:
    """axe-core's axe.min.js, as shipped by the PyPI package axe-playwright-python (the test extra)."""
    return importlib.resources.files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


def visit(path: str | Path, *, expressions: dict[str, str] | None = None, width: int = 1200,
          height: int = 2000, full_page: bool = False, media: str = "screen", print_width: int | None = None,
          executable: str | None = None, browser: Browser | None = None, screenshot: bool = True,
          fold: dict[str, str] | None = None, axe: bool = False, axe_options: dict | None = None,
          pdf: bool = False) -> Visit:
    """Load ``path`` and return its errors, title, the values of ``expressions`` and a screenshot.

    The viewport is ``width`` x ``height`` CSS pixels (the fold is at ``height``).
    ``media="print"`` lays the page out with its print style sheet from the start.
    With ``print_width``, the page is then laid out with its print style sheet at that many
    CSS pixels (794 is A4 paper's width) and ``expressions`` evaluated again (``print_values``).
    Always: the URLs the page requested (``requests``) and its width against the viewport.
    ``fold`` maps names to CSS selectors: ``tops[name]`` is the first match's box
    ({top, bottom, left, right}, in CSS pixels from the top of the first screen) or None.
    ``axe=True`` injects axe-core and runs it (``axe_options``: its run options, by default
    violations only): ``violations``.  ``pdf=True`` prints the page (the paper size of its
    @page rule, backgrounds printed): ``pdf``, ``pdf_pages`` and ``pdf_text``.
    ``browser`` (from `launch`) reuses a running Chromium; otherwise one is started and closed.
    """
    own = browser is None
    if own:
        browser = launch(executable)
    session = None
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Emulation.setDeviceMetricsOverride",
                     {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        browser.send("Emulation.setEmulatedMedia", {"media": media}, session)
        url = Path(path).resolve().as_uri()
        browser.send("Page.navigate", {"url": url}, session)
        browser.wait_for("Page.loadEventFired", session)

        def evaluate(expression: str, promise: bool = False):
            reply = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                      "awaitPromise": promise}, session)
            if "exceptionDetails" in reply:
                details = reply["exceptionDetails"]
                raise RuntimeError("evaluating in the page: " + details.get("exception", {}).get(
                    "description", details.get("text", "")))
            return reply.get("result", {}).get("value")

        result = Visit()
        for name, expression in (expressions or {}).items():
            reply = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
            result.values[name] = reply.get("result", {}).get("value")
        result.title = evaluate("document.title") or ""
        layout = evaluate(LAYOUT)
        result.scroll_width, result.inner_width = layout["scrollWidth"], layout["innerWidth"]
        result.inner_height, result.overflowing = layout["innerHeight"], layout["overflowing"]
        for name, selector in (fold or {}).items():
            result.tops[name] = evaluate(
                f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
                " const r = e.getBoundingClientRect(); return {top: r.top + scrollY, bottom: r.bottom + scrollY,"
                " left: r.left, right: r.right}; })()")
        if screenshot:
            shot = {"format": "png"}
            if full_page:
                size = browser.send("Page.getLayoutMetrics", session=session)["cssContentSize"]
                shot.update(captureBeyondViewport=True,
                            clip={"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1})
            result.png = base64.b64decode(browser.send("Page.captureScreenshot", shot, session)["data"])
        if axe:
            # DevTools' Runtime.evaluate is not bound by the page's Content-Security-Policy
            if not evaluate("typeof window.axe === 'object' && typeof window.axe.run === 'function'"):
                evaluate(axe_source())
            result.violations = evaluate(AXE_RUN % json.dumps(axe_options or {"resultTypes": ["violations"]}),
                                         promise=True)
        if print_width:
            browser.send("Emulation.setEmulatedMedia", {"media": "print"}, session)
            browser.send("Emulation.setDeviceMetricsOverride", {"width": print_width, "height": height,
                                                                "deviceScaleFactor": 1, "mobile": False}, session)
            for name, expression in (expressions or {}).items():
                reply = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                                     session)
                result.print_values[name] = reply.get("result", {}).get("value")
        if pdf:  # as printed: the print style sheet (an emulated "screen" would stay), no viewport override
            browser.send("Emulation.setEmulatedMedia", {"media": "print"}, session)
            browser.send("Emulation.clearDeviceMetricsOverride", session=session)
            result.pdf = base64.b64decode(browser.send("Page.printToPDF", {
                "preferCSSPageSize": True, "printBackground": True}, session)["data"])
            result.pdf_pages = pdf_pages(result.pdf)
            result.pdf_text = pdf_text(result.pdf)
        events = browser.session_events(session)
        result.errors = _errors(events)
        result.requests = _requests(events, url)
        return result
    finally:
        if own:
            browser.close()
        elif session is not None:
            try:
                browser.send("Target.closeTarget", {"targetId": target})
            except (OSError, RuntimeError, TimeoutError):
                pass
            browser.forget(session)


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


def _requests(events: list[dict], page: str) -> list[str]:
    """Every URL requested (Network.requestWillBeSent), but the page's own document."""
    urls = []
    for event in events:
        if event.get("method") == "Network.requestWillBeSent":
            url = event.get("params", {}).get("request", {}).get("url", "")
            if url.split("#")[0] != page:
                urls.append(url)
    return urls


# -- PDF: a tiny reader for what Chromium (Skia) writes --------------------------------------
_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


def pdf_pages(pdf: bytes) -> int:
    """The number of pages: the /Type /Page objects (not /Pages, the page tree's nodes)."""
    return len(_PAGE.findall(pdf))


def _objects(pdf: bytes) -> dict[int, tuple[bytes, bytes | None]]:
    """Each object's dictionary text and its stream (decompressed when FlateDecode), by number."""
    objects: dict[int, tuple[bytes, bytes | None]] = {}
    header = re.compile(rb"(\d+)\s+\d+\s+obj\b")
    position = 0
    while (found := header.search(pdf, position)):
        start = found.end()
        end = pdf.find(b"endobj", start)
        if end < 0:
            break
        streamed = re.compile(rb"stream\r?\n").search(pdf, start, end)
        if streamed is None:
            objects[int(found.group(1))] = (pdf[start:end], None)
            position = end + 6
            continue
        head = pdf[start:streamed.start()]
        length = re.search(rb"/Length\s+(\d+)(\s+\d+\s+R)?", head)
        if length and length.group(2):  # an indirect length: the number is in its own object
            size = int(re.search(rb"\b%s\s+\d+\s+obj\s*(\d+)" % length.group(1), pdf).group(1))
        elif length:
            size = int(length.group(1))
        else:
            size = pdf.find(b"endstream", streamed.end()) - streamed.end()
        data = pdf[streamed.end():streamed.end() + size]
        if b"/FlateDecode" in head:
            try:
                data = zlib.decompress(data)
            except zlib.error:
                data = b""
        objects[int(found.group(1))] = (head, data)
        position = pdf.find(b"endobj", streamed.end() + size) + 6
    return objects


def _cmap(text: bytes) -> dict[int, str]:
    """A ToUnicode CMap's code -> text (bfchar and bfrange)."""
    def utf16(hexa: bytes) -> str:
        return bytes.fromhex(hexa.decode()).decode("utf-16-be", errors="replace")

    table: dict[int, str] = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", text, re.S):
        for code, value in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]*)>", block):
            table[int(code, 16)] = utf16(value)
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", text, re.S):
        for low, high, rest in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*(<[0-9A-Fa-f]*>|\[[^\]]*\])",
                                          block):
            low, high = int(low, 16), int(high, 16)
            if rest.startswith(b"["):
                for code, value in zip(range(low, high + 1), re.findall(rb"<([0-9A-Fa-f]*)>", rest)):
                    table[code] = utf16(value)
            else:
                first = bytes.fromhex(rest[1:-1].decode())
                for offset in range(high - low + 1):
                    value = first[:-2] + (int.from_bytes(first[-2:], "big") + offset).to_bytes(2, "big")
                    table[low + offset] = value.decode("utf-16-be", errors="replace")
    return table


def _literal(token: bytes) -> bytes:
    """A PDF (literal string)'s bytes."""
    body, out, i = token[1:-1], bytearray(), 0
    escapes = {ord("n"): 10, ord("r"): 13, ord("t"): 9, ord("b"): 8, ord("f"): 12}
    while i < len(body):
        c = body[i]
        if c == 0x5C and i + 1 < len(body):  # backslash
            nxt = body[i + 1]
            octal = re.match(rb"[0-7]{1,3}", body[i + 1:i + 4])
            if octal:
                out.append(int(octal.group(), 8) & 0xFF)
                i += 1 + len(octal.group())
                continue
            out.append(escapes.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


_TOKENS = re.compile(rb"<[0-9A-Fa-f\s]*>|\((?:\\.|[^\\)])*\)|\[|\]|/[^\s/\[\]()<>]+|[-+.\d]+|[A-Za-z'\"*]+", re.S)


def pdf_text(pdf: bytes) -> list[str]:
    """Each page's text, in page order, decoded through the fonts' ToUnicode maps.

    Text runs on one line are joined as they come; a new line (or a run that goes back left)
    starts a new line of text; ligatures are undone (NFKC).  Good enough to search for words and numbers.
    """
    objects = _objects(pdf)

    def ref(text: bytes, key: bytes) -> int | None:
        found = re.search(rb"/%s\s+(\d+)\s+\d+\s+R" % key, text)
        return int(found.group(1)) if found else None

    catalog = next((head for head, _ in objects.values() if re.search(rb"/Type\s*/Catalog", head)), b"")
    pages: list[int] = []

    def walk(number: int | None, depth: int = 0) -> None:
        if number is None or number not in objects or depth > 32:
            return
        head = objects[number][0]
        if _PAGE.search(head):
            pages.append(number)
        kids = re.search(rb"/Kids\s*\[([^\]]*)\]", head)
        for kid in re.findall(rb"(\d+)\s+\d+\s+R", kids.group(1)) if kids else []:
            walk(int(kid), depth + 1)

    walk(ref(catalog, b"Pages"))
    fonts_cache: dict[int, tuple[dict[int, str], int]] = {}

    def font(number: int) -> tuple[dict[int, str], int]:
        if number not in fonts_cache:
            head = objects.get(number, (b"", None))[0]
            to_unicode = ref(head, b"ToUnicode")
            table = _cmap(objects[to_unicode][1] or b"") if to_unicode in objects else {}
            fonts_cache[number] = (table, 2 if re.search(rb"/Subtype\s*/Type0", head) else 1)
        return fonts_cache[number]

    texts = []
    for number in pages:
        head = objects[number][0]
        resources = head
        if (indirect := ref(head, b"Resources")) is not None:
            resources = objects.get(indirect, (b"", None))[0]
        font_dict = re.search(rb"/Font\s*<<(.*?)>>", resources, re.S)
        if font_dict is None and (indirect := ref(resources, b"Font")) is not None:
            font_dict = re.search(rb"(.*)", objects.get(indirect, (b"", None))[0], re.S)
        names = {name: int(n) for name, n in re.findall(rb"/([^\s/<>\[\]]+)\s+(\d+)\s+\d+\s+R",
                                                        font_dict.group(1) if font_dict else b"")}
        contents = re.search(rb"/Contents\s*(\[[^\]]*\]|\d+\s+\d+\s+R)", head)
        streams = [int(n) for n in re.findall(rb"(\d+)\s+\d+\s+R", contents.group(1))] if contents else []
        content = b"\n".join(objects.get(n, (b"", b""))[1] or b"" for n in streams)
        lines, line, operands = [], "", []
        table, width, last = {}, 1, None
        for token in _TOKENS.findall(content):
            if token[:1] in b"</([]-+.0123456789" and token not in (b"[", b"]"):
                operands.append(token)
                continue
            if token in (b"[", b"]"):
                operands.append(token)
                continue
            if token == b"Tf" and len(operands) >= 2:
                table, width = font(names.get(operands[-2][1:], -1))
            elif token == b"Tm" and len(operands) >= 6:
                try:
                    x, y = float(operands[-2]), float(operands[-1])
                except ValueError:
                    x, y = 0.0, 0.0
                if last is not None and (abs(y - last[1]) > 0.01 or x < last[0]):
                    lines.append(line)
                    line = ""
                last = (x, y)
            elif token in (b"Tj", b"TJ", b"'", b'"'):
                for string in operands:
                    if string[:1] == b"<":
                        raw = bytes.fromhex(re.sub(rb"\s", b"", string[1:-1]).decode())
                    elif string[:1] == b"(":
                        raw = _literal(string)
                    else:
                        continue
                    for i in range(0, len(raw) - width + 1, width):
                        code = int.from_bytes(raw[i:i + width], "big")
                        line += table.get(code, chr(code) if width == 1 and 32 <= code < 127 else "")
            operands = []
        lines.append(line)
        texts.append(unicodedata.normalize("NFKC", "\n".join(part for part in lines if part.strip())))
    return texts


def check(page: str | Path, widths: tuple[int, ...] = (1280, 400), height: int = 720) -> str:
    """What tests/test_report_browser.py checks, for one page, as text to read."""
    lines = []
    with launch() as running:
        for width in widths:
            seen = visit(page, browser=running, width=width, height=height, screenshot=False,
                         fold={"brief": "#brief, section.brief"}, axe=True, pdf=width == widths[0])
            brief = seen.tops["brief"]
            lines += [f"{width} x {height} px:", f"  errors: {seen.errors or 'none'}",
                      f"  network: {seen.network or 'none'}",
                      f"  page width {seen.scroll_width} px" + "".join(f"\n    {o}" for o in seen.overflowing),
                      f"  brief starts at {brief['top']:.0f} px" if brief else "  no brief",
                      "  axe: " + ("\n" + seen.describe_violations() if seen.violations else "no violations")]
            if seen.pdf:
                lines.append(f"  printed: {seen.pdf_pages} pages")
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[2:3] == ["--check"]:  # tests/browser.py out/options/report.html --check
        print(check(sys.argv[1]))
        sys.exit()
    page, out = sys.argv[1], sys.argv[2]
    printed = "--print" in sys.argv[3:]  # as on A4 paper, with the print style sheet
    seen = visit(page, full_page=True, media="print" if printed else "screen", width=794 if printed else 1200)
    Path(out).write_bytes(seen.png)
    print(f"{out}: {len(seen.png):,} bytes; title {seen.title!r}; errors: {seen.errors or 'none'}")
