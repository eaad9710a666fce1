"""The preview sheet: one row of tiles per sample, flow colour-coded by direction and length,
and no sheet without samples."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from nightowl.training.synth.preview import contact_sheet, flow_to_rgb
from nightowl.training.synth.samples import SampleConfig, make_sample
from nightowl.training.synth.scenes import SceneConfig


def test_sheet_has_a_row_per_sample_and_a_tile_per_view():
    samples = [make_sample(SampleConfig(scene=SceneConfig(width=64, height=48)), 1, i)
               for i in range(2)]
    sheet = contact_sheet(samples)
    tiles = 4 + 5  # the clean frames, dark, dark x S, mask, flow, characters
    assert sheet.shape == (26 + 2 * (48 + 4), 110 + tiles * (64 + 4), 3)
    assert sheet.dtype == np.uint8
    first_clean = sheet[26:26 + 48, 110:110 + 64]
    assert np.array_equal(first_clean, samples[0].sequence.clean[0])
    with pytest.raises(ValueError, match="at least one sample"):
        contact_sheet([])


def test_flow_colour_is_direction_as_hue_and_length_as_brightness():
    flow = np.zeros((1, 4, 2), np.float32)
    flow[0, 1] = (2.0, 0.0)  # right
    flow[0, 2] = (-2.0, 0.0)  # left, as long
    flow[0, 3] = (1.0, 0.0)  # right, half as long
    hsv = cv2.cvtColor(flow_to_rgb(flow), cv2.COLOR_RGB2HSV).astype(int)[0]
    assert hsv[0, 2] == 0  # no motion: black
    assert hsv[1, 2] == hsv[2, 2] == 255 and abs(hsv[3, 2] - 128) <= 1
    assert abs(hsv[1, 0] - hsv[2, 0]) == 90  # opposite directions: opposite hues (of 180)
    assert hsv[1, 0] == hsv[3, 0]
