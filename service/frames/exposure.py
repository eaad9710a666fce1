"""The darkening factor ("gain") of a frame: how many times brighter the output should be than
the input, as told by the caller or the server's setting, or estimated from the frame.

Networks trained on exposure-normalised inputs (``reference_gain`` in the model's config) take
frames multiplied by gain / reference_gain (``layout.input_scale``). Telling the gain is
better than the estimate: a dark frame alone does not say whether a dark scene or a bright one
was darkened, so :func:`estimate_gain` reads the scene's highlights, which a bright frame holds
near full scale; a scene without lights fools it (its error per S is in bench/README.md, "Gain
estimate").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from nightowl.service.errors import BadRequest

GainSource = Literal["request", "setting", "estimated", "unused"]
# the darkening S the networks are trained on: the generator draws one per sequence
# (training/synth/degrade.py). Defined here because training may import the service, never
# the reverse.
S_VALUES: tuple[float, ...] = (20, 22, 25, 28, 30)
TRAINED_GAINS = (float(min(S_VALUES)), float(max(S_VALUES)))  # estimates are clamped to it
MAX_GAIN = 1000.0  # largest gain a caller may tell
MIDDLE_GAIN = (TRAINED_GAINS[0] + TRAINED_GAINS[1]) / 2  # the middle of the trained range
# The estimate reads the scene's highlights (lamps, lit plates, headlights), which sit near full
# scale in a bright frame, so their level in the dark frame is about full scale / S. Calibrated
# by bench/bench_gain_estimate.py on generator scenes of the training seed (bench/README.md,
# "Gain estimate"):
HIGHLIGHT_PERCENTILE = 99.9  # of each pixel's brightest channel
SATURATED = 250 / 255  # levels from this fraction of full scale up are clipped: they say
#   nothing about the exposure and are left out
REFERENCE_HIGHLIGHT = 1.34  # the median of S * highlight_level(dark frame T): above 1, because
#   the brightest highlights clip in the bright frame


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


def highlight_level(frame: np.ndarray) -> float:
    """(H, W, 3) uint8/uint16 frame -> the HIGHLIGHT_PERCENTILE-th percentile of each pixel's
    brightest channel, saturated pixels left out, in [0, 1] of the frame's depth (interpolated
    within a level, so that a dark frame's few levels still give a smooth estimate)."""
    full = np.iinfo(frame.dtype).max
    brightest = frame[::2, ::2].max(axis=2).reshape(-1)  # every 4th pixel is plenty
    counts = np.bincount(brightest, minlength=full + 1)[:int(np.ceil(SATURATED * full))]
    cumulative = np.cumsum(counts)  # a histogram: no sort
    if cumulative[-1] == 0:
        return 1.0  # nothing but saturation: as bright as a frame gets
    target = HIGHLIGHT_PERCENTILE / 100 * cumulative[-1]
    level = int(np.searchsorted(cumulative, target))
    below = cumulative[level - 1] if level > 0 else 0
    fraction = (target - below) / max(int(counts[level]), 1)
    return max(level - 0.5 + fraction, 0.5) / full


def estimate_gain(frame: np.ndarray, reference: float = REFERENCE_HIGHLIGHT) -> float:
    """The darkening of an (H, W, 3) uint8/uint16 dark frame, reference / highlight_level,
    clamped to TRAINED_GAINS (a black frame gets the largest)."""
    low, high = TRAINED_GAINS
    return float(np.clip(reference / highlight_level(frame), low, high))
