"""Each frame's capture time: from the source's timestamps for a camera (so a relay that falls
behind it counts the backlog), and the pace a file is replayed at."""

from __future__ import annotations

import time
from fractions import Fraction

from nightowl.service.video.source import Frame

CLOCK_MODES = ("live", "replay", "asap")


class CaptureClock:
    """Each frame's capture time, seconds since the epoch. ``live``: the source's timestamp from
    an anchor set at the first frame of each segment (a frame that comes early moves it), so a
    relay that falls behind the camera counts the backlog; ``replay``: the same, waiting until
    that time (a file played as a camera); ``asap``: the time the frame was read (a file sent as
    fast as the server answers)."""

    def __init__(self, time_base: Fraction, mode: str) -> None:
        if mode not in CLOCK_MODES:
            raise ValueError(f"clock mode {mode!r}: use one of {', '.join(CLOCK_MODES)}")
        self.time_base = time_base
        self.mode = mode
        self._segment: int | None = None
        self._anchor = 0.0

    def capture(self, frame: Frame) -> float:
        at, now = float(frame.pts * self.time_base), time.time()
        if self.mode == "asap":
            return now
        if frame.segment != self._segment:
            self._segment, self._anchor = frame.segment, now - at
        if self._anchor + at > now:
            if self.mode == "replay":
                time.sleep(self._anchor + at - now)
            else:
                self._anchor = now - at
        return self._anchor + at
