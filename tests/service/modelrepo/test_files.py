"""Model files checked against their manifest before any runtime touches them: missing,
altered, unlisted files and a missing manifest are refused naming the file."""

from __future__ import annotations

import shutil

import pytest

from nightowl.service.engines import (
    ModelFileError,
    load_engine,
)


def test_missing_file_is_refused_naming_it(models):
    (models / "sim_l1.onnx").unlink()
    with pytest.raises(ModelFileError, match=r"sim_l1\.onnx is missing"):
        load_engine("sim_l1.onnx", models_dir=models)


def test_altered_file_is_refused_naming_it(models):
    data = bytearray((models / "sim_l1.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (models / "sim_l1.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"sim_l1\.onnx has sha256 .* but .*manifest"):
        load_engine("sim_l1.onnx", "onnxruntime-cpu", models_dir=models)


def test_unlisted_file_and_missing_manifest_are_refused(models, tmp_path):
    shutil.copy(models / "sim_l1.onnx", models / "extra.onnx")
    with pytest.raises(ModelFileError, match=r"extra\.onnx is not listed in"):
        load_engine(models / "extra.onnx")
    (models / "manifest.json").unlink()
    with pytest.raises(ModelFileError, match=r"no manifest at .*sim_l1\.onnx cannot be checked"):
        load_engine("sim_l1.onnx", models_dir=models)


def test_a_path_is_checked_against_its_folders_manifest(models):
    engine = load_engine(models / "sim_l1.onnx", "onnxruntime-cpu", cpu_precision="fp32")
    assert engine.name == "sim_l1.onnx" and engine.frames == 1
