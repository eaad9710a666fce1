"""Low-light models: Eq. 6 statistics, the extended camera model, reproducibility."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from nightowl.service.frames.exposure import S_VALUES
from nightowl.training.synth.degrade import (
    MIXTURE_WEIGHTS,
    NoiseConfig,
    NoiseParams,
    degrade,
    draw_noise,
    eq6,
    extended,
    monochrome,
)
from nightowl.training.synth.scenes import SceneConfig, render_sequence

# Over 4 x 512 x 512 x 3 = 3.1 M pixels, the standard error of the mean is ~0.0012 levels and
# that of the std ~0.1 %: these tolerances are loose enough never to flake, tight enough that
# a wrong S, a missing 1/S or a wrong sigma fails them.
MEAN_TOLERANCE = 0.02  # 8-bit levels
STD_RELATIVE_TOLERANCE = 0.02
QUANTISATION_VARIANCE = 1.0 / 12.0  # rounding to integer levels adds this variance


def flat(value: int) -> np.ndarray:
    return np.full((4, 512, 512, 3), value, np.uint8)


@pytest.mark.parametrize(("value", "s", "sigma"), [(200, 20, 2.0), (150, 22, 2.0),
                                                   (255, 30, 1.5), (240, 25, 3.0)])
def test_eq6_mean_is_signal_over_s_and_std_is_sigma(value, s, sigma):
    low = eq6(flat(value), s, sigma, np.random.default_rng(0))
    assert low.dtype == np.uint8
    assert abs(low.mean() - value / s) < MEAN_TOLERANCE
    expected_std = np.sqrt(sigma**2 + QUANTISATION_VARIANCE)
    assert abs(low.std() / expected_std - 1) < STD_RELATIVE_TOLERANCE


def test_eq6_on_a_varied_image_keeps_the_mean():
    rng = np.random.default_rng(1)
    image = rng.integers(120, 256, (4, 256, 256, 3), dtype=np.uint8)
    low = eq6(image, 25, 2.0, np.random.default_rng(2))
    assert abs(low.mean() - image.mean() / 25) < MEAN_TOLERANCE
    residual = low.astype(np.float64) - image / 25.0
    assert abs(residual.std() / np.sqrt(4 + QUANTISATION_VARIANCE) - 1) < STD_RELATIVE_TOLERANCE


def test_eq6_quantises_and_clips_to_8_bits():
    low = eq6(flat(255), 1.01, 20.0, np.random.default_rng(0))
    assert low.dtype == np.uint8 and low.max() == 255
    assert eq6(flat(0), 20, 2.0, np.random.default_rng(0)).min() == 0
    noiseless = eq6(flat(110), 20, 0.0, np.random.default_rng(0))
    assert np.all(noiseless == 6)  # 5.5 rounds to even


def test_noise_is_reproducible_by_seed_and_independent_per_frame():
    image = flat(200)[:, :64, :64]
    a = eq6(image, 20, 2.0, np.random.default_rng(5))
    b = eq6(image, 20, 2.0, np.random.default_rng(5))
    c = eq6(image, 20, 2.0, np.random.default_rng(6))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert not np.array_equal(a[0], a[1])


def test_s_is_drawn_from_the_papers_set():
    rng = np.random.default_rng(0)
    drawn = {draw_noise(NoiseConfig(), rng).s for _ in range(300)}
    assert drawn == set(S_VALUES) == {20, 22, 25, 28, 30}


def test_extended_model_mean_and_variance():
    params = NoiseParams(model="extended", s=20, electrons_per_level=4.0, read_noise=1.5,
                         channel_gain=(1.2, 1.0, 0.7))
    low = extended(flat(200), params, np.random.default_rng(0)).astype(np.float64)
    for channel, gain in enumerate(params.channel_gain):
        signal = 200 / 20 * gain
        values = low[..., channel]
        assert abs(values.mean() - signal) < MEAN_TOLERANCE * 2
        variance = signal / 4.0 + 1.5**2 + QUANTISATION_VARIANCE  # shot + read + rounding
        assert abs(values.var() / variance - 1) < 2 * STD_RELATIVE_TOLERANCE


def test_extended_model_jpeg_and_blur():
    rng = np.random.default_rng(0)
    config = NoiseConfig(model="extended", motion_blur_probability=1.0, jpeg_probability=1.0)
    params = draw_noise(config, rng)
    assert params.exposure > 0 and params.jpeg_quality > 0
    seq = render_sequence(SceneConfig(width=128, height=96), rng, exposure=params.exposure)
    assert seq.blurred is not None
    # only vehicles smear: pixels well away from every vehicle are untouched
    anywhere = seq.masks.any(axis=0).astype(np.uint8)
    still = cv2.dilate(anywhere, np.ones((21, 21), np.uint8)) == 0
    assert still.sum() > 100
    assert np.array_equal(seq.blurred[:, still], seq.clean[:, still])
    moving = seq.masks[0]
    assert not np.array_equal(seq.blurred[0][moving], seq.clean[0][moving])
    low = degrade(seq.blurred, params, rng)
    assert low.dtype == np.uint8 and low.shape == seq.clean.shape
    plain = degrade(seq.blurred, NoiseParams(**{**params.to_dict(), "jpeg_quality": 0}),
                    np.random.default_rng(1))
    assert not np.array_equal(low, plain)


def test_rejects_frames_that_are_not_8_bit_rgb():
    with pytest.raises(ValueError, match="uint8 RGB"):
        eq6(np.zeros((4, 8, 8, 3), np.float32), 20, 2.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="uint8 RGB"):
        eq6(np.zeros((4, 8, 8), np.uint8), 20, 2.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="noise model"):
        NoiseConfig(model="gamma")  # type: ignore[arg-type]


# --- the sensor model -------------------------------------------------------------------------
def sensor_params(**overrides) -> NoiseParams:
    values = {"model": "sensor", "s": 20.0, "channel_gain": (2.0, 1.0, 1.7), "shot": 4e-3,
              "read": 2e-6, "demosaic": False}
    return NoiseParams(**{**values, **overrides})


def test_sensor_keeps_the_mean_colour_and_amplifies_red_and_blue_noise():
    image = flat(160)
    low = degrade(image, sensor_params(), np.random.default_rng(0)).astype(np.float64)
    assert np.allclose(low.mean(axis=(0, 1, 2)), 8.0, atol=0.05)  # white balance undone, redone
    std = low.std(axis=(0, 1, 2))
    # Poisson-Gaussian variance of the raw channel, times its white-balance gain squared
    for channel, gain in enumerate((2.0, 1.0, 1.7)):
        raw = 160 / (255 * 20) / gain
        expected = np.sqrt(raw * 4e-3 + 2e-6) * gain * 255
        assert std[channel] == pytest.approx(np.sqrt(expected**2 + QUANTISATION_VARIANCE),
                                             rel=0.03)


def test_demosaicing_correlates_the_noise_of_neighbouring_pixels():
    image = flat(200)[:1]
    plain = degrade(image, sensor_params(shot=1e-2), np.random.default_rng(1))[0, ..., 1]
    mosaic = degrade(image, sensor_params(shot=1e-2, demosaic=True),
                     np.random.default_rng(1))[0, ..., 1]

    def neighbour_correlation(channel: np.ndarray) -> float:
        x = channel.astype(np.float64) - channel.mean()
        return float((x[:, 1:] * x[:, :-1]).mean() / x.var())

    assert abs(neighbour_correlation(plain)) < 0.05
    assert neighbour_correlation(mosaic) > 0.2


def test_h264_round_trip_keeps_every_frame_and_odd_sizes():
    rng = np.random.default_rng(3)
    image = rng.integers(60, 200, (4, 51, 67, 3), dtype=np.uint8)
    low = degrade(image, sensor_params(h264_crf=20), np.random.default_rng(0))
    reference = degrade(image, sensor_params(), np.random.default_rng(0))
    assert low.shape == image.shape and low.dtype == np.uint8
    assert 0 < np.abs(low.astype(float) - reference).mean() < 3.0  # compressed, not replaced


def test_sensor_draws_stay_in_the_published_ranges():
    from nightowl.training.synth.degrade import BLUE_GAINS, RED_GAINS, SHOT_NOISE

    rng = np.random.default_rng(0)
    draws = [draw_noise(NoiseConfig(model="sensor"), rng) for _ in range(200)]
    assert all(SHOT_NOISE[0] <= d.shot <= SHOT_NOISE[1] for d in draws)
    assert all(RED_GAINS[0] <= d.channel_gain[0] <= RED_GAINS[1] for d in draws)
    assert all(BLUE_GAINS[0] <= d.channel_gain[2] <= BLUE_GAINS[1] for d in draws)
    assert not any(d.jpeg_quality and d.h264_crf for d in draws)  # one codec at most
    assert {bool(d.h264_crf) for d in draws} == {True, False}
    assert {d.demosaic for d in draws} == {True, False}


def test_the_mixture_draws_every_model():
    rng = np.random.default_rng(0)
    models = [draw_noise(NoiseConfig(model="mixture"), rng).model for _ in range(100)]
    assert set(models) == {"eq6", "extended", "sensor"}


def test_the_mixture_draws_each_model_as_often_as_its_weight_says():
    rng = np.random.default_rng(1)
    config = NoiseConfig(model="mixture", mixture_weights=(0.0, 0.2, 0.8))
    models = [draw_noise(config, rng).model for _ in range(2000)]
    assert "eq6" not in models
    assert 0.75 < models.count("sensor") / len(models) < 0.85
    default = NoiseConfig(model="mixture")  # unless told, the weights are MIXTURE_WEIGHTS
    assert default.mixture_weights == tuple(MIXTURE_WEIGHTS.values())


@pytest.mark.parametrize("weights", [(0.5, 0.5), (0.0, 0.0, 0.0), (1.0, -0.1, 0.5)])
def test_bad_mixture_weights_are_refused_naming_the_models(weights):
    with pytest.raises(ValueError, match="mixture_weights must be 3 shares >= 0 of eq6, extended"):
        NoiseConfig(model="mixture", mixture_weights=weights)


def test_unknown_noise_models_are_refused_by_name():
    with pytest.raises(ValueError, match="eq6, extended, sensor, mixture"):
        NoiseConfig(model="gaussian")


@pytest.mark.parametrize("model", ["eq6", "extended", "sensor"])
def test_a_mono_camera_has_one_value_per_pixel_and_the_light_of_three_filters(model):
    rng = np.random.default_rng(5)
    colour = draw_noise(NoiseConfig(model=model, demosaic_probability=1.0), rng)
    grey = monochrome(replace(colour, jpeg_quality=0, h264_crf=0, s=20.0))
    assert grey.mono and not grey.demosaic and len(set(grey.channel_gain)) == 1
    low = degrade(flat(200), grey, np.random.default_rng(0))
    assert np.array_equal(low[..., 0], low[..., 1]) and np.array_equal(low[..., 0], low[..., 2])
    assert abs(low.mean() - 200 / 20 * grey.channel_gain[0]) < 0.1
    assert low[..., 0].std() > 0.3  # noisy, not flat
    if model == "eq6":  # the mean of three draws: a third of the variance, plus rounding's
        expected = np.sqrt(grey.sigma**2 / 3 + QUANTISATION_VARIANCE)
        assert abs(low[..., 0].std() / expected - 1) < STD_RELATIVE_TOLERANCE


def test_mono_frames_stay_grey_through_the_codecs():
    rng = np.random.default_rng(1)
    frames = np.repeat(rng.integers(0, 256, (4, 64, 64, 1), dtype=np.uint8), 3, axis=-1)
    for codec in ({"jpeg_quality": 60}, {"h264_crf": 24}):
        params = monochrome(NoiseParams(model="sensor", s=20.0, shot=1e-3, read=1e-6,
                                        **codec))
        low = degrade(frames, params, rng)
        assert np.array_equal(low[..., 0], low[..., 2]), codec


def test_colour_draws_are_unchanged_by_the_mono_option():
    for seed in range(20):
        before = draw_noise(NoiseConfig(model="mixture"), np.random.default_rng(seed))
        after_rng = np.random.default_rng(seed)
        assert draw_noise(NoiseConfig(model="mixture", mono_probability=0.0), after_rng) == before
    drawn = [draw_noise(NoiseConfig(model="mixture", mono_probability=0.5),
                        np.random.default_rng(seed)).mono for seed in range(200)]
    assert 60 < sum(drawn) < 140
    with pytest.raises(ValueError, match="mono_probability"):
        NoiseConfig(mono_probability=1.5)
