"""Optical-flow alignment of dark, noisy frames onto the newest one (numpy + OpenCV only).

The networks see the last T frames warped onto frame T, so both the server and the training
call :func:`align_to_last`. The flow convention is the generator's (``training/synth/scenes.py``):
``flows[t]`` is backward flow with ``frame_t(x + flows[t][x]) ~ frame_T(x)``, so
``warp(frame_t, flows[t])`` aligns frame t onto frame T.

Plain DIS on dark frames (values 0..15, noise of 2 levels) follows the noise: it invents motion
all over the static background and loses fast vehicles. So, before DIS, the frames are turned
grey (averaging the channels cuts the noise by sqrt(3)), area-averaged to half size and lightly
blurred, and stretched so that a high percentile of the reference lands near 200. Older frames
start from the newer frame's flow (motion grows with the time gap). After DIS a static gate
keeps the flow only where it explains the moving frame clearly better than no motion at all,
judged against the frames' own noise: the camera is fixed, so "no motion" is the answer wherever
the data cannot tell. That noise is the larger of a single-frame estimate and the one the
frames' own difference shows, which also holds the noise a Bayer demosaic or a codec spreads
over neighbouring pixels (a real camera's, and the generator's sensor model). Settings were
chosen by measurement (``bench/bench_alignment.py``; the figures are in ``bench/README.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import cv2
import numpy as np

Method = Literal["dis", "none"]
Preset = Literal["ultrafast", "fast", "medium"]

_PRESETS: dict[str, int] = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
# Second-difference kernel of Immerkaer's noise estimate; its weights' squares sum to 36.
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_MAD_TO_STD = 0.6745  # median |x| of a unit Gaussian
DIFFERENCE_BLOCK = 8  # px of the working size: blocks of the frames' difference ...
DIFFERENCE_PERCENTILE = 25.0  # ... whose mean squared difference at this percentile is noise
_ROUNDING_VARIANCE = 1.0 / 36.0  # 8-bit rounding (1/12 per channel) in a mean of 3 channels
MIN_SIZE = 16  # px, the smallest frame side accepted (DIS needs a few patches per side)


@dataclass(frozen=True)
class AlignmentConfig:
    """How flow is estimated on dark frames; the defaults are the measured best
    (bench/README.md)."""

    method: Method = "dis"  # "none": zero flow, frames left as they are (the ablation)
    preset: Preset = "fast"  # OpenCV DIS preset that the DIS fields below start from
    finest_scale: int | None = 1  # DIS finest pyramid level (0 = working size); None: preset's
    patch_size: int | None = None  # DIS patch side, px; None keeps the preset's (8)
    patch_stride: int | None = None  # DIS patch spacing, px; None keeps the preset's
    descent_iterations: int | None = None  # DIS gradient-descent steps per patch; None: preset's
    variational_iterations: int | None = 2  # DIS refinement sweeps (fast: 5; 2 is 3 ms cheaper)
    downscale: int = 2  # work on frames area-averaged by this factor: half the noise, 1/4 the time
    blur_sigma: float = 0.75  # std of the Gaussian pre-filter, px of the working size; 0 = none
    brightness_percentile: float = 99.5  # this percentile of the filtered reference is mapped...
    brightness_target: float = 200.0  # ...to this 8-bit level, so DIS sees a full-range image
    max_gain: float = 64.0  # cap on that stretch, so a black frame's noise stays small
    chain: bool = True  # align_to_last: offer each older frame the newer one's flow, scaled up
    static_gate: bool = True  # zero the flow wherever it explains the frames no better than none
    gate_cell: int = 4  # px of the full frame: the gate decides per cell of this side
    gate_threshold: float = 0.4  # mean residual drop a kept cell needs, in noise variances
    gate_seed: float = 3.0  # ...and its region must hold a cell with this drop (<= threshold: off)
    gate_close: int = 16  # px, closing that joins a vehicle's cells across its flat inside
    gate_joint: bool = True  # align_to_last: one gate from all pairs (the same pixels move)

    def __post_init__(self) -> None:
        if self.method not in ("dis", "none"):
            raise ValueError(f"method must be 'dis' or 'none', got {self.method!r}")
        if self.preset not in _PRESETS:
            raise ValueError(f"preset must be one of {sorted(_PRESETS)}, got {self.preset!r}")
        for name in ("downscale", "gate_cell"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("blur_sigma", "gate_threshold", "gate_seed", "gate_close"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.brightness_percentile <= 100:
            raise ValueError(f"brightness_percentile must be in (0, 100], got "
                             f"{self.brightness_percentile}")
        if not 0 < self.brightness_target <= 255 or self.max_gain <= 0:
            raise ValueError(f"brightness_target must be in (0, 255] and max_gain > 0, got "
                             f"{self.brightness_target} and {self.max_gain}")


@dataclass(frozen=True)
class _Prepared:
    """A frame as DIS sees it: filtered grey at the working size, and its 8-bit stretch."""

    grey: np.ndarray  # (h, w) float32, filtered, in the frame's own levels
    image: np.ndarray  # (h, w) uint8, grey * gain


# --- public API ------------------------------------------------------------------------------
def estimate_flow(reference: np.ndarray, moving: np.ndarray,
                  config: AlignmentConfig = AlignmentConfig()) -> np.ndarray:
    """Backward flow (H, W, 2) float32 such that moving(x + flow(x)) ~ reference(x).

    Frames are uint8, RGB (H, W, 3) or grey (H, W), of the same size.
    """
    _check_frame(reference, "reference", config)
    _check_frame(moving, "moving", config)
    if reference.shape != moving.shape:
        raise ValueError(f"reference and moving must have the same shape, got {reference.shape} "
                         f"and {moving.shape}")
    height, width = reference.shape[:2]
    if config.method == "none":
        return np.zeros((height, width, 2), np.float32)
    ref, gain, noise = _prepare_reference(reference, config)
    prepared = _prepare(moving, gain, config)
    flow = _estimate(ref, prepared, None, config)
    if config.static_gate:
        noise = max(noise, _difference_variance(ref, [prepared]))
        flow *= _gate(_evidence(ref, prepared, flow, config), noise, ref.grey.shape,
                      config)[..., None]
    return _to_full_size(flow, width, height, config)


def warp(frame: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """frame resampled at x + flow(x) (cv2.remap, linear, border replicate), same dtype."""
    if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3):
        raise ValueError(f"frame must be an array of shape (H, W) or (H, W, C), got "
                         f"{_describe(frame)}")
    if not isinstance(flow, np.ndarray) or flow.ndim != 3 or flow.shape[2] != 2:
        raise ValueError(f"flow must be an array of shape (H, W, 2), got {_describe(flow)}")
    if flow.shape[:2] != frame.shape[:2]:
        raise ValueError(f"flow size {flow.shape[:2]} must match frame size {frame.shape[:2]}")
    if not np.issubdtype(flow.dtype, np.floating):
        raise ValueError(f"flow must be float32 or float64, got {flow.dtype}")
    if frame.dtype not in (np.uint8, np.uint16, np.int16, np.float32, np.float64):
        raise ValueError(f"frame dtype must be uint8, uint16, int16, float32 or float64, got "
                         f"{frame.dtype}")
    height, width = flow.shape[:2]
    coords = _pixel_grid(height, width) + flow.astype(np.float32, copy=False)
    out = cv2.remap(frame, coords, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(frame.shape)  # remap drops a trailing channel axis of size 1


def align_to_last(frames: np.ndarray, config: AlignmentConfig = AlignmentConfig()
                  ) -> tuple[np.ndarray, np.ndarray]:
    """frames (T, H, W, 3) uint8 RGB, oldest first -> (aligned (T, H, W, 3) uint8 with the last
    frame unchanged, flows (T, H, W, 2) float32 with flows[T-1] == 0)."""
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[3] != 3:
        raise ValueError(f"frames must be an array of shape (T, H, W, 3), got "
                         f"{_describe(frames)}")
    if frames.shape[0] < 1:
        raise ValueError("frames must hold at least one frame (T >= 1), got T = 0")
    _check_frame(frames[-1], "frames[T-1]", config)
    count, height, width = frames.shape[:3]
    flows = np.zeros((count, height, width, 2), np.float32)
    aligned = frames.copy()
    if config.method == "none" or count == 1:
        return aligned, flows
    ref, gain, noise = _prepare_reference(frames[-1], config)
    pairs = _chained_flows(ref, frames, gain, config)
    if config.static_gate:  # (the gate's noise: only the gate needs it)
        noise = max(noise, _difference_variance(ref, [moving for _, moving, _ in pairs]))
    for (t, _, _), flow in zip(pairs, _gated(ref, pairs, noise, config), strict=True):
        flows[t] = _to_full_size(flow, width, height, config)
        aligned[t] = warp(frames[t], flows[t])
    return aligned, flows


# --- pre-filter ------------------------------------------------------------------------------
def _grey(frame: np.ndarray, config: AlignmentConfig) -> np.ndarray:
    """Channel mean as float32 (no rounding: dark frames have only a few levels), downscaled."""
    if frame.ndim == 3:
        grey = cv2.transform(frame.astype(np.float32), np.full((1, 3), 1.0 / 3.0, np.float32))
    else:
        grey = frame.astype(np.float32)
    if config.downscale > 1:
        size = (grey.shape[1] // config.downscale, grey.shape[0] // config.downscale)
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    return grey


def _smooth(grey: np.ndarray, config: AlignmentConfig) -> np.ndarray:
    if config.blur_sigma <= 0:
        return grey
    return cv2.GaussianBlur(grey, (0, 0), config.blur_sigma)


def _prepare(frame: np.ndarray, gain: float, config: AlignmentConfig) -> _Prepared:
    grey = _smooth(_grey(frame, config), config)
    return _Prepared(grey=grey, image=cv2.convertScaleAbs(grey, alpha=gain))


def _prepare_reference(frame: np.ndarray,
                       config: AlignmentConfig) -> tuple[_Prepared, float, float]:
    """The reference, the gain that stretches it, and the noise variance of a difference of two
    filtered frames (in the frames' own levels).

    Both frames get the reference's gain: DIS compares raw levels, so they must share a scale.
    """
    raw = _grey(frame, config)
    grey = _smooth(raw, config)
    level = float(np.percentile(grey[::3, ::3], config.brightness_percentile))
    gain = min(config.brightness_target / max(level, 1e-6), config.max_gain)
    noise = 2.0 * _noise_variance(raw) * _blur_energy(config.blur_sigma)
    return _Prepared(grey=grey, image=cv2.convertScaleAbs(grey, alpha=gain)), gain, noise


def _noise_variance(grey: np.ndarray) -> float:
    """Per-pixel noise variance of an unfiltered grey frame (Immerkaer's estimate, with a median
    so that edges do not count), at least the 8-bit rounding's share."""
    response = cv2.filter2D(grey, cv2.CV_32F, _NOISE_KERNEL)[1:-1:2, 1:-1:2]
    std = float(np.median(np.abs(response))) / (_MAD_TO_STD * 6.0)
    return max(std * std, _ROUNDING_VARIANCE)


def _difference_variance(ref: _Prepared, others: list[_Prepared]) -> float:
    """Noise variance of the difference of two filtered frames, read off the frames themselves:
    the DIFFERENCE_PERCENTILE-th percentile of the mean squared difference, per block of
    DIFFERENCE_BLOCK px of the working size, of each other frame to the reference. A fixed
    camera's frames hold static blocks, where that mean is the noise alone, and moving blocks,
    where it is larger: a low percentile reads the former (a little below their mean, so that
    white noise leaves the single-frame estimate in charge). Unlike that estimate it sees the
    noise a Bayer demosaic or a codec spreads over neighbouring pixels, which a second
    difference misses and the pre-filter barely lowers."""
    height, width = ref.grey.shape
    size = (max(1, width // DIFFERENCE_BLOCK), max(1, height // DIFFERENCE_BLOCK))
    blocks = [cv2.resize((ref.grey - other.grey) ** 2, size, interpolation=cv2.INTER_AREA)
              for other in others]
    return float(np.percentile(np.concatenate([b.ravel() for b in blocks]),
                               DIFFERENCE_PERCENTILE))


@lru_cache(maxsize=16)
def _blur_energy(sigma: float) -> float:
    """Factor by which the Gaussian pre-filter scales the variance of white noise."""
    if sigma <= 0:
        return 1.0
    size = round(sigma * 8 + 1) | 1  # the kernel size GaussianBlur picks for float images
    kernel = cv2.getGaussianKernel(size, sigma, cv2.CV_64F)
    return float((kernel**2).sum()) ** 2


# --- flow ------------------------------------------------------------------------------------
def _dis(config: AlignmentConfig) -> cv2.DISOpticalFlow:
    """A fresh DIS instance (they hold buffers, so one per call keeps callers thread-safe)."""
    dis = cv2.DISOpticalFlow.create(_PRESETS[config.preset])
    if config.finest_scale is not None:
        dis.setFinestScale(config.finest_scale)
    if config.patch_size is not None:
        dis.setPatchSize(config.patch_size)
    if config.patch_stride is not None:
        dis.setPatchStride(config.patch_stride)
    if config.descent_iterations is not None:
        dis.setGradientDescentIterations(config.descent_iterations)
    if config.variational_iterations is not None:
        dis.setVariationalRefinementIterations(config.variational_iterations)
    return dis


def _estimate(ref: _Prepared, moving: _Prepared, initial: np.ndarray | None,
              config: AlignmentConfig) -> np.ndarray:
    """DIS flow at the working size; DIS also tries ``initial`` (when given) at every scale."""
    flow = initial.copy() if initial is not None else None
    return _dis(config).calc(ref.image, moving.image, flow)


def _chained_flows(ref: _Prepared, frames: np.ndarray, gain: float,
                   config: AlignmentConfig) -> list[tuple[int, _Prepared, np.ndarray]]:
    """(t, prepared frame t, DIS flow) for t = T-2 down to 0, each seeded with the newer frame's
    flow scaled by the ratio of time gaps: far motion that DIS misses from zero is found from
    the seed, since motion grows with the gap."""
    count = frames.shape[0]
    pairs: list[tuple[int, _Prepared, np.ndarray]] = []
    for t in range(count - 2, -1, -1):
        initial = None
        if config.chain and pairs:
            initial = pairs[-1][2] * np.float32((count - 1 - t) / (count - 2 - t))
        moving = _prepare(frames[t], gain, config)
        pairs.append((t, moving, _estimate(ref, moving, initial, config)))
    return pairs


def _gated(ref: _Prepared, pairs: list[tuple[int, _Prepared, np.ndarray]], noise: float,
           config: AlignmentConfig) -> list[np.ndarray]:
    """The pairs' flows with the static gate applied (joint: one gate from the mean evidence,
    because a moving pixel of frame T moves in every pair and pooling averages out noise)."""
    if not config.static_gate:
        return [flow for _, _, flow in pairs]
    shape = ref.grey.shape
    if config.gate_joint:
        evidence = np.mean([_evidence(ref, moving, flow, config) for _, moving, flow in pairs], 0)
        weight = _gate(evidence, noise, shape, config)[..., None]
        return [flow * weight for _, _, flow in pairs]
    return [flow * _gate(_evidence(ref, moving, flow, config), noise, shape, config)[..., None]
            for _, moving, flow in pairs]


def _evidence(ref: _Prepared, moving: _Prepared, flow: np.ndarray,
              config: AlignmentConfig) -> np.ndarray:
    """Per gate cell, how much warping ``moving`` by ``flow`` lowers its mean squared difference
    to the reference (filtered grey levels): large on a moving vehicle, noise elsewhere."""
    height, width = ref.grey.shape
    drop = (ref.grey - moving.grey) ** 2 - (ref.grey - warp(moving.grey, flow)) ** 2
    cell = max(1, round(config.gate_cell / config.downscale))
    cells = (max(1, width // cell), max(1, height // cell))
    return cv2.resize(drop, cells, interpolation=cv2.INTER_AREA)


def _gate(evidence: np.ndarray, noise: float, size: tuple[int, int],
          config: AlignmentConfig) -> np.ndarray:
    """Weight in [0, 1] at the working ``size`` (h, w): 1 where the flow is to be kept.

    A cell keeps its flow when the evidence exceeds ``gate_threshold`` noise variances; a
    closing then joins the cells of one vehicle (its flat inside changes nothing when it moves,
    so it gives no evidence) and enclosed holes are filled.
    """
    moving_cells = (evidence > config.gate_threshold * noise).astype(np.uint8)
    if config.gate_seed > config.gate_threshold:
        count, labels = cv2.connectedComponents(moving_cells, connectivity=8)
        seeded = np.zeros(count, bool)
        seeded[labels[evidence > config.gate_seed * noise]] = True
        seeded[0] = False
        moving_cells = seeded[labels].astype(np.uint8)
    diameter = round(config.gate_close / config.gate_cell)
    if diameter >= 2:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (diameter | 1, diameter | 1))
        moving_cells = cv2.morphologyEx(moving_cells, cv2.MORPH_CLOSE, kernel)
    moving_cells = _fill_holes(moving_cells)
    return cv2.resize(moving_cells.astype(np.float32), (size[1], size[0]),
                      interpolation=cv2.INTER_LINEAR)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Mask with every region not connected to the border set (a vehicle's flat inside)."""
    padded = np.pad(mask, 1)
    flood = np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8)
    cv2.floodFill(padded, flood, (0, 0), 1)
    return mask | (padded[1:-1, 1:-1] == 0).astype(np.uint8)


def _to_full_size(flow: np.ndarray, width: int, height: int,
                  config: AlignmentConfig) -> np.ndarray:
    if config.downscale == 1:
        return flow
    full = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    full *= np.float32(config.downscale)
    return full


# --- helpers ---------------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _pixel_grid(height: int, width: int) -> np.ndarray:
    """(H, W, 2) float32 pixel coordinates (x, y), shared read-only between calls."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    grid = np.stack([xs, ys], axis=-1)
    grid.flags.writeable = False
    return grid


def _check_frame(frame: object, name: str, config: AlignmentConfig) -> None:
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"{name} must be a numpy array, got {type(frame).__name__}")
    if frame.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (8-bit frames), got {frame.dtype}")
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3):
        raise ValueError(f"{name} must have shape (H, W, 3) RGB or (H, W) grey, got "
                         f"{frame.shape}")
    least = MIN_SIZE * config.downscale
    if min(frame.shape[:2]) < least:
        raise ValueError(f"{name} must be at least {least}x{least} px ({MIN_SIZE} px after "
                         f"downscale {config.downscale}), got {frame.shape[1]}x{frame.shape[0]}")


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__
