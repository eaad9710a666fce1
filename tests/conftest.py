"""Shared fixtures: small synthetic samples, made once per test session."""

from __future__ import annotations

import pytest

from nightowl.training.samples import Sample, SampleConfig, make_sample

SEED = 7


@pytest.fixture(scope="session")
def samples() -> list[Sample]:
    """40 default sequences (256x256, T=4, Eq. 6 noise)."""
    config = SampleConfig()
    return [make_sample(config, SEED, index) for index in range(40)]
