"""The network input layout: integer RGB frames -> the (3n, H, W) float32 planes every enhancer
takes, scaled as in training (1 / the dtype's maximum, times gain / reference_gain for a network
trained on exposure-normalised frames). Training builds its examples with these functions, so
what is trained is what is served."""

from __future__ import annotations

import numpy as np


def input_scale(dtype: type | np.dtype, gain: float | None = None,
                reference_gain: float | None = None) -> np.float32:
    """The factor that maps frames of ``dtype`` to a network's input: 1 / the dtype's maximum,
    times gain / reference_gain for a network trained on exposure-normalised frames (see
    ``reference_gain`` in the model's config) when the caller knows the darkening ``gain``."""
    scale = 1.0 / np.iinfo(dtype).max
    if reference_gain is not None and gain is not None:
        scale *= gain / reference_gain
    return np.float32(scale)


def network_input(frames: np.ndarray, scale: np.float32 | None = None) -> np.ndarray:
    """(..., H, W, 3) integer RGB -> (3n, H, W) float32 in [0, 1], frames oldest first: the
    layout every enhancer takes, in training as in serving. ``scale`` defaults to 1 / the
    dtype's maximum."""
    if scale is None:
        scale = input_scale(frames.dtype)
    height, width = frames.shape[-3:-1]
    stacked = frames.reshape(-1, height, width, 3).transpose(0, 3, 1, 2)
    return stacked.reshape(-1, height, width).astype(np.float32) * scale
