"""Each camera's latest pair: newest by sequence, an fps estimate, JPEG on demand, forgotten
with its buffer."""

from __future__ import annotations

import asyncio

import cv2
import numpy as np

from nightowl.service.serving.previews import Preview, Previews, jpeg, visible_input


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pair(level: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((8, 12, 3), level, np.uint8), np.full((8, 12, 3), level * 10, np.uint8)


def test_smoke_keeps_the_newest_pair_and_estimates_fps():
    clock = Clock()
    previews = Previews(clock)
    for sequence in range(5):
        previews.put("cam", *pair(10 + sequence), sequence, gain=10.0)
        clock.now += 0.1
    preview = previews.get("cam")
    assert preview.sequence == 4 and preview.version == 4 and preview.input[0, 0, 0] == 14
    assert abs(preview.fps - 10.0) < 0.01
    [listed] = previews.cameras()
    assert listed["id"] == "cam" and listed["gain"] == 10.0 and listed["width"] == 12
    assert abs(listed["last_seen_s"] - 0.1) < 1e-6


def test_a_late_result_does_not_replace_a_newer_one():
    previews = Previews(Clock())
    previews.put("cam", *pair(20), 7, gain=None)
    previews.put("cam", *pair(10), 6, gain=None)
    assert previews.get("cam").sequence == 7


def test_retain_forgets_cameras_whose_buffer_is_gone():
    previews = Previews(Clock())
    previews.put("a", *pair(1), 0, None)
    previews.put("b", *pair(1), 0, None)
    previews.retain({"b"})
    assert "a" not in previews and "b" in previews


def test_jpeg_is_encoded_once_per_pair_and_side():
    frame, image = pair(10)
    preview = Preview(frame, image, 0, 10.0, 0.0)
    first = jpeg(preview, "output")
    assert first[:3] == b"\xff\xd8\xff" and jpeg(preview, "output") is first
    shown = cv2.imdecode(np.frombuffer(jpeg(preview, "input"), np.uint8), cv2.IMREAD_COLOR)
    assert abs(float(shown.mean()) - 100) < 3  # brightened by the gain


def test_visible_input_without_a_gain_matches_the_output_level():
    frame, image = pair(12)
    shown = visible_input(Preview(frame.astype(np.uint16) * 257, image.astype(np.uint16) * 257,
                                  0, None, 0.0))
    assert shown.dtype == np.uint8 and abs(float(shown.mean()) - 120) < 1


def test_newer_waits_for_the_next_pair_or_times_out():
    async def scenario():
        previews = Previews()
        previews.put("cam", *pair(1), 0, None)
        asyncio.get_running_loop().call_later(0.05, previews.put, "cam", *pair(2), 1, None)
        arrived = await previews.newer("cam", 0, timeout=5)
        stale = await previews.newer("cam", 1, timeout=0.05)
        gone = await previews.newer("other", 0, timeout=0.05)
        return arrived.version, stale.version, gone

    assert asyncio.run(scenario()) == (1, 1, None)
