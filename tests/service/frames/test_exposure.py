"""The gain: callers' values checked, and the estimate on generator frames, clamped to the
trained range."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from nightowl.service.errors import BadRequest
from nightowl.service.frames.exposure import (
    MAX_GAIN,
    TRAINED_GAINS,
    Gain,
    check_gain,
    estimate_gain,
    highlight_level,
    told_gain,
)
from nightowl.service.settings import Settings
from nightowl.training.fit.config import DataConfig
from nightowl.training.synth.degrade import NoiseConfig
from nightowl.training.synth.samples import SampleConfig, make_sample


@pytest.mark.parametrize("told, expected", [(None, None), ("", None), (0, None), ("0", None),
                                            ("22.5", 22.5), (1000, 1000.0), (0.5, 0.5)])
def test_check_gain_accepts(told, expected):
    assert check_gain(told) == expected


@pytest.mark.parametrize("told", [-1, "-0.5", math.nan, "nan", math.inf, "inf", MAX_GAIN * 1.01,
                                  "bright", "1e400"])
def test_check_gain_refuses_with_what_is_allowed(told):
    with pytest.raises(BadRequest, match="gain must be"):
        check_gain(told)


@pytest.mark.parametrize("value", [0, -3, "nan", "inf", 1001])
def test_setting_refuses_bad_gains(monkeypatch, value):
    monkeypatch.setenv("NIGHTOWL_GAIN", str(value))
    with pytest.raises(ValidationError, match="gain"):
        Settings()


def test_request_beats_the_setting():
    assert told_gain(22.0, 28.0) == Gain(22.0, "request")
    assert told_gain(None, 28.0) == Gain(28.0, "setting")
    assert told_gain(None, None) is None


def test_setting_from_the_environment(monkeypatch):
    assert Settings().gain is None
    monkeypatch.setenv("NIGHTOWL_GAIN", "22")
    assert Settings().gain == 22.0


def dark_frame(s: float, index: int) -> np.ndarray:
    """Frame T of validation scene ``index`` darkened by S (Eq. 6)."""
    config = SampleConfig(noise=NoiseConfig(s_values=(s,)))
    return make_sample(config, DataConfig().val_seed, index).low[-1]


def test_estimate_on_generator_frames_is_within_the_measured_error():
    # bench/README.md, "Gain estimate" (200 validation scenes): median relative error 7.3% at
    # S = 20, 2.8% at 25, 6.9% at 30 (assuming 25: 25%, 0%, 16.7%); here 12 of those scenes
    estimates = {s: [estimate_gain(dark_frame(s, i)) for i in range(12)] for s in (20, 25, 30)}
    for s, bound in ((20, 0.12), (25, 0.06), (30, 0.11)):
        values = np.array(estimates[s])
        assert ((TRAINED_GAINS[0] <= values) & (values <= TRAINED_GAINS[1])).all()
        assert np.median(np.abs(values - s) / s) < bound, (s, values)
    assert np.mean(estimates[20]) < np.mean(estimates[25]) < np.mean(estimates[30])


def test_estimate_leaves_out_saturated_pixels_and_reads_16_bit_alike():
    frame = dark_frame(25, 0)
    hot = frame.copy()
    hot[:2, :] = 255  # a clipped lamp: it says nothing about the exposure
    assert estimate_gain(hot) == pytest.approx(estimate_gain(frame), rel=0.01)
    deep = frame.astype(np.uint16) * 257  # the same levels at 16 bits
    # within the 8-bit frame's interpolation inside one level (~0.5 of 13 levels here)
    assert highlight_level(deep) == pytest.approx(highlight_level(frame), rel=0.05)
    assert estimate_gain(np.zeros_like(frame)) == TRAINED_GAINS[1]
    assert estimate_gain(np.full_like(frame, 200)) == TRAINED_GAINS[0]
