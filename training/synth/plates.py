"""Number plates: random plate strings, plate styles, and drawing with exact character boxes."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from nightowl.training.synth.glyphs import DIGITS, FREETYPE_FONTS, LETTERS, font_charset, glyph

Rgb = tuple[int, int, int]


@dataclass(frozen=True)
class PlateStyle:
    """Colours and furniture of one kind of plate."""

    background: Rgb
    ink: Rgb
    border: Rgb | None = None  # drawn inset along the edge when set
    band: Rgb | None = None  # a coloured band on the left, as on EU plates


PLATE_STYLES: dict[str, PlateStyle] = {
    "white": PlateStyle(background=(232, 232, 224), ink=(22, 22, 28), border=(40, 40, 40)),
    "white-plain": PlateStyle(background=(238, 238, 232), ink=(18, 18, 22)),
    "eu": PlateStyle(background=(236, 236, 230), ink=(16, 16, 20), border=(30, 30, 30),
                     band=(20, 60, 170)),
    "yellow": PlateStyle(background=(236, 196, 40), ink=(16, 16, 16), border=(20, 20, 20)),
    "green": PlateStyle(background=(24, 96, 56), ink=(236, 236, 230), border=(230, 230, 224)),
    "black": PlateStyle(background=(24, 24, 26), ink=(236, 236, 232), border=(200, 200, 200)),
    "blue": PlateStyle(background=(28, 64, 168), ink=(240, 240, 240), border=(235, 235, 235)),
}

SEPARATOR_CHARS = "- "  # drawn (the dash) or spaced, never labelled as characters


@dataclass(frozen=True)
class PlateDrawing:
    """A plate image and where each labelled character's ink lies on it.

    ``image`` is (h, w, 3) uint8 RGB; ``char_boxes`` is (n, 4) float32 ``x0, y0, x1, y1`` in
    the plate's pixel coordinates, one row per character of ``labels`` (separators excluded).
    """

    image: np.ndarray
    text: str
    labels: str
    char_boxes: np.ndarray
    font: str
    style: str


def plate_labels(text: str) -> str:
    """The characters of a plate string that are read and scored (separators dropped)."""
    return "".join(c for c in text if c not in SEPARATOR_CHARS)


def random_plate_rows(rng: np.random.Generator, letters: bool, two_rows: bool) -> list[str]:
    """Random plate text, one string per row, e.g. ``["59-72"]`` or ``["KA 12", "59-72"]``."""
    def digits(n: int) -> str:
        return "".join(rng.choice(list(DIGITS), n))

    def letters_(n: int) -> str:
        return "".join(rng.choice(list(LETTERS), n))

    if two_rows:
        top = f"{letters_(2)} {digits(2)}" if letters else digits(3)
        return [top, f"{digits(2)}-{digits(2)}"]
    if letters:
        patterns = (lambda: f"{letters_(2)}-{digits(3)}", lambda: f"{letters_(3)} {digits(3)}",
                    lambda: f"{letters_(1)} {digits(4)}")
    else:
        patterns = (lambda: f"{digits(2)}-{digits(2)}", lambda: digits(4),
                    lambda: f"{digits(3)}-{digits(3)}", lambda: digits(int(rng.integers(3, 7))))
    return [patterns[int(rng.integers(len(patterns)))]()]


def pick_font(rng: np.random.Generator, text: str) -> str:
    """A random font that can draw every character of ``text``."""
    fonts = [f for f in (*FREETYPE_FONTS, "stroke", "stroke-bold", "segment")
             if all(c in font_charset(f) + " " for c in text)]
    return fonts[int(rng.integers(len(fonts)))]


def draw_plate(rng: np.random.Generator, rows: list[str], font: str, style: str,
               cap_heights: list[float]) -> PlateDrawing:
    """Draw a plate whose row ``i`` has characters ``cap_heights[i]`` pixels tall.

    Characters are monospaced per row, with small random offsets and size changes per character
    (``jitter``) so that no two plates are pixel-identical.
    """
    spec = PLATE_STYLES[style]
    main_cap = max(cap_heights)
    pad_x = main_cap * rng.uniform(0.35, 0.6)
    pad_y = main_cap * rng.uniform(0.2, 0.32)
    band_w = main_cap * 0.6 if spec.band is not None else 0.0
    row_gap = main_cap * 0.22
    layouts = [_layout_row(rng, text, font, cap) for text, cap in zip(rows, cap_heights,
                                                                       strict=True)]
    inner_w = max(width for _, width in layouts)
    width = int(np.ceil(inner_w + 2 * pad_x + band_w))
    height = int(np.ceil(sum(cap_heights) + row_gap * (len(rows) - 1) + 2 * pad_y))
    image = _plate_background(rng, spec, width, height, main_cap)

    ink = np.asarray(spec.ink, np.float32)
    boxes: list[tuple[float, float, float, float]] = []
    y = pad_y
    for (cells, row_w), cap in zip(layouts, cap_heights, strict=True):
        x0 = band_w + pad_x + (inner_w - row_w) / 2
        for char, cell_x, cell_w in cells:
            box = _stamp(rng, image, ink, font, char, x0 + cell_x, cell_w, y, cap)
            if char not in SEPARATOR_CHARS:
                boxes.append(box)
        y += cap + row_gap
    text = " / ".join(rows) if len(rows) > 1 else rows[0]
    labels = plate_labels("".join(rows))
    return PlateDrawing(image=np.clip(image, 0, 255).astype(np.uint8), text=text, labels=labels,
                        char_boxes=np.asarray(boxes, np.float32).reshape(-1, 4), font=font,
                        style=style)


def _layout_row(rng: np.random.Generator, text: str, font: str,
                cap: float) -> tuple[list[tuple[str, float, float]], float]:
    """Cells (char, x, width) of one monospaced row and the row's total width, in pixels."""
    pitch = max(glyph(font, d).aspect for d in DIGITS) * cap * rng.uniform(1.0, 1.08)
    gap = cap * rng.uniform(0.1, 0.2)
    cells, x = [], 0.0
    for char in text:
        cell_w = cap * 0.45 if char == " " else cap * 0.55 if char == "-" else pitch
        cells.append((char, x, cell_w))
        x += cell_w + gap
    return cells, x - gap


