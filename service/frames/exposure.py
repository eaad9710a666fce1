"""The darkening factor ("gain") of a frame: how many times brighter the output should be than
the input, as told by the caller or the server's setting, or estimated from the frames.

Networks trained on exposure-normalised inputs (``reference_gain`` in the model's config) take
frames multiplied by gain / reference_gain (``layout.input_scale``). Telling the gain is
better than the estimate: the noise alone does not say how dark a frame is, so the estimate
rests on what night scenes look like once auto-exposed (a camera meters the 98th percentile of
luminance to 0.8 of full scale, ``training/synth/night.py``): a ridge regression of log S on
robust statistics of the frame (percentiles of its 4x4-block luminance, which averages out the
noise and a codec's blocks, and its channel means), fitted by bench/bench_gain_estimate.py on
photo scenes of the "train" split and rendered streets of the training seed. Vehicles and lights
in front of the scene still fool it now and then; its error per noise model is in
bench/README.md, "Gain estimate".
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
BLOCK = 4  # px: luminance is averaged over BLOCK x BLOCK blocks before its percentiles
PERCENTILES = (50.0, 80.0, 90.0, 95.0, 97.0, 98.0, 98.5, 99.0, 99.5, 99.8)
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709, as the exposure meters it
MAX_PIXELS = 1 << 20  # frames larger than this are read at a stride (gain_features)
FLOOR = 1e-4  # statistics below this fraction of full scale (a black frame) are read as it
# log S = GAIN_WEIGHTS . gain_features(frame): written by `python bench/bench_gain_estimate.py
# --fit` (photo "train" split and rendered scenes of the training seed, every noise model)
GAIN_WEIGHTS = (0.0340866, 0.00480511, -0.00855978, -0.0465261, 0.0574266, 0.0276655, 0.127804,
                -0.100536, -0.238482, -0.510831, -0.0330798, -0.0103905, 0.00481877, 0.922457)


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


def gain_features(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8/uint16 frame -> its statistics the estimate reads: the log of each
    PERCENTILES-th percentile of BLOCK x BLOCK mean luminance, the log of each channel's mean
    (in [0, 1] of the frame's depth), and 1 (the intercept). Frames over MAX_PIXELS are read
    at a stride (every 2nd pixel, ...), which keeps the cost of a large frame bounded."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected an (H, W, 3) uint8/uint16 frame, got {frame.dtype} "
                         f"{frame.shape}")
    stride = max(1, int(math.sqrt(frame.shape[0] * frame.shape[1] / MAX_PIXELS)))
    sampled = frame[::stride, ::stride]
    if min(sampled.shape[:2]) < BLOCK:  # a tiny frame: its pixels are its blocks
        sampled = np.repeat(np.repeat(sampled, BLOCK, axis=0), BLOCK, axis=1)
    full = np.iinfo(frame.dtype).max
    blocks = block_sums(sampled).astype(np.float32) * np.float32(1 / (BLOCK * BLOCK * full))
    statistics = np.concatenate([percentiles(blocks @ LUMA, PERCENTILES),
                                 blocks.reshape(-1, 3).mean(axis=0)])
    return np.append(np.log(np.maximum(statistics, FLOOR)), 1.0)


def block_sums(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8/uint16 -> (H // BLOCK, W // BLOCK, 3) integer sums of each block (rows
    first, then columns: far faster than one sum over two strided axes)."""
    rows, cols = frame.shape[0] // BLOCK, frame.shape[1] // BLOCK
    wide = np.uint16 if frame.dtype == np.uint8 else np.uint32  # no overflow for 16 values
    lines = frame[:rows * BLOCK, :cols * BLOCK].reshape(rows, BLOCK, cols * BLOCK * 3)
    summed = lines[:, 0].astype(wide)
    for k in range(1, BLOCK):
        summed += lines[:, k]
    summed = summed.reshape(rows, cols, BLOCK, 3)
    total = summed[:, :, 0].copy()
    for k in range(1, BLOCK):
        total += summed[:, :, k]
    return total


def percentiles(values: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """np.percentile's default (linear) percentiles, from one sort (faster for many qs)."""
    ordered = np.sort(values, axis=None)
    positions = np.asarray(qs) / 100 * (ordered.size - 1)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, ordered.size - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (positions - low)


def window_features(window: np.ndarray) -> np.ndarray:
    """(n, H, W, 3) frames -> the mean of their :func:`gain_features`: n frames of a static
    scene average out their noise."""
    return np.mean([gain_features(frame) for frame in window], axis=0)


def gain_from_features(features: np.ndarray) -> float:
    """S for :func:`gain_features` (or their mean over frames), clamped to TRAINED_GAINS."""
    low, high = TRAINED_GAINS
    return float(np.clip(np.exp(np.dot(GAIN_WEIGHTS, features)), low, high))


def estimate_gain(frame: np.ndarray) -> float:
    """The darkening S of one (H, W, 3) uint8/uint16 dark frame, clamped to TRAINED_GAINS (a
    black frame gets the largest)."""
    return gain_from_features(gain_features(frame))


def estimate_window_gain(window: np.ndarray) -> float:
    """The darkening S of a window (n, H, W, 3) of one camera's frames, from the statistics of
    all n frames (steadier than the newest frame's alone), clamped to TRAINED_GAINS."""
    return gain_from_features(window_features(window))
