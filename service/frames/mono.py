"""Grey (mono) frames on colour networks: replicated to RGB on the way in, luma on the way out.

Roadside cameras mostly record monochrome at night, but every served network takes RGB. A grey
frame is replicated to three equal channels, so the colour models run on replicated channels
(``nightowl eval``'s mono split measures that against colour frames of the same scenes; the
served MIM L1+L_CR was fine-tuned with grey sequences as well,
``training/configs/mim_l1_cr_mono.toml`` and the two stages after it). The enhanced RGB comes
back to grey as its BT.601 luma rather than its channel mean: it is the grey a viewer of the
colour answer would see (green-weighted), and any tint the colour model adds counts as it
looks, not as three equal parts.
"""

from __future__ import annotations

import cv2
import numpy as np


def replicate(frame: np.ndarray) -> np.ndarray:
    """(H, W) grey -> (H, W, 3) RGB with three equal channels: a read-only view, no copy."""
    if frame.ndim != 2:
        raise ValueError(f"a grey frame is (H, W), got {frame.shape}")
    return np.broadcast_to(frame[..., None], (*frame.shape, 3))


def luma(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB uint8/uint16/float32 -> (H, W) BT.601 luma of the same dtype."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"an RGB image is (H, W, 3), got {image.shape}")
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY)


def kind(grey: bool) -> str:
    """How messages name a frame's kind: "grey" or "colour"."""
    return "grey" if grey else "colour"
