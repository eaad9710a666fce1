"""The darkening factor ("gain") of a frame: how many times brighter the output should be than
the input, as told by the caller or the server's setting, or estimated from the frames.

Networks trained on exposure-normalised inputs (``reference_gain`` in the model's config) take
frames multiplied by gain / reference_gain (``layout.input_scale``). Telling the gain is
better than the estimate: the noise alone does not say how dark a frame is, so the estimate
rests on how cameras expose: block metering puts the AE_PERCENTILE-th percentile of 4x4-block
luminance at AE_TARGET of full scale (the generator's photo scenes are exposed so,
``training/synth/night.py``). The exposure rule AE_TARGET / (that percentile of the dark frame)
is corrected by a small learned regressor (one hidden layer of tanh units) over robust
statistics of the frame: percentiles of its 4x4- and 8x8-block luminance (blocks average out
the noise and a codec's blocks), of each channel's 4x4 blocks, and its channel means. The noise
lifts the high percentiles, and the more so the noisier the camera, which is what the
correction reads. The statistics are read off the frame as a JPEG of quality CODEC_QUALITY
carries it (``codec_view``): re-encoding a JPEG at its own quality hardly moves it, so a frame
sent as PNG and the same frame sent as such a JPEG get nearly the same estimate, where the codec
alone moved a dark frame's meter by up to 7%. Its weights (``gain_estimator.json``) are fitted by
``python bench/bench_gain_estimate.py --fit`` on photo scenes of the "train" split and rendered
streets of the training seed under every noise model; its error per noise model is in
bench/README.md, "Gain estimate". Vehicles and lights in front of the scene still fool it now
and then.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
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
AE_PERCENTILE = 98.0  # a camera's auto-exposure meter: this percentile of block luminance ...
AE_TARGET = 0.8  # ... is exposed to this fraction of full scale
PERCENTILES = (50.0, 80.0, 90.0, 95.0, 97.0, AE_PERCENTILE, 98.5, 99.0, 99.5, 99.8)
CHANNEL_PERCENTILES = (90.0, 98.0, 99.5)  # of each channel's BLOCK x BLOCK means
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec. 709, as the exposure meters it
MAX_PIXELS = 1 << 20  # frames larger than this are read at a stride (gain_features)
FLOOR = 1e-4  # statistics below this fraction of full scale (a black frame) are read as it
CODEC_QUALITY = 90  # the statistics are read off the frame through a JPEG of this quality
METER = PERCENTILES.index(AE_PERCENTILE)  # where the meter sits in gain_features
ESTIMATOR_FILE = Path(__file__).with_name("gain_estimator.json")  # the fitted regressor


@dataclass(frozen=True)
class GainEstimator:
    """log S = log(AE_TARGET) - features[METER] + correction(features), the correction one
    hidden layer of tanh units over the standardised features."""

    mean: np.ndarray  # (F,) feature means and standard deviations of the fitting data
    std: np.ndarray
    hidden_weights: np.ndarray  # (F, H)
    hidden_bias: np.ndarray  # (H,)
    output_weights: np.ndarray  # (H,)
    output_bias: float

    @classmethod
    def load(cls, path: Path = ESTIMATOR_FILE) -> GainEstimator:
        raw = json.loads(path.read_text())
        arrays = {k: np.asarray(raw[k], np.float64) for k in
                  ("mean", "std", "hidden_weights", "hidden_bias", "output_weights")}
        return cls(**arrays, output_bias=float(raw["output_bias"]))

    def log_gain(self, features: np.ndarray) -> float:
        """log S, unclamped, for :func:`gain_features` (or their mean over frames)."""
        hidden = np.tanh((features - self.mean) / self.std @ self.hidden_weights
                         + self.hidden_bias)
        correction = float(hidden @ self.output_weights) + self.output_bias
        return math.log(AE_TARGET) - float(features[METER]) + correction

    def to_json(self, **provenance: object) -> str:
        arrays = {k: np.round(getattr(self, k), 7).tolist() for k in
                  ("mean", "std", "hidden_weights", "hidden_bias", "output_weights")}
        return json.dumps({**provenance, **arrays, "output_bias": round(self.output_bias, 7)},
                          indent=1) + "\n"


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
    """(H, W, 3) uint8/uint16 frame -> the statistics the estimate reads, each the log of a
    fraction of the frame's full scale, taken from its :func:`codec_view`: the PERCENTILES of
    BLOCK x BLOCK and of 2 BLOCK x 2 BLOCK mean luminance, the CHANNEL_PERCENTILES of each
    channel's BLOCK x BLOCK means, and each channel's mean. Frames over MAX_PIXELS are read at a
    stride (every 2nd pixel, ...), which keeps the cost of a large frame bounded; such a frame
    (4 MAX_PIXELS or more) is re-encoded after the stride, so it reads as its JPEG only roughly."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected an (H, W, 3) uint8/uint16 frame, got {frame.dtype} "
                         f"{frame.shape}")
    stride = max(1, int(math.sqrt(frame.shape[0] * frame.shape[1] / MAX_PIXELS)))
    sampled = codec_view(frame[::stride, ::stride])
    if min(sampled.shape[:2]) < 2 * BLOCK:  # a tiny frame: its pixels are its blocks
        sampled = np.repeat(np.repeat(sampled, 2 * BLOCK, axis=0), 2 * BLOCK, axis=1)
    blocks = block_sums(sampled).astype(np.float32) * np.float32(1 / (BLOCK * BLOCK * 255))
    rows, cols = blocks.shape[0] // 2 * 2, blocks.shape[1] // 2 * 2
    pairs = blocks[:rows, :cols].reshape(rows // 2, 2, cols // 2, 2, 3)
    large = (pairs[:, 0, :, 0] + pairs[:, 0, :, 1] + pairs[:, 1, :, 0] + pairs[:, 1, :, 1]) / 4
    channels = blocks.reshape(-1, 3)
    statistics = np.concatenate([
        percentiles(blocks @ LUMA, PERCENTILES),
        channels.mean(axis=0),
        *(percentiles(channels[:, c], CHANNEL_PERCENTILES) for c in range(3)),
        percentiles(large @ LUMA, PERCENTILES)])
    return np.log(np.maximum(statistics, FLOOR)).astype(np.float64)


def codec_view(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB uint8/uint16 -> the uint8 frame a JPEG of quality CODEC_QUALITY makes of
    it (16 bits rounded to 8 first: the estimate was fitted on 8-bit frames). A frame that came
    as such a JPEG comes back almost unchanged, so it reads as its lossless original does."""
    if frame.dtype == np.uint16:
        frame = ((frame.astype(np.uint32) + 128) // 257).astype(np.uint8)
    bgr = np.ascontiguousarray(frame[..., ::-1])  # the codec's colour transform expects BGR
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, CODEC_QUALITY])
    if not ok:  # pragma: no cover - cv2 encodes any non-empty uint8 image
        raise RuntimeError(f"JPEG encoding of a {frame.shape} frame failed")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]


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
    """S for :func:`gain_features` (or their mean over frames), clamped to TRAINED_GAINS (a
    black frame's rule asks for far more than the largest, a bright one's for less than 1)."""
    low, high = TRAINED_GAINS
    return float(np.clip(math.exp(min(_estimator().log_gain(features), 30.0)), low, high))


@functools.cache
def _estimator() -> GainEstimator:
    return GainEstimator.load()


def estimate_gain(frame: np.ndarray) -> float:
    """The darkening S of one (H, W, 3) uint8/uint16 dark frame, clamped to TRAINED_GAINS (a
    black frame gets the largest)."""
    return gain_from_features(gain_features(frame))


def estimate_window_gain(window: np.ndarray) -> float:
    """The darkening S of a window (n, H, W, 3) of one camera's frames, from the statistics of
    all n frames (steadier than the newest frame's alone), clamped to TRAINED_GAINS."""
    return gain_from_features(window_features(window))
