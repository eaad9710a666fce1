"""Which file the CPU engine runs: the listed int8 copy by default, fp32 when asked or when no
copy is listed, and an altered copy refused."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from nightowl.service.engines import (
    ModelFileError,
    load_engine,
)
from nightowl.service.modelrepo.entries import sha256
from tests.service.shipped import INT8, MODELS, NO_GPU


def test_cpu_engine_runs_the_int8_copy_by_default_and_says_so(caplog):
    with caplog.at_level(logging.INFO, logger="nightowl.engines"):
        engine = load_engine("sim_l1.onnx", "onnxruntime-cpu", threads=1)
    copy = INT8["sim_l1.onnx"]
    described = engine.describe()
    assert engine.name == copy["file"] == described["file"]
    assert described["precision"] == "int8" and described["fp32"] == "sim_l1.onnx"
    assert described["sha256"] == sha256(MODELS / copy["file"])
    assert f"runs its int8 copy {copy['file']}" in caplog.text
    with np.load(MODELS / copy["reference"]) as reference:  # an in-use input
        out = engine.run(reference["inputs"])
        mse = float(np.mean((out.astype(np.float64) - reference["outputs"]) ** 2))
    assert 10 * np.log10(1 / mse) >= copy["parity"]["min_psnr_db"]


@pytest.mark.parametrize("size", [(1, 1), (7, 130), (61, 97)])
def test_int8_engine_takes_any_size_and_stays_in_range(size):
    engine = load_engine("mim_l1_cr.onnx", "onnxruntime-cpu", threads=1)
    frames = np.random.default_rng(4).random((2, 12, *size), dtype=np.float32) / 20
    out = engine.run(frames)
    assert engine.describe()["precision"] == "int8"
    assert out.shape == (2, 3, *size) and out.min() >= 0 and out.max() <= 1


def test_cpu_precision_fp32_runs_the_file_itself():
    engine = load_engine("sim_l1.onnx", "onnxruntime-cpu", threads=1, cpu_precision="fp32")
    assert engine.name == "sim_l1.onnx" and engine.describe()["precision"] == "fp32"
    with pytest.raises(ValueError, match="cpu_precision must be one of int8, fp32"):
        load_engine("sim_l1.onnx", "onnxruntime-cpu", cpu_precision="int4")


def test_no_int8_copy_listed_runs_fp32_with_a_log_line(models, caplog):
    manifest = json.loads((models / "manifest.json").read_text())
    manifest["models"] = [m for m in manifest["models"] if m.get("precision") != "int8"]
    (models / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.INFO, logger="nightowl.engines"):
        engine = load_engine("sim_l1.onnx", "onnxruntime-cpu", models_dir=models)
    assert engine.name == "sim_l1.onnx" and engine.describe()["precision"] == "fp32"
    assert "sim_l1.onnx on onnxruntime-cpu runs in fp32: the manifest lists no int8" in caplog.text


def test_an_altered_int8_copy_is_refused_naming_it(models):
    name = INT8["sim_l1.onnx"]["file"]
    data = bytearray((models / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (models / name).write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=rf"{name.replace('.', '[.]')} has sha256"):
        load_engine("sim_l1.onnx", "onnxruntime-cpu", models_dir=models)
    engine = load_engine("sim_l1.onnx", "onnxruntime-cpu", models_dir=models,
                         cpu_precision="fp32")  # the fp32 file is still fine
    assert engine.name == "sim_l1.onnx"


@pytest.mark.skipif(not NO_GPU, reason="this host has a GPU or a GPU build of onnxruntime")
def test_auto_falling_back_to_the_cpu_gets_the_int8_copy():
    engine = load_engine("sim_l1.onnx", "auto", threads=1)
    assert engine.backend == "onnxruntime-cpu" and engine.describe()["precision"] == "int8"
    engine = load_engine("sim_l1.onnx", "auto", threads=1, cpu_precision="fp32")
    assert engine.name == "sim_l1.onnx"
