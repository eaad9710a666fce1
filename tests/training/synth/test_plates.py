"""Glyphs and plates: every font draws its characters; boxes match the ink."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from nightowl.training.synth.glyphs import FONT_NAMES, font_charset, glyph
from nightowl.training.synth.plates import (
    PLATE_STYLES,
    draw_plate,
    pick_font,
    plate_labels,
    random_plate_rows,
)


@pytest.mark.parametrize("font", FONT_NAMES)
def test_every_font_draws_its_whole_charset(font):
    for char in font_charset(font):
        g = glyph(font, char)
        assert g.mask.max() > 0.9, (font, char)
        if char.isdigit():
            assert 0.9 < g.height < 1.15 and -0.1 < g.top < 0.1, (font, char, g.top, g.height)


def test_distinct_digits_look_distinct():
    for font in FONT_NAMES:
        masks = [cv2.resize(glyph(font, d).mask, (16, 24), interpolation=cv2.INTER_AREA)
                 for d in "0123456789"]
        closest = min(np.abs(masks[a] - masks[b]).mean()
                      for a in range(10) for b in range(a + 1, 10))
        assert closest > 0.05, font


def test_unknown_font_or_character_is_refused():
    with pytest.raises(KeyError, match="unknown font"):
        font_charset("comic")
    with pytest.raises(KeyError, match="cannot draw"):
        glyph("segment", "A")


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
