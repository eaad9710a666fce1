"""Vehicle sprites: a car or van seen from the front or the rear, carrying a number plate.

A sprite is drawn once per sequence at the largest size the vehicle reaches and is then warped
into every frame, so all frames share exactly the same texture and the true flow is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from nightowl.training.synth.plates import PlateDrawing

View = Literal["front", "rear"]

BODY_COLOURS: tuple[tuple[int, int, int], ...] = (
    (225, 225, 222), (170, 172, 178), (40, 40, 44), (160, 28, 30), (30, 60, 140),
    (96, 100, 108), (28, 80, 52), (230, 190, 40), (120, 70, 40), (200, 200, 190),
)


@dataclass(frozen=True)
class VehicleSprite:
    """A premultiplied RGBA vehicle image and where its plate characters lie on it.

    ``rgb`` is (h, w, 3) float32 premultiplied by ``alpha`` (h, w), all in [0, 1].
    ``anchor`` is the road contact point (bottom centre) in sprite pixels.
    ``char_quads`` is (n, 4, 2) float32: the corners of each character's ink box.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    anchor: tuple[float, float]
    char_quads: np.ndarray
    plate: PlateDrawing
    view: View


def draw_vehicle(rng: np.random.Generator, plate: PlateDrawing, width_over_plate: float,
                 view: View, texture: np.ndarray | None = None) -> VehicleSprite:
    """Draw a vehicle ``width_over_plate`` times as wide as ``plate``, with the plate mounted.

    ``texture`` (h, w, 3) float32 in [0, 1], a photograph's patch, modulates the body (not the
    plate): its detail over the body colour, its mean brightness left to the colour."""
    plate_h, plate_w = plate.image.shape[:2]
    width = plate_w * width_over_plate
    van = rng.random() < 0.25
    height = width * (rng.uniform(0.92, 1.05) if van else rng.uniform(0.72, 0.84))
    margin = 0.06 * width  # room for the shadow and the mirrors
    canvas_w = int(np.ceil(width + 2 * margin))
    canvas_h = int(np.ceil(height + margin))
    canvas = np.zeros((canvas_h, canvas_w, 4), np.uint8)
    ox, oy = margin, 0.0

    def pt(x: float, y: float) -> tuple[float, float]:
        return (ox + x * width, oy + y * height)

    _draw_shadow(canvas, pt(0.5, 0.99), width)
    colour = np.asarray(BODY_COLOURS[int(rng.integers(len(BODY_COLOURS)))], np.float64)
    colour = np.clip(colour * rng.uniform(0.85, 1.1), 0, 255)
    _draw_body(rng, canvas, pt, colour, van, view)
    if texture is not None:
        _texture_body(canvas, texture)

    # Mount the plate: a small rotation and shear, centred low on the body.
    cx, cy = pt(0.5 + rng.uniform(-0.02, 0.02), rng.uniform(0.72, 0.78))
    cy = min(cy, oy + 0.93 * height - plate_h / 2)
    mount = _plate_mount(rng, plate_w, plate_h, cx, cy)
    _paste_plate(canvas, plate.image, mount)
    corners = np.stack([plate.char_boxes[:, [0, 1]], plate.char_boxes[:, [2, 1]],
                        plate.char_boxes[:, [2, 3]], plate.char_boxes[:, [0, 3]]], axis=1)
    quads = (corners @ mount[:, :2].T + mount[:, 2]).astype(np.float32)

    scale = np.float32(1 / 255)
    return VehicleSprite(rgb=canvas[..., :3].astype(np.float32) * scale,
                         alpha=canvas[..., 3].astype(np.float32) * scale, anchor=pt(0.5, 1.0),
                         char_quads=quads, plate=plate, view=view)


def _texture_body(canvas: np.ndarray, texture: np.ndarray) -> None:
    size = (canvas.shape[1], canvas.shape[0])
    detail = cv2.resize(texture, size, interpolation=cv2.INTER_LINEAR)
    detail = detail / max(float(detail.mean()), 1e-3)
    body = canvas[..., :3].astype(np.float32) * np.clip(detail, 0.2, 3.0)
    canvas[..., :3] = np.clip(body + 0.5, 0, 255).astype(np.uint8)


def _draw_shadow(canvas: np.ndarray, centre: tuple[float, float], width: float) -> None:
    axes = (round(width * 0.55), max(1, round(width * 0.045)))
    top = max(0, round(centre[1] - axes[1] * 4))
    band = canvas[top:, :, 3]  # the shadow only touches the bottom rows
    shadow = np.zeros_like(band)
    cv2.ellipse(shadow, (round(centre[0]), round(centre[1]) - top), axes, 0, 0, 360, (150,), -1,
                cv2.LINE_AA)
    shadow = cv2.GaussianBlur(shadow, (0, 0), max(0.8, width * 0.012))
    np.maximum(band, shadow, out=band)  # premultiplied black


