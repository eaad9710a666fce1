"""Samples: a pure function of (seed, index): the same pair gives the same bytes, another pair
other bytes, and negative numbers are refused."""

from __future__ import annotations

import numpy as np
import pytest

from nightowl.training.synth.degrade import NoiseConfig
from nightowl.training.synth.samples import SampleConfig, make_sample, sample_rng


def test_same_seed_same_bytes_other_index_other_bytes():
    config = SampleConfig()
    a, b = make_sample(config, 11, 5), make_sample(config, 11, 5)
    for name in ("clean", "masks", "flows", "background"):
        assert np.array_equal(getattr(a.sequence, name), getattr(b.sequence, name)), name
    assert np.array_equal(a.low, b.low)
    assert a.sequence.plates == b.sequence.plates
    c = make_sample(config, 11, 6)
    assert not np.array_equal(a.sequence.clean, c.sequence.clean)
    d = make_sample(config, 12, 5)
    assert not np.array_equal(a.sequence.clean, d.sequence.clean)


def test_sample_rng_rejects_negative_numbers():
    with pytest.raises(ValueError, match=">= 0"):
        sample_rng(-1, 0)


def test_a_mono_sample_is_grey_in_its_truth_and_its_dark_frames():
    config = SampleConfig(noise=NoiseConfig(model="mixture", mono_probability=1.0))
    sample = make_sample(config, 11, 5)
    assert sample.noise.mono
    for frames in (sample.sequence.clean, sample.low, sample.sequence.background):
        assert np.array_equal(frames[..., 0], frames[..., 2])
    colour = make_sample(SampleConfig(noise=NoiseConfig(model="mixture")), 11, 5)
    assert not colour.noise.mono
    assert not np.array_equal(colour.sequence.clean[..., 0], colour.sequence.clean[..., 2])
