"""The evaluation's pictures, drawn with OpenCV: a contact sheet and the rate-against-S plot."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import cv2
import numpy as np

from nightowl.training.evaluation.reading import plate_box

TILE = 176  # px, side of a frame tile on the synthetic contact sheet
CROP = 96  # px, height of the enlarged plate under each tile
PHOTO_TILE, PHOTO_CROP = 256, 128  # the photo sheet: frames at their own size, to judge colour
FONT = cv2.FONT_HERSHEY_SIMPLEX
WHITE, GREY, DARK = (235, 235, 235), (150, 150, 150), (24, 24, 24)
# one colour per row of the table (RGB), in row order
COLOURS = [(0, 0, 0), (150, 150, 150), (140, 86, 75), (31, 119, 180), (23, 190, 207),
           (214, 39, 40), (255, 127, 14), (44, 160, 44)]


def title_bar(width: int, text: str, height: int = 22) -> np.ndarray:
    """A dark bar ``width`` px wide with ``text`` on it: a contact sheet's row title."""
    bar = np.full((height, width, 3), DARK, np.uint8)
    cv2.putText(bar, text, (6, height - 7), FONT, 0.45, WHITE, 1, cv2.LINE_AA)
    return bar


def plate_tile(image: np.ndarray, box: tuple[float, float, float, float] | None,
          tile: int = TILE, crop_height: int = CROP) -> np.ndarray:
    """The frame, and under it the plate crop enlarged (nearest, so pixels stay visible); the
    frame alone when the scene has no scored plate."""
    frame = image.copy() if image.shape[:2] == (tile, tile) else cv2.resize(
        image, (tile, tile), interpolation=cv2.INTER_AREA)
    if box is None:
        return np.pad(frame, ((2, 2), (2, 2), (0, 0)))
    under = np.full((crop_height, tile, 3), DARK, np.uint8)
    x0, y0, x1, y1 = box
    pad = 0.35 * (y1 - y0) + 2
    h, w = image.shape[:2]
    left, top = max(0, int(x0 - pad)), max(0, int(y0 - pad))
    right, bottom = min(w, int(np.ceil(x1 + pad))), min(h, int(np.ceil(y1 + pad)))
    crop = image[top:bottom, left:right]
    scale = min(tile / crop.shape[1], crop_height / crop.shape[0])
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
    oy, ox = (crop_height - crop.shape[0]) // 2, (tile - crop.shape[1]) // 2
    under[oy:oy + crop.shape[0], ox:ox + crop.shape[1]] = crop
    cv2.rectangle(frame, (int(left * tile / w), int(top * tile / h)),
                  (int(right * tile / w), int(bottom * tile / h)), (255, 64, 64), 1)
    return np.pad(np.vstack([frame, under]), ((2, 2), (2, 2), (0, 0)))


def contact_sheet(items: Sequence[dict], methods: Sequence[str], tile: int = TILE,
                  crop_height: int = CROP) -> np.ndarray:
    """(H, W, 3) uint8 RGB: one row per item, columns the dark frame brightened by S ("gain"),
    each of ``methods``, and the ground truth last; each tile shows the frame and the enlarged
    plate."""
    order = [m for m in methods if m != "ground truth"] + ["ground truth"]
    rows = []
    for item in sorted(items, key=lambda i: i["index"]):
        plate = item["plate"]
        box = plate_box(plate) if plate is not None else None
        tiles = [plate_tile(item["images"][m], box, tile, crop_height) for m in order]
        row = np.hstack(tiles)
        title = (f"{item.get('split', 'synthetic')} test sequence {item['index']}, noise "
                 f"{item['noise']}, S = {item['S']:g}, "
                 + (f"plate {plate.text}" if plate is not None else "no scored plate"))
        rows.append(np.vstack([title_bar(row.shape[1], title), row]))
    sheet = np.vstack(rows)
    header = np.full((42, sheet.shape[1], 3), DARK, np.uint8)
    width = sheet.shape[1] // len(order)
    for i, name in enumerate(order):
        label = "dark x S (gain)" if name == "gain" else name
        first, _, rest = label.partition(" (estimated")
        cv2.putText(header, first, (i * width + 8, 18), FONT, 0.5, WHITE, 1, cv2.LINE_AA)
        if rest:
            cv2.putText(header, "(estimated" + rest, (i * width + 8, 36), FONT, 0.45, WHITE, 1,
                        cv2.LINE_AA)
    return np.vstack([header, sheet])


