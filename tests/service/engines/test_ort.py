"""ONNX Runtime engines on the CPU: parity with torch's stored reference, odd sizes, batches,
what an engine describes, and a file onnxruntime cannot load."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest

from nightowl.service.engines import (
    ModelFileError,
    load_engine,
)
from nightowl.service.modelrepo.entries import sha256
from tests.service.shipped import ENHANCERS, MANIFEST, MODELS, rewrite_manifest_sha


@pytest.mark.parametrize("name", ENHANCERS)
def test_cpu_engine_matches_torch_reference(name):
    entry = next(m for m in MANIFEST if m["file"] == name)
    engine = load_engine(name, "onnxruntime-cpu", threads=1, cpu_precision="fp32")
    with np.load(MODELS / entry["reference"]) as reference:
        out = engine.run(reference["inputs"])
        assert out.shape == reference["outputs"].shape and out.dtype == np.float32
        assert np.abs(out - reference["outputs"]).max() <= entry["parity"]["tolerance"]
    assert engine.frames * 3 == entry["inputs"][0]["shape"][1]
    assert engine.input_name == entry["inputs"][0]["name"]


@pytest.mark.parametrize("size", [(97, 61), (61, 97), (1, 1), (7, 130)])
def test_odd_sizes_match_the_unoptimised_graph(mim, size):
    frames = np.random.default_rng(1).random((2, 12, *size), dtype=np.float32) / 20
    plain = ort.SessionOptions()
    plain.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(MODELS / "mim_l1_cr.onnx"), plain,
                                   providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {"frames": frames})
    out = mim.run(frames)
    assert out.shape == (2, 3, *size)
    assert np.abs(out - expected).max() < 1e-4
    assert out.min() >= 0 and out.max() <= 1


def test_batch_equals_frames_run_one_by_one(mim):
    frames = np.random.default_rng(2).random((3, 12, 40, 56), dtype=np.float32) / 20
    together = mim.run(frames)
    apart = np.concatenate([mim.run(frames[i:i + 1]) for i in range(3)])
    np.testing.assert_allclose(together, apart, atol=1e-5)


def test_describe_has_the_manifest_entry_backend_and_threads():
    engine = load_engine("sim_l1.onnx", "onnxruntime-cpu", threads=1, cpu_precision="fp32")
    described = engine.describe()
    assert described["file"] == "sim_l1.onnx" and described["sha256"] == sha256(
        MODELS / "sim_l1.onnx")
    assert described["backend"] == "onnxruntime-cpu" == engine.backend
    assert described["providers"] == ["CPUExecutionProvider"]
    assert described["threads"] == 1 and described["spinning"] is False
    assert described["precision"] == "fp32"
    json.dumps(described)  # served as JSON


def test_corrupt_file_that_matches_its_manifest_is_refused_naming_it(models):
    (models / "sim_l1.onnx").write_bytes(b"not an onnx model" * 100)
    rewrite_manifest_sha(models, "sim_l1.onnx")
    with pytest.raises(ModelFileError, match=r"sim_l1\.onnx cannot be loaded by onnxruntime"):
        # auto ends on the CPU and says so
        load_engine("sim_l1.onnx", models_dir=models, cpu_precision="fp32")
