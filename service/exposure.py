"""The darkening factor ("gain") of a frame: how many times brighter the output should be than
the input, as told by the caller or the server's setting, or estimated from the frame.

Networks trained on exposure-normalised inputs (``reference_gain`` in the model's config) take
frames multiplied by gain / reference_gain (``pipeline.input_scale``). Telling the gain is
better than the estimate: a dark frame alone does not say whether a dark scene or a bright one
was darkened, so :func:`estimate_gain` only knows how bright scenes are on average, and scenes
vary about as much in brightness as S does (its error per S is in bench/README.md, "Gain
estimate": better than assuming the middle of the range, far from telling).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from nightowl.service.errors import BadRequest

GainSource = Literal["request", "setting", "estimated", "unused"]
# the darkening the networks were trained on (training.degrade.S_VALUES: 20 to 30); estimates
# are clamped to it. The service does not import training code: a test checks they match.
TRAINED_GAINS = (20.0, 30.0)
MAX_GAIN = 1000.0  # largest gain a caller may tell
MIDDLE_GAIN = 25.0  # the estimate of a frame at the reference level times 1 / MIDDLE_GAIN
# calibrated by bench/bench_gain_estimate.py on generator scenes of the training seed
# (bench/README.md, "Gain estimate"):
REFERENCE_LEVEL = 0.26  # a scene's mean level before darkening, in [0, 1] of the frame's
#   depth: the median of S * frame_level(dark frame T)
SHRINK = 0.33  # exponent on REFERENCE_LEVEL / (MIDDLE_GAIN * level): the least-squares slope of
#   log(S / MIDDLE_GAIN) on its log; < 1 pulls the estimate towards MIDDLE_GAIN, because a dark
#   frame is as often a dark scene as a strong darkening
TRIM_PERCENTILE = 99.0  # levels above this percentile count as it (headlights, saturation)


@dataclass(frozen=True)
class Gain:
    """The gain behind one result, and where it came from."""

    value: float | None  # S; None: none was told and the model does not use one
    source: GainSource  # request / setting: told; estimated; unused: the model takes frames as
    #   captured (no reference_gain), and ``value`` is what was told, if anything


def check_gain(value: float | str | None, where: str = "gain") -> float | None:
    """A caller's gain as a float, or None when not given (None, "" or 0); BadRequest unless it
    is a finite number > 0 and <= MAX_GAIN."""
    if value is None or value == "":
        return None
    try:
        gain = float(value)
    except (TypeError, ValueError):
        raise BadRequest(f"{where} must be a number, got {str(value)[:40]!r}") from None
    if gain == 0:
        return None
    if not math.isfinite(gain) or not 0 < gain <= MAX_GAIN:
        raise BadRequest(f"{where} must be a finite number > 0 and <= {MAX_GAIN:g} (how many "
                         f"times brighter the output should be than the input), got {gain!r}")
    return gain


def told_gain(request: float | None, setting: float | None) -> Gain | None:
    """The gain told for a frame: the request's (checked by :func:`check_gain`), else the
    server's setting, else None."""
    if request is not None:
        return Gain(request, "request")
    return None if setting is None else Gain(setting, "setting")


def frame_level(frame: np.ndarray) -> float:
    """(H, W, 3) uint8/uint16 frame -> its mean level in [0, 1], levels above the
    TRIM_PERCENTILE-th counted as that percentile (a few saturated pixels barely move it)."""
    levels = frame[::2, ::2].reshape(-1)  # every 4th pixel is plenty
    counts = np.bincount(levels)  # a histogram: no sort, about 1 ms at 1280x720
    top = int(np.searchsorted(np.cumsum(counts), TRIM_PERCENTILE / 100 * levels.size))
    winsorised = counts @ np.minimum(np.arange(counts.size), top)
    return float(winsorised) / levels.size / np.iinfo(frame.dtype).max


def estimate_gain(frame: np.ndarray, reference_level: float = REFERENCE_LEVEL,
                  shrink: float = SHRINK) -> float:
    """The darkening of an (H, W, 3) uint8/uint16 dark frame,
    MIDDLE_GAIN * (reference_level / (MIDDLE_GAIN * level)) ** shrink, clamped to
    TRAINED_GAINS (a black frame gets the largest)."""
    low, high = TRAINED_GAINS
    level = frame_level(frame)
    if level <= 0:
        return high
    ratio = reference_level / (MIDDLE_GAIN * level)
    return float(np.clip(MIDDLE_GAIN * ratio ** shrink, low, high))