def rate_plot(rows: Sequence[dict], methods: Sequence[str], splits: Sequence[str],
              noises: Sequence[str], s_values: Sequence[float], key: str = "char_rate"
              ) -> np.ndarray:
    """(H, W, 3) uint8 RGB: correct-answer rate against S, one panel per noise model (columns)
    and split (rows)."""
    plot = np.vstack([np.hstack([_panel(rows, methods, split, noise, s_values, key)
                                 for noise in noises]) for split in splits])
    legend = np.full((30 * ((len(methods) + 3) // 4), plot.shape[1], 3), 255, np.uint8)
    for i, m in enumerate(methods):
        x, y = 20 + (i % 4) * (plot.shape[1] // 4), 20 + 30 * (i // 4)
        colour = COLOURS[i % len(COLOURS)]
        cv2.line(legend, (x, y - 5), (x + 30, y - 5), colour, 2, cv2.LINE_AA)
        cv2.putText(legend, m, (x + 38, y), FONT, 0.5, DARK, 1, cv2.LINE_AA)
    return np.vstack([plot, legend])


def _panel(rows: Sequence[dict], methods: Sequence[str], split: str, noise: str,
           s_values: Sequence[float], key: str, size: tuple[int, int] = (520, 380)
           ) -> np.ndarray:
    width, height = size
    left, right, top, bottom = 60, 20, 40, 50
    panel = np.full((height, width, 3), 255, np.uint8)
    lo_s, hi_s = min(s_values), max(s_values)

    def to_px(s: float, rate: float) -> tuple[int, int]:
        x = left + (s - lo_s) / max(hi_s - lo_s, 1e-9) * (width - left - right)
        return round(x), round(top + (1 - rate) * (height - top - bottom))

    for tick in np.linspace(0, 1, 6):
        x0, y = to_px(lo_s, tick)
        x1, _ = to_px(hi_s, tick)
        cv2.line(panel, (x0, y), (x1, y), (225, 225, 225), 1)
        cv2.putText(panel, f"{tick:.1f}", (left - 40, y + 5), FONT, 0.45, DARK, 1, cv2.LINE_AA)
    for s in s_values:
        x, y = to_px(s, 0)
        cv2.line(panel, (x, y), (x, y + 5), DARK, 1)
        cv2.putText(panel, f"{s:g}", (x - 9, y + 22), FONT, 0.45, DARK, 1, cv2.LINE_AA)
    cv2.rectangle(panel, to_px(lo_s, 1), to_px(hi_s, 0), DARK, 1)
    cv2.putText(panel, "S", (width // 2, height - 8), FONT, 0.5, DARK, 1, cv2.LINE_AA)
    cv2.putText(panel, f"{key}, {split} split, noise {noise}", (left, 25), FONT, 0.5,
                DARK, 1, cv2.LINE_AA)
    for i, m in enumerate(methods):
        points = []
        for s in s_values:
            row = next(r for r in rows
                       if (r["method"], r["split"], r["noise"], r["S"]) == (m, split, noise, s))
            if row[key] is not None:
                points.append(to_px(s, row[key]))
        colour = COLOURS[i % len(COLOURS)]
        for a, b in itertools.pairwise(points):
            cv2.line(panel, a, b, colour, 2, cv2.LINE_AA)
        for p in points:
            cv2.circle(panel, p, 4, colour, -1, cv2.LINE_AA)
    return panel
