"""Shared fixtures: small synthetic samples, and real ONNX Runtime engines on the shipped
models, each made once per test session."""

from __future__ import annotations

import pytest

from nightowl.service.engines import load_engine
from nightowl.training.synth.samples import Sample, SampleConfig, make_sample

SEED = 7


@pytest.fixture(scope="session")
def samples() -> list[Sample]:
    """40 default sequences (256x256, T=4, Eq. 6 noise)."""
    config = SampleConfig()
    return [make_sample(config, SEED, index) for index in range(40)]


@pytest.fixture(scope="session")
def engines():
    """The served default and the single-image model of the fewer-than-4-frames policy."""
    return {"multi": load_engine("mim_l1_cr.onnx", "onnxruntime-cpu", threads=1),
            "single": load_engine("sim_l1_cr.onnx", "onnxruntime-cpu", threads=1)}
