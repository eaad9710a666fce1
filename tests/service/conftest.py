"""Engines loaded once per test session (real ONNX Runtime sessions on the shipped models)."""

from __future__ import annotations

import pytest

from nightowl.service.engines import load_engine


@pytest.fixture(scope="session")
def engines():
    """The served default and the single-image model of the fewer-than-4-frames policy."""
    return {"multi": load_engine("mim_l1_cr.onnx", "onnxruntime-cpu", threads=1),
            "single": load_engine("sim_l1_cr.onnx", "onnxruntime-cpu", threads=1)}
