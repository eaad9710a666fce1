"""H.264 video files (libx264, which PyAV's wheels carry) whose frames keep the timestamps they
are given, so the output runs at the source's rate and pauses where the source paused."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from nightowl.service.video import VideoError

SUFFIXES = (".mkv", ".mov", ".mp4", ".avi")  # .avi holds no timestamps: a constant rate
ENCODER = "libx264"
# a real-time service's trade: veryfast x264 at CRF 20 (visually near-lossless for these frames)
ENCODER_OPTIONS = {"preset": "veryfast", "crf": "20"}


class H264Writer:
    """Frames into ``path``, opened at the first frame (its size fixes the video's); close() to
    flush the encoder and finish the file."""

    def __init__(self, path: Path, time_base: Fraction, rate: Fraction) -> None:
        if path.suffix.lower() not in SUFFIXES:
            raise VideoError(f"{path}: cannot write {path.suffix or 'no'} suffix; write "
                             f"{', '.join(SUFFIXES)} or a folder")
        if ENCODER not in av.codecs_available:
            raise VideoError(f"this FFmpeg has no {ENCODER} encoder")
        self.path = path
        self.rate = rate
        # AVI stores no timestamps: its frames are numbered at the mean rate
        self.time_base = 1 / rate if path.suffix.lower() == ".avi" else time_base
        self.scale = time_base / self.time_base
        self._container = None
        self._stream = None
        self._last: int | None = None
        self.written = 0

    def write(self, image: np.ndarray, pts: int) -> None:
        """Encode ``image`` (H, W, 3) RGB, uint8 or uint16, shown at ``pts``."""
        if image.dtype != np.uint8:
            image = (image >> 8).astype(np.uint8)
        pad = ((0, image.shape[0] % 2), (0, image.shape[1] % 2), (0, 0))  # 4:2:0 needs even
        image = np.pad(image, pad, mode="edge") if any(p[1] for p in pad) else image
        if self._stream is None:
            self._start(image.shape[1], image.shape[0])
        pts = round(pts * self.scale)
        pts = pts if self._last is None else max(pts, self._last + 1)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts, frame.time_base, self._last = pts, self.time_base, pts
        self._container.mux(self._stream.encode(frame))
        self.written += 1

    def close(self) -> None:
        if self._container is not None:
            self._container.mux(self._stream.encode(None))
            self._container.close()
            self._container = None

    def _start(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._container = av.open(str(self.path), "w")
        except (av.FFmpegError, OSError) as error:
            raise VideoError(f"cannot write {self.path}: {error}") from None
        stream = self._container.add_stream(ENCODER, rate=self.rate, options=ENCODER_OPTIONS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = self.time_base
        stream.codec_context.time_base = self.time_base
        self._stream = stream
