"""``nightowl export --check``'s check on a copy of part of the shipped repository: clean files
pass; a missing or altered file, an fp32 file off its torch reference and an int8 copy below its
bound are each reported naming the file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nightowl.service.modelrepo.check import check_models
from tests.service.shipped import MODELS

FILES = ("sim_l1.onnx", "sim_l1.int8.onnx")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """sim_l1.onnx, its int8 copy, their references and a manifest listing just them."""
    manifest = json.loads((MODELS / "manifest.json").read_text())
    manifest["models"] = [m for m in manifest["models"] if m["file"] in FILES]
    (tmp_path / "reference").mkdir()
    for entry in manifest["models"]:
        shutil.copy(MODELS / entry["file"], tmp_path)
        shutil.copy(MODELS / entry["reference"], tmp_path / entry["reference"])
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_clean_files_pass(repo):
    assert check_models(repo) == []


def test_missing_and_altered_files_are_named(repo):
    (repo / "sim_l1.onnx").unlink()
    data = bytearray((repo / "sim_l1.int8.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (repo / "sim_l1.int8.onnx").write_bytes(bytes(data))
    assert sorted(check_models(repo)) == ["sim_l1.int8.onnx: sha256 differs from the manifest",
                                          "sim_l1.onnx: missing"]


def shift_reference(repo: Path, file: str, by: float) -> None:
    """Move the stored reference output of ``file`` by ``by``, as if the file had changed."""
    path = repo / "reference" / (file.removesuffix(".onnx") + ".npz")
    with np.load(path) as reference:
        arrays = dict(reference)
    arrays["outputs"] = arrays["outputs"] + np.float32(by)
    np.savez(path, **arrays)


def test_an_fp32_file_off_its_torch_reference_is_named(repo):
    shift_reference(repo, "sim_l1.onnx", 0.01)
    (problem,) = check_models(repo)
    assert problem.startswith("sim_l1.onnx: differs from torch's reference by 1.00e-02")


def test_an_int8_copy_below_its_bound_is_named(repo):
    shift_reference(repo, "sim_l1.int8.onnx", 0.05)  # about 26 dB: below every copy's bound
    (problem,) = check_models(repo)
    assert problem.startswith("sim_l1.int8.onnx: ") and "dB from the fp32 file's" in problem
