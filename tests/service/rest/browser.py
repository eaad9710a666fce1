"""Debian's headless Chromium driven over the DevTools protocol by a tiny WebSocket client
(the standard library only): open a page, evaluate JavaScript, take screenshots."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx

CHROMIUM = shutil.which("chromium")  # the Debian package .ci/debian-packages installs


class WebSocket:
    """A client WebSocket (RFC 6455) of text messages: enough for the DevTools protocol."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        where = urlparse(url)
        self.sock = socket.create_connection((where.hostname, where.port), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {where.path} HTTP/1.1\r\nHost: {where.netloc}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        reply = b""
        while b"\r\n\r\n" not in reply:
            reply += self.sock.recv(4096)
        head, _, self.pending = reply.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"no WebSocket upgrade: {head[:200]!r}")

    def send(self, text: str) -> None:
        data, mask = text.encode(), os.urandom(4)
        size = len(data)
        head = struct.pack("!BB", 0x81, 0x80 | size) if size < 126 else (
            struct.pack("!BBH", 0x81, 0x80 | 126, size) if size < 1 << 16
            else struct.pack("!BBQ", 0x81, 0x80 | 127, size))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def receive(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack("!H", self._read(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(size)
            if first & 0x0F in (0x1, 0x0):  # text, or its continuation
                message += payload
                if first & 0x80:
                    return message.decode()

    def _read(self, count: int) -> bytes:
        while len(self.pending) < count:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("the browser closed the DevTools connection")
            self.pending += chunk
        data, self.pending = self.pending[:count], self.pending[count:]
        return data

    def close(self) -> None:
        self.sock.close()


class Page:
    """One browser tab, spoken to by DevTools commands."""

    def __init__(self, socket_url: str) -> None:
        self.ws = WebSocket(socket_url)
        self._id = 0

    def call(self, method: str, **params) -> dict:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            reply = json.loads(self.ws.receive())
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        """The viewport as PNG bytes."""
        return base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])


@contextlib.contextmanager
def chromium(width: int = 900, height: int = 320, offline: bool = False) -> Iterator[Page]:
    """A headless Chromium with one blank tab, closed when the block ends; ``offline``: every
    host but 127.0.0.1 fails to resolve, as with no internet."""
    assert CHROMIUM, "chromium is not installed"
    profile = Path(tempfile.mkdtemp(prefix="nightowl-chromium-"))
    process = subprocess.Popen(
        [CHROMIUM, "--headless=new", "--remote-debugging-port=0", f"--user-data-dir={profile}",
         f"--window-size={width},{height}", "--no-first-run", "--no-default-browser-check",
         "--disable-gpu", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         *(["--no-sandbox"] if os.geteuid() == 0 else []),
         *(["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"] if offline else []),
         "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    page = None
    try:
        port = _devtools_port(profile, process)
        tabs = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = Page(next(t for t in tabs if t["type"] == "page")["webSocketDebuggerUrl"])
        page.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)  # the viewport, whatever the window's frame
        yield page
    finally:
        if page is not None:
            page.ws.close()
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(profile: Path, process: subprocess.Popen, timeout: float = 30.0) -> int:
    """The port Chromium chose, from the DevToolsActivePort file it writes once listening."""
    deadline = time.monotonic() + timeout
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chromium exited with status {process.returncode}")
        if marker.exists() and (lines := marker.read_text().split()):
            return int(lines[0])
        time.sleep(0.05)
    raise TimeoutError(f"chromium did not open its DevTools port within {timeout:g} s")
