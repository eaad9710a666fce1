"""Reading a plate as a string from the recogniser's per-cell class probabilities.

Validation reads each character at its true box; here the reader only gets the plate's rows
(where the text lines are) and must find the characters itself, so it can miss some or add
some. Along each row it averages the class probabilities over the row's central cells in every
cell column, takes the most likely class per column, and reads a run of columns of one
character class as one character; background columns separate characters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nightowl.training.nets.recogniser_output import CHARSET, STRIDE
from nightowl.training.synth.scenes import PlateLabel

MARGIN = 36  # px of context around plates in a recogniser crop (half its receptive field)
ROW_CORE = 0.35  # half-height of a row's central band, as a fraction of the row's height
ROW_PAD = 0.5  # columns read beyond a row's ends, as a fraction of the row's height


@dataclass(frozen=True)
class Row:
    """One line of text on a plate: ``x0, y0, x1, y1`` px, the extent of its characters."""

    box: tuple[float, float, float, float]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]


def plate_rows(plate: PlateLabel) -> list[Row]:
    """The plate's text lines, top to bottom (characters grouped by their vertical centre)."""
    groups: list[list[tuple[float, float, float, float]]] = []
    for char in sorted(plate.chars, key=lambda c: (c.box[1] + c.box[3]) / 2):
        y0, y1 = char.box[1], char.box[3]
        if groups:
            last = groups[-1]
            centre = np.mean([(b[1] + b[3]) / 2 for b in last])
            height = max(b[3] - b[1] for b in last)
            if abs((y0 + y1) / 2 - centre) <= 0.5 * max(height, y1 - y0):
                last.append(char.box)
                continue
        groups.append([char.box])
    boxes = [np.asarray(g) for g in groups]
    return [Row((float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
                 float(b[:, 3].max()))) for b in boxes]


def plate_box(plate: PlateLabel) -> tuple[float, float, float, float]:
    """x0, y0, x1, y1 px of all the plate's characters."""
    boxes = np.asarray([c.box for c in plate.chars])
    return (float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()),
            float(boxes[:, 3].max()))


def crop_window(plates: list[PlateLabel], height: int, width: int) -> tuple[int, int, int, int]:
    """x0, y0, x1, y1 px of a recogniser crop holding every plate with context, its origin on
    the cell grid (a multiple of the stride), so that cells fall where they do on the frame."""
    boxes = np.asarray([plate_box(p) for p in plates])
    x0 = max(0, int(boxes[:, 0].min() - MARGIN) // STRIDE * STRIDE)
    y0 = max(0, int(boxes[:, 1].min() - MARGIN) // STRIDE * STRIDE)
    x1 = min(width, int(np.ceil(boxes[:, 2].max() + MARGIN)))
    y1 = min(height, int(np.ceil(boxes[:, 3].max() + MARGIN)))
    return x0, y0, x1, y1


def read_row(probabilities: np.ndarray, row: Row, origin: tuple[int, int] = (0, 0)) -> str:
    """The characters read along ``row`` from (1 + K, h, w) probabilities of an image whose
    top-left corner is at ``origin`` (x, y) px of the frame the row's box is given in."""
    _, h, w = probabilities.shape
    x0, y0, x1, y1 = row.box
    ox, oy = origin
    centre_y, pad = (y0 + y1) / 2 - oy, ROW_PAD * row.height
    rows = _cells(centre_y - ROW_CORE * row.height, centre_y + ROW_CORE * row.height, h)
    cols = _cells(x0 - ox - pad, x1 - ox + pad, w)
    columns = probabilities[:, rows, cols].mean(axis=1).argmax(axis=0)  # (columns,)
    read, previous = [], 0
    for label in columns.tolist():
        if label != previous and label != 0:
            read.append(CHARSET[label - 1])
        previous = label
    return "".join(read)


def read_plate(probabilities: np.ndarray, plate: PlateLabel,
               origin: tuple[int, int] = (0, 0)) -> str:
    """The plate read row by row, top to bottom, as one string (separators are never read)."""
    return "".join(read_row(probabilities, row, origin) for row in plate_rows(plate))


def _cells(lo: float, hi: float, count: int) -> slice:
    """Cells whose centres lie in [lo, hi] px, at least the one nearest the middle."""
    first = int(np.ceil(lo / STRIDE - 0.5))
    last = int(np.floor(hi / STRIDE - 0.5))
    if last < first:
        first = last = int((lo + hi) / 2 // STRIDE)
    first, last = max(first, 0), min(last, count - 1)
    return slice(first, max(first, last) + 1)
