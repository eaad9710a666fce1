"""What every engine shares: the interface the server calls, batch checks and warm-up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from nightowl.service.errors import BatchError
from nightowl.service.modelrepo.files import ModelFile


@runtime_checkable
class Engine(Protocol):
    """A loaded model on one backend. ``run`` is safe to call from several threads."""

    name: str  # model file name, e.g. "mim_l1_cr.onnx"
    backend: str  # "onnxruntime-cpu" | "onnxruntime-cuda" | "onnxruntime-tensorrt" | "tensorrt"
    input_name: str  # "frames" (MIM) or "frame" (SIM)
    frames: int  # 4 for MIM, 1 for SIM: input channels = 3 * frames (+ the memory's)
    memory_input: bool  # the camera's background memory follows the frames (MEMORY_CHANNELS)
    reference_gain: float | None  # inputs scaled by gain / this (ModelFile.reference_gain)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """(B, C, H, W) float32 (C = 3*frames, + MEMORY_CHANNELS with memory_input) -> (B, 3,
        H, W) float32 in [0, 1]."""
        ...

    def describe(self) -> dict:
        """The manifest entry, the backend and its providers/settings (for GET /v1/model)."""
        ...


def precision(engine: Engine) -> str:
    """What the engine computes in ("int8", "fp16", "fp32"): its backend's word, else fp32."""
    return str(engine.describe().get("precision", "fp32"))


def check_batch(batch: object, model: ModelFile) -> np.ndarray:
    """``batch`` as a C-contiguous float32 (B, C, H, W) array, or BatchError saying why not."""
    channels = model.input_channels
    if not isinstance(batch, np.ndarray):
        raise BatchError(f"{model.path.name} takes a numpy array (B, {channels}, H, W), got "
                         f"{type(batch).__name__}")
    if batch.dtype != np.float32:
        raise BatchError(f"{model.path.name} takes float32 in [0, 1], got {batch.dtype}")
    if batch.ndim != 4 or batch.shape[1] != channels or min(batch.shape) < 1:
        raise BatchError(f"{model.path.name} takes (B, {channels}, H, W) with B, H, W >= 1 "
                         f"({model.input_name}: {model.frames} RGB frames"
                         f"{' and the memory' if model.memory_input else ''}), got {batch.shape}")
    return np.ascontiguousarray(batch)


def warm_up(engine: Engine, channels: int, shapes: Sequence[tuple[int, int]]) -> None:
    """Run one dark frame of every (height, width) so that no real frame pays for first-call
    allocation, kernel selection or engine building."""
    for height, width in shapes:
        engine.run(np.full((1, channels, int(height), int(width)), 0.02, np.float32))
