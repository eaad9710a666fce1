"""Glyph atlas: high-resolution, ink-cropped character masks for drawing number plates.

Plates are drawn by scaling these masks down with area interpolation, which gives clean,
anti-aliased characters at any size and an exact ink box for every character.

Fonts (all ship with a registry package or with this repository):
- ``sans-regular``, ``sans-bold``, ``sans-black``, ``italic``, ``uni``: OpenCV 5's built-in
  FreeType fonts, compiled into the ``opencv-python-headless`` wheel and distributed with it under
  OpenCV's Apache-2.0 licence (see ``cv2/LICENSE.txt`` in the wheel).
- ``stroke``, ``stroke-bold``: a DIN-like engineering stroke font defined below as polylines,
  and ``segment``: a seven-segment font; both are part of nightowl (Apache-2.0).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

DIGITS = "0123456789"
LETTERS = "ABCDEFHKLMNPRSTUXYZ"
SEPARATORS = "-"
ATLAS_CAP_HEIGHT = 96  # px: cap height at which glyphs are rasterised

# name -> (OpenCV built-in face, weight) for FreeType fonts
FREETYPE_FONTS: dict[str, tuple[str, int]] = {
    "sans-regular": ("sans", 400),
    "sans-bold": ("sans", 700),
    "sans-black": ("sans", 900),
    "italic": ("italic", 500),
    "uni": ("uni", 400),
}
# name -> stroke width as a fraction of cap height, for polyline fonts
STROKE_FONTS: dict[str, float] = {"stroke": 0.12, "stroke-bold": 0.17, "segment": 0.13}
FONT_NAMES: tuple[str, ...] = (*FREETYPE_FONTS, *STROKE_FONTS)


@dataclass(frozen=True)
class Glyph:
    """One character's ink, cropped to its bounding box.

    ``mask`` is float32 in [0, 1] of shape (h, w); ``top`` is the ink's top edge and ``height``
    its height, both as fractions of the cap height (a digit spans top=0, height=1).
    """

    mask: np.ndarray
    top: float
    height: float

    @property
    def aspect(self) -> float:
        """Ink width over cap height."""
        return self.mask.shape[1] / ATLAS_CAP_HEIGHT


def font_charset(font: str) -> str:
    """Characters the font can draw (stroke fonts draw digits and the dash only)."""
    if font in FREETYPE_FONTS:
        return DIGITS + LETTERS + SEPARATORS
    if font in STROKE_FONTS:
        return DIGITS + SEPARATORS
    raise KeyError(f"unknown font {font!r}; known fonts: {', '.join(FONT_NAMES)}")


@cache
def glyph(font: str, char: str) -> Glyph:
    """The atlas entry for ``char`` in ``font`` (rasterised once per process)."""
    if char not in font_charset(font):
        raise KeyError(f"font {font!r} cannot draw {char!r}")
    if font in FREETYPE_FONTS:
        canvas = _rasterise_freetype(font, char)
    else:
        canvas = _rasterise_stroke(font, char)
    return _crop(canvas)


# --- rasterisers ---------------------------------------------------------------------------
_PAD = ATLAS_CAP_HEIGHT  # canvas margin around the cap box
_BASELINE = _PAD + ATLAS_CAP_HEIGHT  # canvas row of the baseline


@cache
def _freetype_size(font: str) -> int:
    """Font size (px) whose digit '0' is ATLAS_CAP_HEIGHT tall."""
    face_name, weight = FREETYPE_FONTS[font]
    probe = 200
    canvas = np.zeros((3 * probe, 3 * probe), np.uint8)
    cv2.putText(canvas, "0", (probe, 2 * probe), (255,), cv2.FontFace(face_name), probe, weight)
    rows = np.flatnonzero(canvas.max(axis=1) > 127)
    return round(probe * ATLAS_CAP_HEIGHT / (rows[-1] - rows[0] + 1))


def _rasterise_freetype(font: str, char: str) -> np.ndarray:
    face_name, weight = FREETYPE_FONTS[font]
    canvas = np.zeros((3 * ATLAS_CAP_HEIGHT, 3 * ATLAS_CAP_HEIGHT), np.uint8)
    org = (_PAD, _BASELINE)
    cv2.putText(canvas, char, org, (255,), cv2.FontFace(face_name), _freetype_size(font), weight)
    # Digits in some faces sit a pixel off the baseline; anchor "0" to the cap box instead.
    zero = _zero_rows(font)
    shift = _PAD - zero
    if shift:
        canvas = np.roll(canvas, shift, axis=0)
    return canvas


@cache
def _zero_rows(font: str) -> int:
    face_name, weight = FREETYPE_FONTS[font]
    canvas = np.zeros((3 * ATLAS_CAP_HEIGHT, 3 * ATLAS_CAP_HEIGHT), np.uint8)
    cv2.putText(canvas, "0", (_PAD, _BASELINE), (255,), cv2.FontFace(face_name),
                _freetype_size(font), weight)
    return int(np.flatnonzero(canvas.max(axis=1) > 127)[0])


def _rasterise_stroke(font: str, char: str) -> np.ndarray:
    canvas = np.zeros((3 * ATLAS_CAP_HEIGHT, 3 * ATLAS_CAP_HEIGHT), np.uint8)
    stroke = STROKE_FONTS[font]
    strokes = _SEGMENT_STROKES[char] if font == "segment" else _DIN_STROKES[char]
    # Strokes are defined on the cap box [0, 0.6] x [0, 1]; the pen is inset by half a stroke.
    inset = stroke / 2
    scale = ATLAS_CAP_HEIGHT * (1 - stroke)
    thickness = max(1, round(stroke * ATLAS_CAP_HEIGHT))
    for line in strokes:
        pts = np.asarray(line, np.float64) * scale + inset * ATLAS_CAP_HEIGHT
        pts = np.round((pts + _PAD) * 16).astype(np.int32)  # 4 fractional bits
        cv2.polylines(canvas, [pts], False, (255,), thickness, cv2.LINE_AA, shift=4)
    return canvas


def _crop(canvas: np.ndarray) -> Glyph:
    rows = np.flatnonzero(canvas.max(axis=1) > 0)
    cols = np.flatnonzero(canvas.max(axis=0) > 0)
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    mask = canvas[r0:r1, c0:c1].astype(np.float32) / 255.0
    return Glyph(mask=mask, top=(r0 - _PAD) / ATLAS_CAP_HEIGHT,
                 height=(r1 - r0) / ATLAS_CAP_HEIGHT)


# --- stroke font definitions (cap box: x in [0, 0.6], y in [0, 1], y down) ------------------
def _arc(cx: float, cy: float, r: float, a0: float, a1: float, n: int = 18) -> list:
    angles = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + r * np.cos(angles), cy + r * np.sin(angles), strict=True))


_DIN_STROKES: dict[str, list[list]] = {
    "0": [_arc(0.3, 0.3, 0.3, 180, 360) + _arc(0.3, 0.7, 0.3, 0, 180) + [(0.0, 0.3)]],
    "1": [[(0.08, 0.22), (0.38, 0.0), (0.38, 1.0)]],
    "2": [[*_arc(0.3, 0.28, 0.28, 200, 390), (0.0, 1.0), (0.6, 1.0)]],
    "3": [[(0.05, 0.0), (0.56, 0.0), (0.24, 0.38), *_arc(0.3, 0.69, 0.31, -100, 150)]],
    "4": [[(0.46, 1.0), (0.46, 0.0), (0.0, 0.7), (0.6, 0.7)]],
    "5": [[(0.56, 0.0), (0.1, 0.0), (0.06, 0.44), *_arc(0.3, 0.69, 0.31, -130, 150)]],
    "6": [[(0.5, 0.0), (0.07, 0.58)], _arc(0.31, 0.71, 0.29, 0, 360, 32)],
    "7": [[(0.0, 0.0), (0.6, 0.0), (0.18, 1.0)]],
    "8": [_arc(0.3, 0.24, 0.24, 0, 360, 28), _arc(0.3, 0.71, 0.29, 0, 360, 32)],
    "9": [_arc(0.29, 0.29, 0.29, 0, 360, 32), [(0.53, 0.42), (0.1, 1.0)]],
    "-": [[(0.1, 0.55), (0.5, 0.55)]],
}

_SEGMENTS = {  # seven-segment layout with small gaps at the joints
    "a": [(0.06, 0.0), (0.54, 0.0)],
    "b": [(0.6, 0.05), (0.6, 0.46)],
    "c": [(0.6, 0.54), (0.6, 0.95)],
    "d": [(0.06, 1.0), (0.54, 1.0)],
    "e": [(0.0, 0.54), (0.0, 0.95)],
    "f": [(0.0, 0.05), (0.0, 0.46)],
    "g": [(0.06, 0.5), (0.54, 0.5)],
}
_SEGMENT_DIGITS = {
    "0": "abcdef", "1": "bc", "2": "abged", "3": "abgcd", "4": "fgbc",
    "5": "afgcd", "6": "afgedc", "7": "abc", "8": "abcdefg", "9": "abcdfg", "-": "g",
}
_SEGMENT_STROKES = {c: [_SEGMENTS[s] for s in segs] for c, segs in _SEGMENT_DIGITS.items()}
