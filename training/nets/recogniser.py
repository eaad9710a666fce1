"""The character recogniser: per-location class probabilities over plate characters.

It stands in for the paper's RetinaNet trained on SVHN (which cannot be downloaded here): a
small fully convolutional network trained on the generator's plates. Its output is what the
character-recognition loss needs, a probability over {background, characters} at every cell of
a grid with stride 4 px.

Training targets come from the character boxes: the cells whose centres fall in the central
part of a box take the character's class, the rest of the box is ignored (neither background
nor character), everything else is background.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nightowl.training.nets.recogniser_output import CHARSET, STRIDE
from nightowl.training.synth.scenes import CharLabel

IGNORE = -100  # target value that the loss skips
CORE = (0.3, 0.35)  # half-width, half-height of a box's central part, as fractions of the box


@dataclass(frozen=True)
class RecogniserConfig:
    width: int = 32  # channels at full resolution
    charset: str = CHARSET

    @property
    def classes(self) -> int:
        return 1 + len(self.charset)


def _conv(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation,
                                   bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CharRecogniser(nn.Module):
    """(B, 3, H, W) image in [0, 1] -> (B, 1 + K, ceil(H / 4), ceil(W / 4)) class logits.

    Receptive field: 71 px, enough context for characters up to 24 px tall.
    """

    def __init__(self, config: RecogniserConfig) -> None:
        super().__init__()
        self.config = config
        w = config.width
        self.body = nn.Sequential(
            _conv(3, w), _conv(w, w),
            _conv(w, 2 * w, stride=2), _conv(2 * w, 2 * w),
            _conv(2 * w, 3 * w, stride=2), _conv(3 * w, 3 * w),
            _conv(3 * w, 3 * w, dilation=2), _conv(3 * w, 3 * w, dilation=4),
            nn.Conv2d(3 * w, config.classes, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.body(image)

    def probabilities(self, image: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self(image), dim=1)


def grid_size(height: int, width: int) -> tuple[int, int]:
    """Output cells for an input of this size (the stride-2 convs round up)."""
    return (height + STRIDE - 1) // STRIDE, (width + STRIDE - 1) // STRIDE


def char_targets(chars: Iterable[CharLabel], height: int, width: int,
                 charset: str = CHARSET) -> np.ndarray:
    """(h, w) int64 class map for an image of ``height`` x ``width`` px (see module doc)."""
    target = np.zeros(grid_size(height, width), np.int64)
    centres_y = (np.arange(target.shape[0]) + 0.5) * STRIDE
    centres_x = (np.arange(target.shape[1]) + 0.5) * STRIDE
    for char in chars:
        x0, y0, x1, y1 = char.box
        whole = _cells(centres_x, centres_y, x0, y0, x1, y1)
        target[whole] = IGNORE
        if not char.visible or char.label not in charset:
            continue
        target[core_cells(centres_x, centres_y, char.box)] = 1 + charset.index(char.label)
    return target


def core_cells(centres_x: np.ndarray, centres_y: np.ndarray,
               box: tuple[float, float, float, float]) -> tuple[slice, slice]:
    """Cells whose centres lie in the box's central part (always at least the middle cell)."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    hw, hh = (x1 - x0) * CORE[0], (y1 - y0) * CORE[1]
    rows, cols = _cells(centres_x, centres_y, cx - hw, cy - hh, cx + hw, cy + hh)
    if rows.start >= rows.stop:
        row = min(max(int(cy // STRIDE), 0), len(centres_y) - 1)
        rows = slice(row, row + 1)
    if cols.start >= cols.stop:
        col = min(max(int(cx // STRIDE), 0), len(centres_x) - 1)
        cols = slice(col, col + 1)
    return rows, cols


def _cells(centres_x: np.ndarray, centres_y: np.ndarray, x0: float, y0: float, x1: float,
           y1: float) -> tuple[slice, slice]:
    rows = slice(int(np.searchsorted(centres_y, y0)), int(np.searchsorted(centres_y, y1)))
    cols = slice(int(np.searchsorted(centres_x, x0)), int(np.searchsorted(centres_x, x1)))
    return rows, cols


def read_boxes(probabilities: np.ndarray, boxes: Iterable[tuple[float, float, float, float]],
               charset: str = CHARSET) -> list[str]:
    """The character read in each box ("" for background), from (1 + K, h, w) probabilities.

    The class probabilities of the box's central cells are averaged and the most likely class
    wins, background included: a box read as background counts as a missed character.
    """
    classes, h, w = probabilities.shape
    centres_y = (np.arange(h) + 0.5) * STRIDE
    centres_x = (np.arange(w) + 0.5) * STRIDE
    reads = []
    for box in boxes:
        rows, cols = core_cells(centres_x, centres_y, box)
        mean = probabilities[:, rows, cols].reshape(classes, -1).mean(axis=1)
        best = int(mean.argmax())
        reads.append("" if best == 0 else charset[best - 1])
    return reads