def _plate_background(rng: np.random.Generator, spec: PlateStyle, width: int, height: int,
                      cap: float) -> np.ndarray:
    """Plate paint with a little shading, the border and the band; float32 RGB."""
    shade = np.linspace(rng.uniform(0.9, 1.0), rng.uniform(0.95, 1.05), height, dtype=np.float32)
    image = np.asarray(spec.background, np.float32)[None, None, :] * shade[:, None, None]
    image = np.repeat(image, width, axis=1)
    if spec.band is not None:
        cv2.rectangle(image, (0, 0), (round(cap * 0.55), height - 1), spec.band, -1)
    if spec.border is not None:
        thickness = max(1, round(cap * 0.07))
        inset = max(0, round(cap * 0.06))
        cv2.rectangle(image, (inset, inset), (width - 1 - inset, height - 1 - inset),
                      spec.border, thickness, cv2.LINE_AA)
    return image


def _stamp(rng: np.random.Generator, image: np.ndarray, ink: np.ndarray, font: str, char: str,
           cell_x: float, cell_w: float, row_y: float,
           cap: float) -> tuple[float, float, float, float]:
    """Blend one glyph into ``image``; returns its ink box (x0, y0, x1, y1) in plate pixels."""
    if char == " ":
        return (cell_x, row_y, cell_x, row_y)
    g = glyph(font, char)
    size = cap * rng.uniform(0.96, 1.04)
    gw = max(1, round(g.aspect * size))
    gh = max(1, round(g.height * size))
    x = round(cell_x + (cell_w - gw) / 2 + rng.uniform(-0.05, 0.05) * cap)
    y = round(row_y + g.top * size + rng.uniform(-0.05, 0.05) * cap)
    x = min(max(x, 0), image.shape[1] - gw)
    y = min(max(y, 0), image.shape[0] - gh)
    mask = cv2.resize(g.mask, (gw, gh), interpolation=cv2.INTER_AREA)[..., None]
    region = image[y:y + gh, x:x + gw]
    region *= 1.0 - mask
    region += mask * ink
    return (float(x), float(y), float(x + gw), float(y + gh))
