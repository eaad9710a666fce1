"""Glyphs: every font draws its whole charset, digits look distinct, and unknown fonts or
characters are refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from nightowl.training.synth.glyphs import FONT_NAMES, font_charset, glyph


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
