"""Per-camera rolling buffers of the last T frames, with every edge case defined.

For each camera the buffer keeps the newest ``frames`` frames in sequence order. A new frame:
- first frames: the window holds fewer than T frames until T have arrived;
- duplicate (same sequence number as the newest): not buffered, reported ``duplicate``;
- late (lower sequence number than the newest, i.e. reordered): not buffered, reported ``late``
  (the buffer stays in capture order; the client already has a newer result);
- gap (more than ``max_gap`` sequence numbers missing), a change of resolution or pixel depth,
  a switch between grey and colour frames (a camera's day/night mode), or a scene change /
  camera move (the frame differs from the newest by more than ``scene_change``): the buffer
  restarts from this frame, and the reason is reported;
- an idle camera (no frame for ``idle_s``) loses its buffer; a new camera beyond
  ``max_cameras`` is refused with TooManyCameras naming the limit;
- one owner at a time: a camera held by one stream is refused to any other caller (CameraBusy)
  until that stream releases it, which also frees its buffer.
Each buffer holds the camera's GainTracker (its estimated gain smoothed over time) and, when
``background`` is set, its BackgroundMemory (``frames.background``: what does not move, over up to
hundreds of frames), both made anew whenever the buffer (re)starts, so a new scene never
inherits the old one's gain or background, and freed with the buffer.
Used from one thread (the server's event loop): no locks.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from nightowl.service.errors import CameraBusy, TooManyCameras
from nightowl.service.frames.background import BackgroundMemory, MemoryConfig
from nightowl.service.frames.gain_tracker import GainTracker
from nightowl.service.frames.mono import kind

PushStatus = Literal["buffered", "duplicate", "late"]
MAX_SEQUENCE = 2**63 - 1  # the highest sequence number (what a signed 64-bit int holds)
_THUMB_SCALE = 16  # scene-change test compares grey thumbnails, area-averaged by this factor


@dataclass
class _Camera:
    frames: deque[np.ndarray]
    thumb: np.ndarray  # grey thumbnail of the newest frame
    sequence: int  # newest sequence number
    last_seen: float  # clock seconds
    gain: GainTracker  # this buffer's estimated gains
    owner: object | None = None  # the stream holding the camera; None: free
    grey: bool = False  # its frames came grey (replicated to RGB)
    background: BackgroundMemory | None = None  # its background memory; None: off


@dataclass(frozen=True)
class Push:
    """What a new frame did to its camera's buffer."""

    status: PushStatus
    sequence: int  # the frame's sequence number (assigned when the caller gave none)
    window: np.ndarray | None = None  # (n, H, W, 3) oldest first, n <= T; None unless buffered
    reset: str = ""  # why the buffer restarted with this frame, or ""
    gain: GainTracker | None = None  # the buffer's gain tracker; None unless buffered
    background: BackgroundMemory | None = None  # the buffer's background memory; None unless
    #   buffered with it on


