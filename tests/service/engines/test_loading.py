"""load_engine: warm-up before it returns, and the choice of backend on a host without a GPU."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from nightowl.service.engines import (
    BACKENDS,
    BackendUnavailable,
    BatchError,
    Engine,
    load_engine,
    loading,
)
from tests.service.shipped import NO_GPU


class CountingEngine:
    """A real engine that records the batch shape of every call."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.calls = engine, []

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(batch.shape)
        return self.engine.run(batch)


def test_warm_up_runs_every_configured_shape_before_returning(monkeypatch):
    seen = []
    start = loading.ort.load

    def spying(*args, **kwargs):
        seen.append(CountingEngine(start(*args, **kwargs)))
        return seen[-1]

    monkeypatch.setattr(loading.ort, "load", spying)
    load_engine("sim_l1.onnx", "onnxruntime-cpu", warmup_shapes=[(36, 64), (97, 61)])
    assert seen[0].calls == [(1, 3, 36, 64), (1, 3, 97, 61)]


def test_a_warm_up_shape_the_model_cannot_take_fails_the_load():
    with pytest.raises(BatchError, match="B, H, W >= 1"):
        load_engine("sim_l1.onnx", "onnxruntime-cpu", warmup_shapes=[(0, 64)])


def test_unknown_backend_is_refused_listing_the_known_ones():
    with pytest.raises(ValueError, match="onnxruntime-cpu, onnxruntime-cuda"):
        load_engine("sim_l1.onnx", "cuda")


@pytest.mark.skipif(not NO_GPU, reason="this host has a GPU or a GPU build of onnxruntime")
def test_auto_on_a_cpu_only_host_picks_cpu_and_says_why(caplog):
    with caplog.at_level(logging.INFO, logger="nightowl.engines"):
        engine = load_engine("sim_l1.onnx", "auto", threads=1)
    assert engine.backend == "onnxruntime-cpu"
    text = caplog.text
    for backend in ("tensorrt", "onnxruntime-tensorrt", "onnxruntime-cuda"):
        assert f"{backend} is not available for sim_l1.onnx" in text
    assert "chose onnxruntime-cpu for sim_l1.onnx" in text


@pytest.mark.skipif(not NO_GPU, reason="this host has a GPU or a GPU build of onnxruntime")
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "onnxruntime-cpu"])
def test_a_named_gpu_backend_on_a_cpu_only_host_fails_with_the_reason(backend):
    with pytest.raises(BackendUnavailable, match=r"not installed|has no .*ExecutionProvider"):
        load_engine("sim_l1.onnx", backend)
