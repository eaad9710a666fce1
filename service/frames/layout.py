"""The network input layout: integer RGB frames -> the (3n, H, W) float32 planes every enhancer
takes, scaled as in training (1 / the dtype's maximum, times gain / reference_gain for a network
trained on exposure-normalised frames). Training builds its examples with these functions, so
what is trained is what is served.

A network that takes a camera's background memory (``memory`` in its model config) gets
MEMORY_CHANNELS more planes after the frames (``memory_planes``): the memory in the frames'
units and its confidence; zeros where the camera has none."""

from __future__ import annotations

import numpy as np

MEMORY_CHANNELS = 4  # the memory's RGB and its confidence, after a memory network's frames
# the memory planes' scales: the memory at four times the frames' units, the confidence at a
# quarter (4 once a network lifts its input 16 times), so that the weights a network learns for
# them from zero (Adam moves each by about its learning rate a step) change its function about
# as fast as its frames' weights do. Scratch runs of training/configs/mim_l1_cr_memory.toml
# (not kept): at 1 and 1 (16 lifted), with a learning rate of 2e-4, validation PSNR fell 0.3 dB
# in the first 600 steps; at 1 and 1/16 the memory's weights reached a twentieth of the frames'
# in 900 steps; at these they still learnt slowly, which the trust network is for
# (training/nets/enhancers.py)
MEMORY_SCALE = 4.0  # the memory's levels, times the frames' input scale
CONFIDENCE_SCALE = 0.25  # the confidence plane's value at full trust


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


def memory_planes(levels: np.ndarray | None, confidence: np.ndarray | None,
                  scale: np.float32, shape: tuple[int, int]) -> np.ndarray:
    """The (MEMORY_CHANNELS, H, W) float32 planes after a memory network's frames: the memory
    ``levels`` (3, H, W) in 8-bit levels of the dark frame times ``scale`` (the input_scale of
    8-bit frames at the frame's gain, whatever the frames' depth) and MEMORY_SCALE, then its
    ``confidence`` (H, W) in [0, 1], times CONFIDENCE_SCALE. None (no memory yet): zeros of
    ``shape`` (H, W), which the network was trained to answer as it would without memory."""
    planes = np.zeros((MEMORY_CHANNELS, *shape), np.float32)
    if levels is not None and confidence is not None:
        np.multiply(levels, np.float32(scale * MEMORY_SCALE), out=planes[:3],
                    casting="unsafe")
        np.multiply(confidence, np.float32(CONFIDENCE_SCALE), out=planes[3])
    return planes