@dataclass
class CameraBuffers:
    frames: int = 4  # T
    max_cameras: int = 256
    idle_s: float = 60.0
    max_gap: int = 2  # missing sequence numbers tolerated without a reset
    scene_change: float = 0.27  # mean |grey difference| / mean grey level that resets
    clock: Callable[[], float] = time.monotonic
    background: MemoryConfig | None = None  # each buffer's background memory; None: none
    _cameras: dict[str, _Camera] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self._cameras)

    def __contains__(self, camera_id: str) -> bool:
        return camera_id in self._cameras

    @property
    def nbytes(self) -> int:
        """Bytes of the frames held in every camera's buffer, and of their background
        memories."""
        return sum(sum(frame.nbytes for frame in camera.frames)
                   + (camera.background.nbytes() if camera.background is not None else 0)
                   for camera in self._cameras.values())

    def push(self, camera_id: str, frame: np.ndarray, sequence: int | None = None,
             owner: object | None = None, grey: bool = False) -> Push:
        """Add ``frame`` (H, W, 3) to ``camera_id``'s buffer (see the module doc); ``grey``: it
        came grey, so that a switch between grey and colour restarts the buffer."""
        now = self.clock()
        self.evict_idle()
        camera = self._cameras.get(camera_id)
        if camera is None:
            return self._start(camera_id, frame, sequence, owner, now, "", grey)
        if camera.owner is not None and camera.owner is not owner:
            raise CameraBusy(f"camera {camera_id!r} is streaming on another connection; one "
                             "connection per camera at a time")
        camera.last_seen = now
        camera.owner = owner if owner is not None else camera.owner
        sequence = camera.sequence + 1 if sequence is None else sequence
        if sequence > MAX_SEQUENCE:  # numbered past the end by the buffer: start again at 0
            return self._start(camera_id, frame, 0, camera.owner, now, "sequence numbers "
                               f"passed {MAX_SEQUENCE}; buffer restarted at 0", grey)
        if sequence == camera.sequence:
            return Push("duplicate", sequence)
        if sequence < camera.sequence:
            return Push("late", sequence)
        reset = self._reset_reason(camera, frame, sequence, grey)
        if reset:
            return self._start(camera_id, frame, sequence, camera.owner, now, reset, grey)
        camera.frames.append(frame)
        camera.sequence = sequence
        camera.thumb = _thumbnail(frame)
        return Push("buffered", sequence, np.stack(camera.frames), gain=camera.gain,
                    background=camera.background)

    def newest(self, camera_id: str) -> int | None:
        """The newest buffered sequence number of ``camera_id`` (None: no buffer)."""
        camera = self._cameras.get(camera_id)
        return None if camera is None else camera.sequence

    def release(self, owner: object) -> list[str]:
        """Drop every camera held by ``owner`` (its stream ended); returns their ids."""
        gone = [c for c, camera in self._cameras.items() if camera.owner is owner]
        for camera_id in gone:
            del self._cameras[camera_id]
        return gone

    def evict_idle(self) -> list[str]:
        """Drop cameras silent for longer than ``idle_s``; returns their ids."""
        limit = self.clock() - self.idle_s
        gone = [c for c, camera in self._cameras.items() if camera.last_seen < limit]
        for camera_id in gone:
            del self._cameras[camera_id]
        return gone

    def _start(self, camera_id: str, frame: np.ndarray, sequence: int | None,
               owner: object | None, now: float, reset: str, grey: bool = False) -> Push:
        if camera_id not in self._cameras and len(self._cameras) >= self.max_cameras:
            raise TooManyCameras(f"camera {camera_id!r} refused: the server holds its limit of "
                                 f"{self.max_cameras} cameras (an idle camera is dropped after "
                                 f"{self.idle_s:g} s)", retry_after=max(1, round(self.idle_s)))
        sequence = 0 if sequence is None else sequence
        memory = None if self.background is None else BackgroundMemory(self.background)
        camera = _Camera(deque([frame], maxlen=self.frames), _thumbnail(frame), sequence, now,
                         owner=owner, gain=GainTracker(self.frames), grey=grey, background=memory)
        self._cameras[camera_id] = camera
        return Push("buffered", sequence, frame[None], reset, camera.gain, camera.background)

    def _reset_reason(self, camera: _Camera, frame: np.ndarray, sequence: int,
                      grey: bool) -> str:
        newest = camera.frames[-1]
        if grey != camera.grey:
            return (f"frames changed from {kind(camera.grey)} to {kind(grey)}; buffer "
                    "restarted")
        if frame.shape != newest.shape or frame.dtype != newest.dtype:
            return (f"resolution changed from {_size(newest)} to {_size(frame)}; buffer "
                    "restarted")
        missing = sequence - camera.sequence - 1
        if missing > self.max_gap:
            return (f"{missing} frames missing before sequence {sequence} (more than "
                    f"{self.max_gap}); buffer restarted")
        change = scene_difference(camera.thumb, _thumbnail(frame))
        if change > self.scene_change:
            return (f"scene changed (difference {change:.2f} > {self.scene_change:g}); buffer "
                    "restarted")
        return ""


def background_config(memory: bool, frames: int, join_frames: int,
                      window: int) -> MemoryConfig | None:
    """The cameras' background memory the settings (background_memory,
    background_memory_frames, background_join_frames) ask for, trusted against the model's
    T = ``window`` frames; None: off."""
    if not memory:
        return None
    return MemoryConfig(max_frames=frames, join_frames=join_frames, window=window)


def scene_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two grey thumbnails over their mean level (0: identical)."""
    level = max(float(a.mean() + b.mean()) / 2.0, 1.0)
    return float(np.abs(a - b).mean()) / level


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    grey = frame.astype(np.float32).mean(axis=2)
    if frame.dtype == np.uint16:
        grey /= 257.0
    height, width = grey.shape
    size = (max(1, width // _THUMB_SCALE), max(1, height // _THUMB_SCALE))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA)


def _size(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}x{frame.shape[0]} ({frame.dtype})"
