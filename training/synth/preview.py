"""Contact sheet of generated samples, for people to look at.

One row per sample: the clean frames, the dark input of frame T as it is, the same brightened by
S, the moving-object mask, the true flow of frame 1 onto frame T (hue = direction, brightness =
length), and frame T with its character boxes and labels.
"""

from __future__ import annotations

import cv2
import numpy as np

from nightowl.training.synth.samples import Sample

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_GAP = 4  # px between tiles
_HEADER = 26  # px above the first row
_ROW_LABEL = 110  # px left of every row


def contact_sheet(samples: list[Sample]) -> np.ndarray:
    """A (H, W, 3) uint8 RGB image with one row per sample."""
    if not samples:
        raise ValueError("a contact sheet needs at least one sample")
    frames, height, width = samples[0].sequence.clean.shape[:3]
    titles = [f"clean t={t + 1}" for t in range(frames)]
    titles += ["dark input", "dark x S", "mask", f"flow 1->{frames}", "characters"]
    cols = len(titles)
    sheet = np.full((_HEADER + len(samples) * (height + _GAP),
                     _ROW_LABEL + cols * (width + _GAP), 3), 24, np.uint8)
    for c, title in enumerate(titles):
        _text(sheet, title, (_ROW_LABEL + c * (width + _GAP) + 4, 18), 0.45)
    for r, sample in enumerate(samples):
        y = _HEADER + r * (height + _GAP)
        for c, tile in enumerate(_tiles(sample)):
            x = _ROW_LABEL + c * (width + _GAP)
            sheet[y:y + height, x:x + width] = tile
        _text(sheet, f"#{sample.index}", (6, y + 20), 0.5)
        _text(sheet, f"S={sample.noise.s:g}", (6, y + 42), 0.5)
        _text(sheet, sample.noise.model, (6, y + 64), 0.5)
    return sheet


def _tiles(sample: Sample) -> list[np.ndarray]:
    seq = sample.sequence
    dark = sample.low[-1]
    bright = np.clip(dark.astype(np.float32) * sample.noise.s, 0, 255).astype(np.uint8)
    mask = np.repeat(seq.masks[-1][..., None].astype(np.uint8) * 255, 3, axis=2)
    return [*seq.clean, dark, bright, mask, flow_to_rgb(seq.flows[0]), _boxes(sample)]


def flow_to_rgb(flow: np.ndarray, max_length: float | None = None) -> np.ndarray:
    """Colour-code a (H, W, 2) flow field: hue = direction, brightness = length."""
    length, angle = cv2.cartToPolar(flow[..., 0], flow[..., 1], angleInDegrees=True)
    scale = max_length or max(float(length.max()), 1e-6)
    hsv = np.empty((*flow.shape[:2], 3), np.uint8)
    hsv[..., 0] = (angle / 2).astype(np.uint8)
    hsv[..., 1] = 255
    hsv[..., 2] = np.clip(length / scale * 255, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def _boxes(sample: Sample) -> np.ndarray:
    image = sample.sequence.clean[-1].copy()
    for plate in sample.sequence.plates:
        colour = (60, 230, 90) if plate.readable else (230, 160, 40)
        for char in plate.chars:
            if not char.visible:
                continue
            x0, y0, x1, y1 = (round(v) for v in char.box)
            cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), colour, 1)
        visible = [c for c in plate.chars if c.visible]
        if visible:
            x0 = round(min(c.box[0] for c in visible))
            y0 = round(min(c.box[1] for c in visible))
            _text(image, plate.labels, (max(0, x0), max(12, y0 - 4)), 0.4, colour)
    return image


def _text(image: np.ndarray, text: str, org: tuple[int, int], scale: float,
          colour: tuple[int, int, int] = (235, 235, 235)) -> None:
    cv2.putText(image, text, org, _FONT, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, org, _FONT, scale, colour, 1, cv2.LINE_AA)
