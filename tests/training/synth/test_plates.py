"""Plates: character boxes cover the ink of each character; labels drop separators."""

from __future__ import annotations

import numpy as np

from nightowl.training.synth.plates import (
    PLATE_STYLES,
    draw_plate,
    pick_font,
    plate_labels,
    random_plate_rows,
)


def test_plate_boxes_cover_the_ink_of_each_character():
    rng = np.random.default_rng(0)
    for i in range(30):
        rows = random_plate_rows(rng, letters=i % 3 == 0, two_rows=i % 4 == 0)
        font = pick_font(rng, "".join(rows))
        style = list(PLATE_STYLES)[i % len(PLATE_STYLES)]
        caps = [14.0] if len(rows) == 1 else [9.0, 14.0]
        plate = draw_plate(rng, rows, font, style, caps)
        assert plate.labels == plate_labels("".join(rows))
        assert len(plate.char_boxes) == len(plate.labels)
        ink = np.asarray(PLATE_STYLES[style].ink, np.float32)
        paper = np.asarray(PLATE_STYLES[style].background, np.float32)
        h, w = plate.image.shape[:2]
        for x0, y0, x1, y1 in plate.char_boxes:
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            patch = plate.image[int(y0):int(y1), int(x0):int(x1)].astype(np.float32)
            near_ink = np.linalg.norm(patch - ink, axis=-1) < np.linalg.norm(patch - paper,
                                                                             axis=-1)
            assert 0.1 < near_ink.mean() < 0.95, (font, style, plate.text)


def test_plate_labels_drop_separators():
    assert plate_labels("59-72") == "5972"
    assert plate_labels("KA 12") == "KA12"
