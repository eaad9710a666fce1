"""Grey frames replicated to RGB for the networks, and the answer's luma back."""

from __future__ import annotations

import numpy as np
import pytest

from nightowl.service.frames.mono import luma, replicate


def test_replicate_gives_three_equal_channels_without_a_copy():
    grey = np.arange(12, dtype=np.uint16).reshape(3, 4)
    rgb = replicate(grey)
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint16
    assert all(np.array_equal(rgb[..., c], grey) for c in range(3))
    assert np.shares_memory(rgb, grey)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_luma_of_replicated_grey_is_the_grey(dtype):
    grey = np.random.default_rng(0).integers(0, np.iinfo(dtype).max, (8, 8), dtype=dtype)
    assert np.array_equal(luma(replicate(grey)), grey)


def test_luma_weighs_green_most():
    red, green = np.zeros((1, 2, 3), np.uint8), np.zeros((1, 2, 3), np.uint8)
    red[..., 0], green[..., 1] = 200, 200
    assert luma(green)[0, 0] > luma(red)[0, 0] > 0


def test_exception_on_the_wrong_shapes():
    with pytest.raises(ValueError, match="grey"):
        replicate(np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="RGB"):
        luma(np.zeros((2, 2), np.uint8))
