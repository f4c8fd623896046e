"""Open a page in real headless Chromium and report what a person (and the console) would see.

Chromium is driven over its DevTools protocol (a websocket, `websocket-client`): the page is
loaded from `file://`, the test waits until the page says its charts are drawn (`data-ready` on
`<body>`), and `visit` returns the rendered text, the console errors and uncaught exceptions,
every request that left the page (anything not `file:`, `data:`, `blob:` or `about:`), the
number of charts plotly drew, and a screenshot. Used by the page tests and by
`scripts/screenshots.py`.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome-error:", "devtools:")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


@dataclass(frozen=True)
class Click:
    """An action: a real mouse click where `where` (JavaScript giving `[x, y]`) points."""

    where: str


@dataclass
class Visit:
    """What one page load showed."""

    text: str = ""  # document.body.innerText
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # URLs that would have left the machine
    charts: int = 0  # plotly charts drawn
    ready: bool = False  # the page finished drawing
    screenshot: bytes = b""  # PNG
    results: list = field(default_factory=list)  # of the `actions`, in order


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def visit(
    page: Path,
    *,
    width: int = 1280,
    height: int = 1600,
    timeout: float = 60.0,
    actions: tuple[str | Click, ...] = (),
) -> Visit:
    """Load `page` in a fresh headless Chromium and report what it showed; `actions` are
    JavaScript expressions run in turn once the page is drawn (clicks, typing), values kept."""
    import websocket

    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("Chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory(prefix="fah-chromium-") as profile:
        process = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = _devtools_port(Path(profile), process, timeout)
            socket = websocket.create_connection(_page_socket(port, timeout), timeout=timeout)
            try:
                session = _Session(socket)
                return session.load(page.resolve().as_uri(), width, height, timeout, actions)
            finally:
                socket.close()
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _devtools_port(profile: Path, process: subprocess.Popen, timeout: float) -> int:
    """Chromium writes the port it chose to `DevToolsActivePort` in its profile folder."""
    deadline = time.monotonic() + timeout
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Chromium exited at start-up (code {process.returncode})")
        if marker.exists():
            first = marker.read_text().splitlines()[:1]
            if first and first[0].isdigit():
                return int(first[0])
        time.sleep(0.05)
    raise RuntimeError("Chromium did not open its DevTools port")


def _page_socket(port: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
            targets = json.load(answer)
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.05)
    raise RuntimeError("Chromium opened no page")


class _Session:
    """One page's DevTools session: commands out, events collected while waiting."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.ids = itertools.count(1)
        self.visit = Visit()
        self.loaded = False

    def call(self, method: str, **params) -> dict:
        call_id = next(self.ids)
        self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def _event(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params.get("args", [])
            self.visit.console_errors.append(
                " ".join(str(a.get("value", a.get("description", ""))) for a in args)
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            text = details.get("exception", {}).get("description") or details.get("text", "")
            self.visit.console_errors.append(f"uncaught: {text}")
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            self.visit.console_errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(LOCAL_SCHEMES):
                self.visit.requests.append(url)
        elif method == "Page.loadEventFired":
            self.loaded = True

    def act(self, action: str | Click):
        if isinstance(action, str):
            return self.evaluate(action)
        x, y = self.evaluate(action.where)
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
        time.sleep(1.0)  # plotly animates a zoom
        return [x, y]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result.get("result", {}).get("value")

    def load(
        self, url: str, width: int, height: int, timeout: float, actions: tuple[str | Click, ...]
    ) -> Visit:
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self.evaluate("document.body && document.body.dataset.ready")  # reads events
            if self.loaded and ready:
                self.visit.ready = True
                break
            time.sleep(0.1)
        time.sleep(0.3)  # let plotly finish its transitions before the picture
        self.visit.results = [self.act(action) for action in actions]
        self.visit.text = self.evaluate("document.body ? document.body.innerText : ''") or ""
        self.visit.charts = self.evaluate("document.querySelectorAll('.js-plotly-plot').length")
        shot = self.call("Page.captureScreenshot", format="png")
        self.visit.screenshot = base64.b64decode(shot["data"])
        self.evaluate("1")  # collect the events that arrived meanwhile
        return self.visit


def is_blank(png: bytes) -> bool:
    """True when the picture is (nearly) one colour."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").resize((160, 200))
    colours = image.getcolors(maxcolors=160 * 200) or []
    most = max((count for count, _ in colours), default=0)
    return len(colours) < 8 or most > 0.98 * 160 * 200