def _draw_body(rng: np.random.Generator, canvas: np.ndarray, pt, colour: np.ndarray,
               van: bool, view: View) -> None:
    def poly(points, rgb, alpha: int = 255) -> None:
        pts = np.round(np.asarray([pt(x, y) for x, y in points]) * 16).astype(np.int32)
        cv2.fillPoly(canvas, [pts], (*map(float, rgb), float(alpha)), cv2.LINE_AA, shift=4)

    dark = (16, 16, 18)
    roof = 0.03 if van else rng.uniform(0.05, 0.12)
    belt = 0.5 if van else 0.47
    # wheels, then the lower body, then the cabin and its glass
    poly([(0.06, 0.82), (0.21, 0.82), (0.21, 1.0), (0.06, 1.0)], dark)
    poly([(0.79, 0.82), (0.94, 0.82), (0.94, 1.0), (0.79, 1.0)], dark)
    poly([(0.0, belt + 0.04), (0.03, belt - 0.02), (0.97, belt - 0.02), (1.0, belt + 0.04),
          (1.0, 0.88), (0.97, 0.92), (0.03, 0.92), (0.0, 0.88)], colour)
    inset = 0.06 if van else 0.12
    poly([(0.04, belt), (inset, roof), (1 - inset, roof), (0.96, belt)], colour * 0.92)
    glass = np.asarray((34, 42, 56)) * rng.uniform(0.8, 1.3)
    poly([(0.1, belt - 0.03), (inset + 0.05, roof + 0.05), (0.95 - inset, roof + 0.05),
          (0.9, belt - 0.03)], glass)
    streak = rng.uniform(0.3, 0.6)
    poly([(streak, belt - 0.03), (streak + 0.1, roof + 0.05), (streak + 0.16, roof + 0.05),
          (streak + 0.06, belt - 0.03)], glass * 1.6)
    poly([(-0.03, belt - 0.02), (0.04, belt - 0.06), (0.05, belt + 0.02), (-0.03, belt + 0.02)],
         colour * 0.7)
    poly([(1.03, belt - 0.02), (0.96, belt - 0.06), (0.95, belt + 0.02), (1.03, belt + 0.02)],
         colour * 0.7)
    # lamps and the bumper
    lamp = (255, 246, 222) if view == "front" else (225, 32, 28)
    top, bottom = belt + 0.05, belt + rng.uniform(0.12, 0.16)
    poly([(0.05, top), (0.26, top), (0.24, bottom), (0.05, bottom)], lamp)
    poly([(0.95, top), (0.74, top), (0.76, bottom), (0.95, bottom)], lamp)
    if view == "front":
        poly([(0.3, top + 0.01), (0.7, top + 0.01), (0.68, bottom), (0.32, bottom)], dark)
    bumper = colour * 0.55 if rng.random() < 0.5 else np.asarray(dark) * 1.5
    poly([(0.01, 0.8), (0.99, 0.8), (0.98, 0.9), (0.02, 0.9)], bumper)
    # a gentle top-to-bottom shading over the whole body
    ramp = np.linspace(256, 205, canvas.shape[0]).astype(np.uint16)[:, None, None]
    canvas[..., :3] = (canvas[..., :3].astype(np.uint16) * ramp) >> 8


def _plate_mount(rng: np.random.Generator, plate_w: int, plate_h: int, cx: float,
                 cy: float) -> np.ndarray:
    """2x3 affine from plate pixels to sprite pixels: slight rotation and shear."""
    angle = np.radians(rng.uniform(-3.0, 3.0))
    shear = rng.uniform(-0.06, 0.06)
    c, s = np.cos(angle), np.sin(angle)
    linear = np.array([[c, -s], [s, c]]) @ np.array([[1.0, shear], [0.0, 1.0]])
    offset = np.array([cx, cy]) - linear @ np.array([plate_w / 2, plate_h / 2])
    return np.hstack([linear, offset[:, None]])


def _paste_plate(canvas: np.ndarray, plate: np.ndarray, mount: np.ndarray) -> None:
    h, w = plate.shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64) @ mount[:, :2].T
    corners += mount[:, 2]
    x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 1, 0)
    x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 2, canvas.shape[1::-1])
    local = mount.copy()
    local[:, 2] -= (x0, y0)
    rgba = np.dstack([plate, np.full(plate.shape[:2], 255, np.uint8)])
    warped = cv2.warpAffine(rgba, local, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    # Border pixels come out of the warp premultiplied (blended with transparent black).
    alpha = warped[..., 3:4].astype(np.float32) / 255.0
    region = canvas[y0:y1, x0:x1, :3]
    blended = region * (1.0 - alpha) + warped[..., :3]
    region[:] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
