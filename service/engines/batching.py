"""Frames of the same size from several cameras run through the engine as one batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nightowl.service.engines.base import Engine
from nightowl.service.errors import BatchError


def run_grouped(engine: Engine, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Enhance many inputs, each (3*frames, H, W) float32; inputs of one size share a single
    ``engine.run`` call. Returns the (3, H, W) outputs in the order of ``inputs``."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, frames in enumerate(inputs):
        if not isinstance(frames, np.ndarray) or frames.ndim != 3:
            raise BatchError(f"input {index} must be an array (C, H, W), got "
                             f"{getattr(frames, 'shape', type(frames).__name__)}")
        groups.setdefault(frames.shape, []).append(index)
    outputs: list[np.ndarray | None] = [None] * len(inputs)
    for indices in groups.values():
        enhanced = engine.run(np.stack([inputs[i] for i in indices]))
        for i, out in zip(indices, enhanced, strict=True):
            outputs[i] = out
    return outputs  # type: ignore[return-value]
