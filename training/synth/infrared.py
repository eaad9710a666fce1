"""Grey frames as a monochrome roadside camera sees a scene under its infrared illuminator.

Night cameras mostly drop their IR-cut filter and light the road with near-infrared LEDs, so
their frames are grey and their contrasts are not those of the visible luma:
- blue carries little near-infrared, red and green most (BLEND);
- foliage reflects near-infrared strongly, so green vegetation comes out light (FOLIAGE: the
  amount by which green exceeds red and blue is added back);
- the illuminator's beam is brightest where it points, a little below the frame's centre, and
  falls off towards the corners (FALLOFF at the farthest corner).
These are rough, fixed choices (no scene is drawn differently): the point is contrast unlike
the luma the colour networks were trained on, not a calibrated sensor. A plate keeps its own
contrast, dark characters on a light plate, as a retro-reflective plate does under IR.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from nightowl.training.synth.scenes import Sequence

BLEND = (0.50, 0.42, 0.08)  # near-infrared response to the red, green and blue of the scene
FOLIAGE = 0.6  # weight of green's excess over red and blue, added back (vegetation is light)
FALLOFF = 0.3  # fraction of the illuminator's light lost at the farthest corner
BEAM_CENTRE = (0.5, 0.6)  # (x, y) of the beam's brightest point, fractions of width, height


def infrared(frames: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) uint8 RGB -> the same shape, grey on three equal channels."""
    if frames.dtype != np.uint8 or frames.ndim < 3 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB frames (..., H, W, 3), got {frames.dtype} "
                         f"{frames.shape}")
    rgb = frames.astype(np.float32) * np.float32(1 / 255)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    grey = rgb @ np.asarray(BLEND, np.float32)
    grey += np.float32(FOLIAGE) * np.clip(green - np.maximum(red, blue), 0, None)
    grey *= _beam(*frames.shape[-3:-1])
    out = np.clip(grey * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(out[..., None], 3, axis=-1)


def infrared_sequence(sequence: Sequence) -> Sequence:
    """The sequence as the monochrome camera sees it: its clean, blurred and background frames
    turned grey, its labels (plates, vehicles, masks, flows) unchanged."""
    blurred = None if sequence.blurred is None else infrared(sequence.blurred)
    return replace(sequence, clean=infrared(sequence.clean), blurred=blurred,
                   background=infrared(sequence.background))


def _beam(height: int, width: int) -> np.ndarray:
    """(H, W) float32: the illuminator's relative light, 1 at the beam centre."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = BEAM_CENTRE[0] * (width - 1), BEAM_CENTRE[1] * (height - 1)
    distance = (x - cx) ** 2 + (y - cy) ** 2
    farthest = max((px - cx) ** 2 + (py - cy) ** 2 for px in (0, width - 1)
                   for py in (0, height - 1))
    return (1 - np.float32(FALLOFF) * distance / np.float32(max(farthest, 1))).astype(np.float32)
