"""Each camera's latest dark input (frame T) and enhanced output, for people to look at.

Only references are kept on a frame's path (no copy, no encoding): one pair per camera, the
newest by sequence number, dropped with the camera's buffer (when its stream ends, or at the
service's next sweep after an idle camera is evicted). JPEG encoding happens when a viewer
asks (``jpeg``), once per pair and side however many viewers watch. The input is shown
brightened by the gain behind the output (else by the output's mean over the input's), since a
dark frame as captured looks black to a person. Used from the server's event loop: no locks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from nightowl.service.serving.images import encode

Side = Literal["input", "output"]
_FPS_SMOOTHING = 0.2  # weight of the newest interval in the frames-per-second estimate


@dataclass
class Preview:
    """One camera's latest pair and what a viewer is told about it."""

    input: np.ndarray  # (H, W, 3) frame T as received, uint8 or uint16 RGB
    output: np.ndarray  # (H, W, 3) its enhanced frame, same dtype
    sequence: int
    gain: float | None  # the gain S behind the output; None: the model used none
    last_seen: float  # clock seconds of the newest pair
    version: int = 0  # counts pairs, so viewers and the JPEG cache see a new one
    fps: float = 0.0  # smoothed pairs per second
    jpegs: dict[Side, bytes] = field(default_factory=dict)  # this version's, encoded lazily


class Previews:
    """The latest pair of every camera (see the module doc)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._cameras: dict[str, Preview] = {}
        self._changed = asyncio.Event()  # set and replaced on every new pair

    def __contains__(self, camera_id: str) -> bool:
        return camera_id in self._cameras

    def put(self, camera_id: str, frame: np.ndarray, image: np.ndarray, sequence: int,
            gain: float | None) -> None:
        """Keep ``frame`` and its enhanced ``image`` unless a newer sequence is already kept."""
        now = self.clock()
        old = self._cameras.get(camera_id)
        if old is not None and sequence <= old.sequence:
            return
        preview = Preview(frame, image, sequence, gain, now)
        if old is not None:
            interval = max(now - old.last_seen, 1e-6)
            rate = 1.0 / interval
            preview.fps = rate if old.fps == 0 else (
                _FPS_SMOOTHING * rate + (1 - _FPS_SMOOTHING) * old.fps)
            preview.version = old.version + 1
        self._cameras[camera_id] = preview
        self._changed.set()
        self._changed = asyncio.Event()

    def get(self, camera_id: str) -> Preview | None:
        return self._cameras.get(camera_id)

    def cameras(self) -> list[dict]:
        """Every camera with a pair: id, fps, gain, seconds since its last pair."""
        now = self.clock()
        return [{"id": camera_id, "fps": round(p.fps, 2), "gain": p.gain,
                 "last_seen_s": round(now - p.last_seen, 3), "sequence": p.sequence,
                 "width": p.output.shape[1], "height": p.output.shape[0]}
                for camera_id, p in sorted(self._cameras.items())]

    def retain(self, cameras: Container[str]) -> None:
        """Forget every camera not in ``cameras`` (those whose buffer was dropped)."""
        for camera_id in [c for c in self._cameras if c not in cameras]:
            del self._cameras[camera_id]

    async def newer(self, camera_id: str, version: int, timeout: float) -> Preview | None:
        """The camera's pair once its version passes ``version`` (or the current one after
        ``timeout`` seconds, or None when the camera is gone)."""
        deadline = self.clock() + timeout
        while (preview := self._cameras.get(camera_id)) is not None and (
                preview.version <= version) and (left := deadline - self.clock()) > 0:
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                break
        return self._cameras.get(camera_id)


def jpeg(preview: Preview, side: Side) -> bytes:
    """The JPEG of one side of ``preview``, encoded on first request (the cpu executor's job)."""
    cached = preview.jpegs.get(side)
    if cached is None:
        image = preview.output if side == "output" else visible_input(preview)
        cached = encode(image, "jpeg")
        preview.jpegs[side] = cached
    return cached


def visible_input(preview: Preview) -> np.ndarray:
    """Frame T brightened by the gain behind the output, as 8-bit RGB."""
    frame = preview.input.astype(np.float32)
    if preview.input.dtype == np.uint16:
        frame /= 257.0
    gain = preview.gain
    if gain is None:
        level = float(frame.mean())
        gain = float(_as_8bit(preview.output).mean()) / max(level, 1e-3)
    return np.clip(frame * gain + 0.5, 0, 255).astype(np.uint8)


def _as_8bit(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint16:
        return (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    return image
