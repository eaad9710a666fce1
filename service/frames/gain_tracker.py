"""Smoothing one camera's estimated gains over time, so that its output does not flicker.

An estimate from one window is noisy (the noise, a vehicle's lights entering the frame, a
codec's blocks), while a fixed camera's true exposure changes slowly: the server therefore
averages a camera's estimates in log space (an exponential moving average, the plain mean of
the first frames until that weighs less than ``alpha``, so that a new camera settles at once).
Each camera buffer holds its own tracker, created when the buffer starts or restarts (a new
camera, a scene change, a gap, a new resolution), so a new scene never inherits the old one's
gain, and each frame is pushed to it as it joins the buffer, in sequence order (the server's
event loop, not its CPU threads, whose order varies): a camera's gains do not depend on timing.
The tracker keeps the statistics of the buffer's frames, so each frame's are computed once (by
the server in its CPU threads, ``push_features``).
Told gains never go through it.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from nightowl.service.frames.exposure import gain_features, gain_from_features

SMOOTHING = 0.05  # weight of the newest estimate once the average is warm. Independent
#   estimates would flicker sqrt(alpha / (2 - alpha)) = 0.16 times as much; a sequence's are
#   correlated (a vehicle's lights stay for frames), and measured the flicker falls to a third
#   to a half (bench/README.md, "Gain estimate"). A change of exposure is followed within about
#   1 / alpha = 20 frames


@dataclass(eq=False)  # a camera's state: each tracker is its own (and hashable)
class GainTracker:
    """The smoothed gain of one camera's estimates (see the module doc)."""

    frames: int = 4  # T: the window whose frames' statistics are averaged
    alpha: float = SMOOTHING
    _log_gain: float = 0.0
    _count: int = 0
    _features: deque = field(default_factory=deque, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        self._features = deque(maxlen=self.frames)

    def push(self, frame: np.ndarray) -> float:
        """Take in the buffer's newest (H, W, 3) frame; returns the smoothed gain of the window
        of the last ``frames`` frames (their estimate_window_gain, smoothed)."""
        return self.push_features(gain_features(frame))

    def push_features(self, features: np.ndarray) -> float:
        """:meth:`push` for the newest frame's ``gain_features``, computed elsewhere (the
        server computes them in its cpu threads and pushes them in sequence order)."""
        self._features.append(features)
        return self.update(gain_from_features(np.mean(self._features, axis=0)))

    @property
    def count(self) -> int:
        """Estimates taken in since the tracker started."""
        return self._count

    def update(self, estimate: float) -> float:
        """Take in one window's estimated gain (> 0); returns the smoothed gain."""
        if not estimate > 0 or not math.isfinite(estimate):
            raise ValueError(f"an estimated gain must be finite and > 0, got {estimate!r}")
        self._count += 1
        weight = max(1.0 / self._count, self.alpha)
        self._log_gain += weight * (math.log(estimate) - self._log_gain)
        return math.exp(self._log_gain)
