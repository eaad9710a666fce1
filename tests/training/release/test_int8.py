"""int8 copies: `nightowl export --int8` on a copy of the model repository, the stated bound,
the manifest entry, the card, --check catching a damaged copy, nothing written to the cwd."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from nightowl.service.cli import main
from nightowl.service.engines import load_engine
from nightowl.service.modelrepo.check import check_models
from nightowl.training.release.int8 import INT8_MEAN_PSNR_DB, INT8_MIN_PSNR_DB, int8_name

MODELS = Path(__file__).resolve().parents[3] / "models"
FP32 = "sim_l1_cr.onnx"  # the smallest shipped enhancer keeps the test fast


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A model repository holding only the fp32 sim_l1_cr.onnx and its manifest entry."""
    folder = tmp_path / "models"
    (folder / "reference").mkdir(parents=True)
    manifest = json.loads((MODELS / "manifest.json").read_text())
    entry = next(m for m in manifest["models"] if m["file"] == FP32)
    shutil.copy(MODELS / FP32, folder)
    shutil.copy(MODELS / entry["reference"], folder / entry["reference"])
    (folder / "manifest.json").write_text(json.dumps({"models": [entry]}))
    return folder


def test_export_int8_makes_a_checked_listed_copy_and_writes_nothing_else(models, tmp_path,
                                                                          monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert main(["export", "--int8", "--models", str(models)]) == 0
    assert list(cwd.iterdir()) == []  # quantisation's temporary files went elsewhere
    name = int8_name(FP32)
    assert sorted(p.name for p in models.iterdir()) == sorted(
        ["MODEL_CARD.md", "manifest.json", "reference", FP32, name])
    entries = {m["file"]: m for m in json.loads((models / "manifest.json").read_text())["models"]}
    copy = entries[name]
    assert copy["precision"] == "int8" and copy["fp32"] == FP32
    assert copy["quantisation"]["format"] == "QDQ"
    assert copy["parity"]["psnr_db_vs_fp32"]["held_out_min"] >= INT8_MIN_PSNR_DB
    assert copy["parity"]["psnr_db_vs_fp32"]["held_out_mean"] >= INT8_MEAN_PSNR_DB
    assert f"`{name}`" in (models / "MODEL_CARD.md").read_text()
    session = ort.InferenceSession(str(models / name), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == session.get_outputs()[0].type == "tensor(float)"
    assert {n.op_type for n in _graph(models / name).node} >= {"QuantizeLinear",
                                                                "DequantizeLinear"}
    assert check_models(models) == []
    engine = load_engine(FP32, "onnxruntime-cpu", models_dir=models, threads=1)
    assert engine.name == name and engine.describe()["sha256"] == copy["sha256"]

    with np.load(models / copy["reference"]) as reference:  # a copy far from fp32's output
        damaged = {"inputs": reference["inputs"], "outputs": reference["outputs"] * 0.9}
    np.savez_compressed(models / copy["reference"], **damaged)
    assert [p for p in check_models(models) if name in p and "dB" in p]


def _graph(path: Path):
    import onnx

    return onnx.load(str(path)).graph
