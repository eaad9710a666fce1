"""The methods compared: gain only, a classical multi-frame denoiser, and the ONNX networks.

Every method maps one condition's dark frames to an enhanced frame T, (H, W, 3) float32 RGB in
[0, 1], and is timed. The multi-frame methods (classical, MIM) share one alignment per
condition (``nightowl.service.frames.alignment.align_to_last``, the server's), and its time is
added to each of them. A condition tells the true S; :func:`estimated` gives the same condition
told the server's own estimate instead (its time added to each method run on it), since a
camera that sends no gain gets exactly that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from nightowl.service.engines import load_engine
from nightowl.service.frames import exposure
from nightowl.service.frames.alignment import align_to_last
from nightowl.service.frames.layout import input_scale, network_input

# row name -> model file in models/, in the paper's order
NETWORKS: dict[str, str] = {
    "SIM L1": "sim_l1.onnx",
    "SIM L1+L_CR": "sim_l1_cr.onnx",
    "MIM L1": "mim_l1.onnx",
    "MIM L1+L_CR": "mim_l1_cr.onnx",
}
ESTIMATED = " (estimated gain)"  # row-name suffix of a method told the estimated gain
# classical: non-local means h, in noise standard deviations of its input; chosen by PSNR on 8
# sequences of a seed that is not the test set's (h = 0.6 / 0.8 / 1.0 sigma: 27.5 / 28.0 /
# 27.3 dB under eq6 at S = 20 and 30)
NLM_STRENGTH = 0.8
_NOISE_KERNEL = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


@dataclass
class Condition:
    """One test condition's input: dark frames, their alignment onto frame T, and the S told."""

    low: np.ndarray  # (T, H, W, 3) uint8, oldest first
    s: float
    aligned: np.ndarray | None = None  # (T, H, W, 3) uint8, filled by ``align``
    align_ms: float = 0.0
    gain_ms: float = 0.0  # time spent estimating ``s``; 0 when it is the true S

    def align(self) -> np.ndarray:
        if self.aligned is None:
            start = time.perf_counter()
            self.aligned, _ = align_to_last(self.low)
            self.align_ms = (time.perf_counter() - start) * 1e3
        return self.aligned


def estimated_gain(condition: Condition) -> float:
    """The server's estimate of S from the dark frames: from the whole window of T frames, as
    a camera's first full window gets it (later windows are smoothed over time as well)."""
    return exposure.estimate_window_gain(condition.low)


def estimated(condition: Condition) -> Condition:
    """The same frames and alignment, told :func:`estimated_gain`'s S instead of the truth."""
    condition.align()
    start = time.perf_counter()
    s = estimated_gain(condition)
    return Condition(low=condition.low, s=s, aligned=condition.aligned,
                     align_ms=condition.align_ms, gain_ms=(time.perf_counter() - start) * 1e3)


def gain(condition: Condition) -> tuple[np.ndarray, float]:
    """Frame T times S: the camera's own brightening, noise and all."""
    start = time.perf_counter()
    out = np.clip(condition.low[-1].astype(np.float32) * np.float32(condition.s / 255), 0, 1)
    return out, (time.perf_counter() - start) * 1e3


def classical(condition: Condition) -> tuple[np.ndarray, float]:
    """Aligned frames averaged, times S, then OpenCV's non-local means, h from the noise."""
    aligned = condition.align()
    start = time.perf_counter()
    mean = aligned.astype(np.float32).mean(axis=0) * np.float32(condition.s)
    bright = np.clip(mean + 0.5, 0, 255).astype(np.uint8)
    sigma = noise_std(condition.low[-1]) * condition.s / np.sqrt(len(aligned))
    h = float(np.clip(NLM_STRENGTH * sigma, 3, 60))
    out = cv2.fastNlMeansDenoisingColored(bright, None, h, h, 7, 21).astype(np.float32) / 255
    return out, (time.perf_counter() - start) * 1e3 + condition.align_ms + condition.gain_ms


def noise_std(frame: np.ndarray) -> float:
    """Per-pixel noise std of an (H, W, 3) uint8 frame in its own levels (Immerkaer)."""
    grey = frame.astype(np.float32).mean(axis=2)
    response = cv2.filter2D(grey, cv2.CV_32F, _NOISE_KERNEL)[1:-1, 1:-1]
    return float(np.median(np.abs(response))) / (0.6745 * 6.0) * np.sqrt(3.0)


class Network:
    """An exported enhancer on the server's own engine: ONNX Runtime on the CPU, one thread,
    its file checked against the manifest. It is told the condition's S, as classical is:
    a network trained on exposure-normalised frames (``reference_gain`` in its manifest entry)
    gets its input scaled by S / reference_gain, as in training and serving; the others take
    frames as captured. ``precision`` "int8" runs its listed int8 copy, as the server
    does on the CPU by default."""

    def __init__(self, path: Path, threads: int = 1, precision: str = "int8") -> None:
        self.engine = load_engine(path.name, "onnxruntime-cpu", models_dir=path.parent,
                                  threads=threads, cpu_precision=precision)
        self.frames = self.engine.frames

    @property
    def uses_gain(self) -> bool:
        """Whether the S told changes the output (only with a ``reference_gain``)."""
        return self.engine.reference_gain is not None

    def __call__(self, condition: Condition) -> tuple[np.ndarray, float]:
        frames = condition.align() if self.frames > 1 else condition.low[-1:]
        if len(frames) != self.frames:
            raise ValueError(f"the model takes {self.frames} frames, the test set has "
                             f"{len(frames)}")
        start = time.perf_counter()
        scale = input_scale(frames.dtype, condition.s, self.engine.reference_gain)
        out = self.engine.run(network_input(frames, scale)[None])[0]  # (3, H, W)
        out = np.clip(out.transpose(1, 2, 0), 0, 1)
        extra = (condition.align_ms if self.frames > 1 else 0.0) + condition.gain_ms
        return out, (time.perf_counter() - start) * 1e3 + extra
