"""Smoothing a camera's estimated gain: steadier than the raw estimates on a generated photo
sequence, restarted with the buffer, and never applied to a told gain."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nightowl.service.frames.exposure import Gain, estimate_window_gain
from nightowl.service.frames.gain_tracker import GainTracker
from nightowl.service.frames.pipeline import Pipeline
from nightowl.service.serving.buffers import CameraBuffers
from nightowl.training.fit.config import DataConfig
from nightowl.training.synth.degrade import NoiseConfig
from nightowl.training.synth.samples import SampleConfig, make_sample
from nightowl.training.synth.scenes import SceneConfig


@pytest.fixture(scope="module")
def frames() -> np.ndarray:
    """16 dark frames (S = 25, the sensor model) of one photo scene of the val split."""
    scene = SceneConfig(frames=16, photo_backgrounds=1.0, textured_vehicles=0.5,
                        photo_split="val")
    config = SampleConfig(scene=scene, noise=NoiseConfig("sensor", s_values=(25,)))
    return make_sample(config, DataConfig().val_seed, 1).low


def test_first_estimates_are_averaged_then_an_ema_in_log_space():
    tracker = GainTracker(alpha=0.25)
    assert tracker.update(20.0) == pytest.approx(20.0)
    assert tracker.update(30.0) == pytest.approx(math.sqrt(20.0 * 30.0))
    assert tracker.update(30.0) == pytest.approx((20.0 * 30.0 * 30.0) ** (1 / 3))
    previous = tracker.update(30.0)  # 1 / 4: still the plain mean
    assert tracker.update(20.0) == pytest.approx(math.exp(0.75 * math.log(previous)
                                                          + 0.25 * math.log(20.0)))
    assert tracker.count == 5
    with pytest.raises(ValueError, match="finite and > 0"):
        tracker.update(0.0)
    with pytest.raises(ValueError, match="alpha"):
        GainTracker(alpha=0.0)


def test_smoothing_reduces_the_flicker_of_a_sequence(frames):
    tracker = GainTracker()
    raw, smooth = [], []
    for t in range(len(frames)):
        raw.append(estimate_window_gain(frames[max(0, t - 3):t + 1]))
        smooth.append(tracker.push(frames[t]))  # the same windows' statistics, smoothed
    assert smooth[0] == pytest.approx(raw[0])
    late_raw, late_smooth = np.diff(np.log(raw[4:])), np.diff(np.log(smooth[4:]))
    assert np.abs(late_smooth).mean() < 0.5 * np.abs(late_raw).mean(), (raw, smooth)


def test_a_restarted_buffer_starts_a_new_tracker(frames):
    buffers = CameraBuffers(frames=4, max_gap=2)
    first = buffers.push("cam", frames[0], 0)
    assert buffers.push("cam", frames[1], 1).gain is first.gain
    assert buffers.push("cam", frames[1], 1).gain is None  # a duplicate: nothing to track
    first.gain.push(frames[0])
    restarted = buffers.push("cam", frames[2], 9)  # a gap: the buffer restarts
    assert restarted.reset and restarted.gain is not first.gain and restarted.gain.count == 0


def test_the_pipeline_takes_the_camera_estimate_but_never_over_a_told_gain(frames):
    pipeline = Pipeline(multi_reference_gain=25.0, single_reference_gain=25.0)
    assert pipeline.estimates and not Pipeline().estimates
    window = frames[:4]
    estimated = pipeline.prepare(window, None, 27.5)
    assert estimated.gain == Gain(27.5, "estimated")
    told = Gain(22.0, "request")
    assert pipeline.prepare(window, told, 27.5).gain == told
    alone = pipeline.prepare(window)  # no camera: the window's own estimate
    assert alone.gain == Gain(pytest.approx(estimate_window_gain(window)), "estimated")
