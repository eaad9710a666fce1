"""The network input layout: frames oldest first, channels planar, scaled as in training."""

from __future__ import annotations

import numpy as np

from nightowl.service.frames.layout import input_scale, network_input


def test_frames_are_stacked_oldest_first_as_rgb_planes():
    frames = np.zeros((2, 3, 5, 3), np.uint8)
    frames[0, ..., 1] = 255  # frame 0: green
    frames[1, ..., 2] = 51  # frame 1: a dark blue
    planes = network_input(frames)
    assert planes.shape == (6, 3, 5) and planes.dtype == np.float32
    assert np.allclose([p.mean() for p in planes], [0.0, 1.0, 0.0, 0.0, 0.0, 0.2])


def test_scale_is_one_over_the_dtype_maximum_without_a_reference_gain():
    assert input_scale(np.uint8) == np.float32(1 / 255)
    assert input_scale(np.uint16) == np.float32(1 / 65535)
    assert input_scale(np.uint8, 20.0) == np.float32(1 / 255)  # gain alone changes nothing


def test_exposure_normalised_scale_brings_every_gain_to_the_reference():
    assert np.isclose(input_scale(np.uint8, 20.0, 25.0), 20 / 25 / 255)
    frame = np.full((1, 2, 2, 3), 10, np.uint16)
    planes = network_input(frame, input_scale(np.uint16, 30.0, 25.0))
    assert np.allclose(planes, 10 * 30 / 25 / 65535)


def test_a_single_frame_without_the_frame_axis_is_one_frame():
    frame = np.full((4, 6, 3), 255, np.uint8)
    assert network_input(frame).shape == (3, 4, 6)
