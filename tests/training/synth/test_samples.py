"""Samples: a pure function of (seed, index): the same pair gives the same bytes, another pair
other bytes, and negative numbers are refused."""

from __future__ import annotations

import numpy as np
import pytest

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
