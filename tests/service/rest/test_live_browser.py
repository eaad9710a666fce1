"""The live view in a real browser: Debian's headless Chromium opens /live on a real server
while a camera posts dark frames; its screenshots show both panes far brighter than the frames
as sent (the input pane is brightened by the gain, so the two are about as bright), the
enhanced pane cleaner than the input pane and updating, and the first frames arrive within
5 s of opening the page."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest

from tests.service.rest.browser import CHROMIUM, chromium
from tests.serving import png, running, sequence

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium on PATH "
                                 "(.ci/debian-packages installs it)")]
CAMERA = "roadside-1"
SIZE = (160, 120)  # (width, height): big enough to see in the screenshot, cheap on a CPU
FIRST_FRAME_S = 5.0  # opening the page to both panes showing a frame
PANES = ("JSON.stringify(['input', 'output'].map((id) => {"
         " const r = document.getElementById(id).getBoundingClientRect();"
         " return [r.left, r.top, r.width, r.height]; }))")
SHOWING = ("['input', 'output'].every((id) => document.getElementById(id).naturalWidth > 0)")


def dark_frames() -> list[np.ndarray]:
    """(H, W, 3) uint8 dark frames of a few generator sequences, in order."""
    return [f for index in range(3) for f in sequence(11, index, SIZE)]


def feed(url: str, stop: threading.Event, fps: float = 8.0) -> None:
    """Post the dark frames to CAMERA, in order and round again, until ``stop``."""
    frames = [png(f) for f in dark_frames()]
    number = 0
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            reply = client.post(url + "/enhance", params={"camera_id": CAMERA},
                                data={"sequence": str(number)},
                                files=[("frames", ("f.png", frames[number % len(frames)],
                                                   "image/png"))])
            assert reply.status_code == 200, reply.text
            number += 1
            stop.wait(1.0 / fps)


def pane(screenshot: np.ndarray, box: list[float]) -> np.ndarray:
    left, top, width, height = (round(v) for v in box)
    return screenshot[top:top + height, left:left + width]


def noise(image: np.ndarray) -> float:
    """Mean absolute high-pass response: grain and speckle, what enhancement removes."""
    return float(np.abs(image - cv2.GaussianBlur(image, (5, 5), 0)).mean())


def grey(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE).astype(np.float32)


def test_the_page_shows_input_and_output_updating(engines, tmp_path: Path):
    stop = threading.Event()
    with running(engines) as run, chromium() as page:
        feeder = threading.Thread(target=feed, args=(run.url, stop), daemon=True)
        feeder.start()
        try:
            while not httpx.get(run.url + "/live/cameras").json():
                time.sleep(0.05)  # the camera has a pair: the page has something to show
            opened = time.monotonic()
            page.call("Page.navigate", url=run.url + f"/live?camera={CAMERA}")
            while not page.evaluate(SHOWING):
                assert time.monotonic() - opened < FIRST_FRAME_S, "no frame within 5 s"
                time.sleep(0.02)
            first_frame_s = time.monotonic() - opened
            time.sleep(1.0)  # a few more frames, and the stats refreshed
            boxes = json.loads(page.evaluate(PANES))
            first = page.screenshot()
            time.sleep(1.0)
            second = page.screenshot()
            stats = page.evaluate("document.getElementById('stats').textContent")
        finally:
            stop.set()
            feeder.join(30)
    print(f"time to first frame: {first_frame_s:.3f} s; stats: {stats}")
    (tmp_path / "live.png").write_bytes(first)
    if target := os.environ.get("NIGHTOWL_LIVE_SCREENSHOT"):  # the README's picture
        cv2.imwrite(target, cv2.imdecode(np.frombuffer(first, np.uint8), cv2.IMREAD_COLOR),
                    [cv2.IMWRITE_JPEG_QUALITY, 80])
    shots = [grey(first), grey(second)]
    shown_in, shown_out = (pane(shots[0], box) for box in boxes)
    assert shown_in.size and shown_out.size and shown_in.shape == shown_out.shape
    sent = float(np.mean([f.mean() for f in dark_frames()]))
    print(f"grey means: frames sent {sent:.1f}, input pane {shown_in.mean():.1f}, output pane "
          f"{shown_out.mean():.1f}; noise: input pane {noise(shown_in):.2f}, output pane "
          f"{noise(shown_out):.2f}")
    assert shown_out.mean() > 40 and shown_out.mean() > 4 * sent  # readable, not a black pane
    assert shown_in.mean() > 4 * sent  # the dark input made visible by the gain
    assert noise(shown_out) < 0.8 * noise(shown_in)  # the enhanced pane is the cleaner one
    change = np.abs(pane(shots[1], boxes[1]) - shown_out).mean()
    assert change > 1.0, f"the output pane did not change between screenshots ({change:.2f})"
    assert first_frame_s < FIRST_FRAME_S and "fps" in stats and "gain" in stats
