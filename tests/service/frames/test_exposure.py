"""The gain: callers' values checked, and the estimate on generated photo scenes (val split),
clamped to the trained range and steady under JPEG."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from nightowl.service.errors import BadRequest
from nightowl.service.frames.exposure import (
    MAX_GAIN,
    TRAINED_GAINS,
    Gain,
    GainEstimator,
    check_gain,
    codec_view,
    estimate_gain,
    estimate_window_gain,
    gain_features,
    gain_from_features,
    told_gain,
)
from nightowl.service.settings import Settings
from nightowl.training.fit.config import DataConfig
from nightowl.training.synth.degrade import NoiseConfig
from nightowl.training.synth.samples import SampleConfig, make_sample
from nightowl.training.synth.scenes import SceneConfig


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


def photo_window(s: float, index: int, noise: str = "eq6") -> np.ndarray:
    """The T dark frames of photo scene ``index`` of the "val" split (the bench's photo scene:
    a relit, auto-exposed photograph behind the vehicles) darkened by S."""
    scene = SceneConfig(photo_backgrounds=1.0, textured_vehicles=0.5, photo_split="val")
    config = SampleConfig(scene=scene, noise=NoiseConfig(noise, s_values=(s,)))
    return make_sample(config, DataConfig().val_seed, index).low


def jpeg_q90(frame: np.ndarray) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]


@pytest.fixture(scope="module")
def photo_windows() -> dict[float, list[np.ndarray]]:
    return {s: [photo_window(s, i) for i in range(8)] for s in (20, 25, 30)}


def test_estimate_on_photo_val_scenes_is_within_the_measured_error(photo_windows):
    # bench/README.md, "Gain estimate": on the photo val split the median relative error of the
    # window estimate is about 5%; here 8 scenes at each of three S
    errors, means = [], {}
    for s, windows in photo_windows.items():
        values = np.array([estimate_window_gain(w) for w in windows])
        assert ((TRAINED_GAINS[0] <= values) & (values <= TRAINED_GAINS[1])).all()
        errors += list(np.abs(values - s) / s)
        means[s] = values.mean()
    assert np.median(errors) < 0.08 and np.mean(errors) < 0.10, errors
    assert means[20] < means[25] < means[30]


def test_jpeg_q90_changes_the_estimate_by_under_1_5_percent(photo_windows):
    # bench/README.md, "Gain estimate": at most 1.1% over 200 photo frames per noise model
    for windows in photo_windows.values():
        for window in windows:
            frame = window[-1]
            assert estimate_gain(jpeg_q90(frame)) == pytest.approx(estimate_gain(frame),
                                                                   rel=0.015)


def test_the_codec_view_leaves_a_q90_jpeg_almost_as_it_is(photo_windows):
    frame = photo_windows[25][0][-1]
    coded = jpeg_q90(frame)
    again = codec_view(coded)
    assert again.dtype == np.uint8 and again.shape == frame.shape
    assert np.abs(again.astype(int) - coded).mean() < 0.1  # re-encoding at its own quality
    assert np.abs(codec_view(frame).astype(int) - coded).max() == 0  # the same encoder
    deep = frame.astype(np.uint16) * 257
    assert np.array_equal(codec_view(deep), codec_view(frame))  # 16 bits read as their 8


def test_window_estimate_is_the_mean_of_its_frames_statistics(photo_windows):
    window = photo_windows[25][0]
    assert estimate_window_gain(window[-1:]) == pytest.approx(estimate_gain(window[-1]))
    mean = np.mean([gain_features(frame) for frame in window], axis=0)
    assert estimate_window_gain(window) == pytest.approx(gain_from_features(mean))


def test_estimate_reads_16_bit_alike_and_clamps_black_and_bright_frames(photo_windows):
    frame = photo_windows[25][0][-1]
    deep = frame.astype(np.uint16) * 257  # the same levels at 16 bits
    assert estimate_gain(deep) == pytest.approx(estimate_gain(frame), rel=0.01)
    assert estimate_gain(np.zeros_like(frame)) == TRAINED_GAINS[1]
    assert estimate_gain(np.full_like(frame, 200)) == TRAINED_GAINS[0]
    assert TRAINED_GAINS[0] <= estimate_gain(frame[:3, :5]) <= TRAINED_GAINS[1]  # tiny frame
    with pytest.raises(ValueError, match="uint8/uint16"):
        gain_features(frame[..., 0])


def test_the_shipped_estimator_reads_the_features_the_server_computes(photo_windows):
    estimator = GainEstimator.load()
    features = gain_features(photo_windows[25][0][-1])
    assert estimator.mean.shape == estimator.std.shape == features.shape
    assert estimator.hidden_weights.shape[0] == features.size
    assert (estimator.std > 0).all()
    # it corrects the exposure rule, it does not replace it: a frame a quarter brighter asks for
    # about a quarter less gain (a little less than that, as its noise grew with it)
    for window in photo_windows[30][:4]:
        frame = window[-1]
        brighter = np.clip(np.rint(frame * 1.25), 0, 255).astype(np.uint8)
        ratio = math.exp(estimator.log_gain(gain_features(frame))
                         - estimator.log_gain(gain_features(brighter)))
        assert 1.1 < ratio < 1.35, ratio


def test_the_estimator_file_round_trips(tmp_path):
    estimator = GainEstimator.load()
    path = tmp_path / "estimator.json"
    path.write_text(estimator.to_json(fitted_by="a test"))
    again = GainEstimator.load(path)
    features = np.linspace(-6, -1, estimator.mean.size)
    assert again.log_gain(features) == pytest.approx(estimator.log_gain(features), abs=1e-5)
