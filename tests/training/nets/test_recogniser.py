"""The character recogniser: shapes and gradients, targets (the class map follows the boxes)
and reading (reading follows the map)."""

from __future__ import annotations

import numpy as np
import torch

from nightowl.training.nets.recogniser import (
    IGNORE,
    CharRecogniser,
    RecogniserConfig,
    char_targets,
    grid_size,
    read_boxes,
)
from nightowl.training.nets.recogniser_output import CHARSET, STRIDE
from nightowl.training.synth.scenes import CharLabel


def test_targets_mark_box_cores_ignore_box_edges_and_hidden_characters():
    chars = [CharLabel("7", (8.0, 8.0, 16.0, 24.0), True),
             CharLabel("A", (40.0, 8.0, 48.0, 24.0), False)]
    target = char_targets(chars, 32, 64)
    assert target.shape == grid_size(32, 64) == (8, 16)
    seven = 1 + CHARSET.index("7")
    assert target[4, 3] == seven  # cell centred at (14, 18): inside the 7's core
    assert (target == seven).sum() >= 1
    assert target[2, 2] == IGNORE  # the 7's box, outside its core
    assert np.all(target[2:6, 10:12] == IGNORE)  # the hidden A: neither class nor background
    assert target[0, 0] == 0 and target[7, 15] == 0


def test_tiny_boxes_still_get_one_cell():
    target = char_targets([CharLabel("3", (20.5, 20.5, 23.0, 24.0), True)], 48, 48)
    assert (target == 1 + CHARSET.index("3")).sum() == 1


def test_read_boxes_takes_the_most_likely_class_of_the_core():
    h, w = grid_size(32, 64)
    probabilities = np.zeros((1 + len(CHARSET), h, w), np.float32)
    probabilities[0] = 1.0
    box_a, box_b = (8.0, 8.0, 16.0, 24.0), (40.0, 8.0, 48.0, 24.0)
    rows, cols = slice(int(12 // STRIDE), int(20 // STRIDE) + 1), slice(2, 4)
    probabilities[:, rows, cols] = 0
    probabilities[1 + CHARSET.index("5"), rows, cols] = 1.0
    assert read_boxes(probabilities, [box_a, box_b]) == ["5", ""]


def test_recogniser_shapes_and_gradients():
    model = CharRecogniser(RecogniserConfig(width=4))
    out = model(torch.rand(2, 3, 61, 97))
    assert out.shape == (2, 30, *grid_size(61, 97))
    out.logsumexp(1).mean().backward()
    assert all(p.grad is not None for p in model.parameters())
