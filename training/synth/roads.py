"""Static night-time street backgrounds seen by a fixed roadside camera.

The road recedes to a vanishing point; everything at depth is scaled by its distance below the
horizon, which is also how vehicles grow as they approach (see ``scenes.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class RoadLayout:
    """Perspective of the road, in pixels of the frame.

    At image row ``y`` below the horizon the road's centre is at
    ``vanishing_x + tilt * (y - horizon)`` and one lane is ``lane_slope * (y - horizon)`` wide.
    """

    vanishing_x: float
    horizon: float
    lane_slope: float
    lanes: int
    tilt: float

    def centre_x(self, y: np.ndarray | float) -> np.ndarray | float:
        return self.vanishing_x + self.tilt * (np.asarray(y) - self.horizon)

    def lane_width(self, y: np.ndarray | float) -> np.ndarray | float:
        return self.lane_slope * (np.asarray(y) - self.horizon)

    def lateral_x(self, y: float, lanes_from_centre: float) -> float:
        """x of a line ``lanes_from_centre`` lane widths right of the road centre at row y."""
        return float(self.centre_x(y) + lanes_from_centre * self.lane_width(y))


def render_background(rng: np.random.Generator, width: int, height: int,
                      layout: RoadLayout) -> np.ndarray:
    """A lit night street, (height, width, 3) float32 RGB in [0, 1]."""
    image = np.empty((height, width, 3), np.float32)
    _sky(rng, image, layout.horizon)
    ground = _ground(rng, width, height, layout)
    lamps = _lamp_posts(rng, width, height, layout)
    light = _light_map(rng, width, height, layout, lamps)
    below = slice(max(0, int(layout.horizon)), height)
    image[below] = ground[below] * light[below]
    _skyline(rng, image, layout.horizon)
    _draw_lamp_posts(image, lamps)
    fall_off = _vignette(rng, width, height)
    image *= fall_off
    return np.clip(image, 0.0, 1.0, out=image)


# --- pieces ---------------------------------------------------------------------------------
def _sky(rng: np.random.Generator, image: np.ndarray, horizon: float) -> None:
    top = np.asarray([10, 14, 32], np.float32) / 255 * rng.uniform(0.7, 1.4)
    glow = np.asarray([52, 50, 62], np.float32) / 255 * rng.uniform(0.7, 1.5)
    t = np.clip(np.arange(image.shape[0], dtype=np.float32) / max(horizon, 1.0), 0, 1)
    image[:] = (top + (glow - top) * t[:, None] ** 2)[:, None, :]


def _ground(rng: np.random.Generator, width: int, height: int,
            layout: RoadLayout) -> np.ndarray:
    """Pavement, kerbs, road surface and lane marks before lighting; float32 RGB."""
    pavement = np.asarray(rng.uniform([70, 66, 60], [120, 112, 100]), np.float32) / 255
    asphalt = np.float32(rng.uniform(45, 85) / 255)
    ground = np.empty((height, width, 3), np.float32)
    ground[:] = pavement
    h0 = layout.horizon
    far = h0 + 1.0
    bottom = height * 1.5

    def edge_points(lanes_from_centre: float) -> list[tuple[float, float]]:
        return [(layout.lateral_x(far, lanes_from_centre), far),
                (layout.lateral_x(bottom, lanes_from_centre), bottom)]

    half = layout.lanes / 2
    kerb = 0.18
    for side in (-1, 1):  # kerbs: a light strip just outside each road edge
        a, b = edge_points(side * half), edge_points(side * (half + kerb))
        _fill_quad(ground, [a[0], a[1], b[1], b[0]], np.full(3, rng.uniform(0.5, 0.7)))
    left, right = edge_points(-half), edge_points(half)
    road_colour = np.asarray([asphalt, asphalt, asphalt * rng.uniform(0.98, 1.06)])
    _fill_quad(ground, [left[0], right[0], right[1], left[1]], road_colour)
    # road texture: coarse patches and fine grain, on the road only
    coarse = rng.random((max(2, height // 16), max(2, width // 16)), dtype=np.float32)
    grain = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    ground *= (0.9 + 0.2 * grain)[..., None]
    mark = np.asarray([0.85, 0.85, 0.8]) if rng.random() < 0.7 else np.asarray([0.9, 0.75, 0.2])
    for boundary in range(1, layout.lanes):
        _dashes(rng, ground, layout, boundary - half, mark, height)
    for side in (-1, 1):
        inner = side * (half - 0.05)
        a, b = edge_points(inner), edge_points(side * half)
        _fill_quad(ground, [a[0], a[1], b[1], b[0]], mark * 0.9)
    return ground


def _dashes(rng: np.random.Generator, ground: np.ndarray, layout: RoadLayout, lanes_off: float,
            colour: np.ndarray, height: int) -> None:
    """Dashed lane boundary: dashes of equal length on the road, so shorter with depth."""
    h0 = layout.horizon
    depth_near = 1.0 / max(height - h0, 1.0)
    period = rng.uniform(0.8, 1.4) * depth_near  # in inverse-pixel depth units
    depth = depth_near * 0.9 + rng.uniform(0, period)
    half_w = 0.03
    quads = []
    while True:
        y_near, y_far = h0 + 1.0 / depth, h0 + 1.0 / (depth + period * 0.45)
        if y_near - y_far < 1.0:  # dashes shorter than a pixel merge into the road
            break
        quads.append([(layout.lateral_x(y_far, lanes_off - half_w), y_far),
                      (layout.lateral_x(y_far, lanes_off + half_w), y_far),
                      (layout.lateral_x(y_near, lanes_off + half_w), y_near),
                      (layout.lateral_x(y_near, lanes_off - half_w), y_near)])
        depth += period
    if quads:
        _fill_quads(ground, quads, colour)


@dataclass(frozen=True)
class _LampPost:
    base: tuple[float, float]
    top: tuple[float, float]
    head: tuple[float, float]
    size: float
    colour: np.ndarray


def _lamp_posts(rng: np.random.Generator, width: int, height: int,
                layout: RoadLayout) -> list[_LampPost]:
    posts = []
    side = rng.choice([-1, 1])
    spacing = rng.uniform(0.5, 0.9)
    depth = rng.uniform(0.3, 1.0) / max(height - layout.horizon, 1.0)
    sodium = rng.random() < 0.5
    colour = (np.asarray([1.0, 0.78, 0.45]) if sodium else np.asarray([0.92, 0.95, 1.0]))
    while depth < 1.0 / 6.0 and len(posts) < 6:
        y = layout.horizon + 1.0 / depth
        scale = y - layout.horizon
        x = layout.lateral_x(y, side * (layout.lanes / 2 + 0.45))
        top = (x, y - scale * 2.2)
        head = (x - side * scale * 0.5, top[1] + scale * 0.05)
        posts.append(_LampPost((x, y), top, head, scale, colour))
        if rng.random() < 0.5:
            side = -side
        depth *= 1.0 + spacing
    return posts


def _light_map(rng: np.random.Generator, width: int, height: int, layout: RoadLayout,
               lamps: list[_LampPost]) -> np.ndarray:
    """Ambient light plus a pool under each lamp, computed at quarter resolution."""
    w, h = max(2, width // 4), max(2, height // 4)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    ys, xs = ys * 4 + 2, xs * 4 + 2
    ambient = rng.uniform(0.35, 0.6)
    light = np.full((h, w, 3), ambient, np.float32)
    for lamp in lamps:
        cx, cy = lamp.head[0], lamp.base[1]
        rx, ry = lamp.size * 2.2, lamp.size * 0.5
        pool = np.exp(-(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2))
        light += pool[..., None] * lamp.colour.astype(np.float32) * rng.uniform(0.6, 1.1)
    return cv2.resize(light, (width, height), interpolation=cv2.INTER_LINEAR)


def _skyline(rng: np.random.Generator, image: np.ndarray, horizon: float) -> None:
    """Building facades standing on the horizon, with some windows lit."""
    width = image.shape[1]
    x = -rng.uniform(0, 20)
    base = int(horizon) + 1
    while x < width:
        w = rng.uniform(0.08, 0.25) * width
        h = rng.uniform(0.15, 0.9) * horizon
        facade = np.asarray(rng.uniform([20, 20, 24], [60, 56, 60]), np.float32) / 255
        x0, x1, y0 = int(x), int(x + w), int(base - h)
        cv2.rectangle(image, (x0, y0), (x1, base), facade.tolist(), -1)
        step = max(3, int(width * rng.uniform(0.015, 0.03)))
        lit = np.asarray([1.0, 0.85, 0.55], np.float32) * rng.uniform(0.6, 1.0)
        for wy in range(y0 + step, base - step, step * 2):
            for wx in range(x0 + step // 2, x1 - step, step * 2):
                if rng.random() < 0.3:
                    cv2.rectangle(image, (wx, wy), (wx + step - 1, wy + step - 1),
                                  lit.tolist(), -1)
        x += w + rng.uniform(0, 0.05) * width


def _draw_lamp_posts(image: np.ndarray, lamps: list[_LampPost]) -> None:
    for lamp in lamps:
        thick = max(1, round(lamp.size * 0.06))
        pole = (0.12, 0.12, 0.13)
        cv2.line(image, _ipt(lamp.base), _ipt(lamp.top), pole, thick, cv2.LINE_AA)
        cv2.line(image, _ipt(lamp.top), _ipt(lamp.head), pole, thick, cv2.LINE_AA)
        radius = max(1, round(lamp.size * 0.12))
        cv2.ellipse(image, _ipt(lamp.head), (radius * 2, radius), 0, 0, 360,
                    lamp.colour.tolist(), -1, cv2.LINE_AA)


def _vignette(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Lens fall-off: a little darker towards the corners."""
    strength = rng.uniform(0.15, 0.35)
    ys = (np.arange(height, dtype=np.float32) - height / 2) / max(height, width)
    xs = (np.arange(width, dtype=np.float32) - width / 2) / max(height, width)
    r2 = ys[:, None] ** 2 + xs[None, :] ** 2
    return (1.0 - strength * r2 * 2.0)[..., None]


def _fill_quad(image: np.ndarray, points: list[tuple[float, float]], colour: np.ndarray) -> None:
    _fill_quads(image, [points], colour)


def _fill_quads(image: np.ndarray, quads: list[list[tuple[float, float]]],
                colour: np.ndarray) -> None:
    pts = np.round(np.asarray(quads, np.float64) * 16)  # 4 fractional bits
    pts = np.clip(pts, -(2**24), 2**24).astype(np.int32)
    cv2.fillPoly(image, list(pts), np.asarray(colour, np.float64).tolist(), cv2.LINE_AA,
                 shift=4)


def _ipt(p: tuple[float, float]) -> tuple[int, int]:
    return (round(p[0]), round(p[1]))
