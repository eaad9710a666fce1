"""The shipped model repository: every file matches its manifest and torch's reference."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from nightowl.service.modelrepo.check import check_models

MODELS = Path(__file__).resolve().parents[1] / "models"
ENHANCERS = {"sim_l1.onnx", "sim_l1_cr.onnx", "mim_l1.onnx", "mim_l1_cr.onnx"}
FP16 = {f.replace(".onnx", ".fp16.onnx") for f in ENHANCERS}
INT8 = {f.replace(".onnx", ".int8.onnx") for f in ENHANCERS}
SHIPPED = {"recogniser.onnx"} | ENHANCERS | FP16 | INT8


def manifest() -> dict:
    return json.loads((MODELS / "manifest.json").read_text())


def test_manifest_lists_every_shipped_file_and_nothing_else():
    listed = {m["file"] for m in manifest()["models"]}
    assert listed == SHIPPED
    on_disk = {p.name for p in MODELS.glob("*.onnx")}
    assert on_disk == SHIPPED


def test_fp16_copies_name_their_fp32_file_and_keep_its_io():
    entries = {m["file"]: m for m in manifest()["models"]}
    for name in FP16:
        half = entries[name]
        assert half["precision"] == "fp16" and half["fp32"] in ENHANCERS
        assert half["inputs"] == entries[half["fp32"]]["inputs"]
        assert half["parity"]["tolerance"] <= 2e-3


def test_int8_copies_name_their_fp32_file_keep_its_io_and_state_their_bound():
    entries = {m["file"]: m for m in manifest()["models"]}
    for name in INT8:
        copy = entries[name]
        assert copy["precision"] == "int8" and copy["fp32"] in ENHANCERS
        assert copy["inputs"] == entries[copy["fp32"]]["inputs"]
        assert copy["outputs"] == entries[copy["fp32"]]["outputs"]
        parity = copy["parity"]
        assert parity["min_psnr_db"] >= 33 and parity["mean_psnr_db"] >= 42
        assert parity["psnr_db_vs_fp32"]["held_out_min"] >= parity["min_psnr_db"]
        assert parity["psnr_db_vs_fp32"]["held_out_mean"] >= parity["mean_psnr_db"]
        assert copy["bytes"] < entries[copy["fp32"]]["bytes"] / 2


def test_int8_copies_hold_their_bound_on_fresh_in_use_inputs():
    """Validation-seed crops that neither calibrated nor checked the export (samples 32-33)."""
    from nightowl.service.frames.quality import psnr_each
    from nightowl.training.release.int8 import in_use_inputs
    from nightowl.training.release.quantize import run_cpu

    entries = {m["file"]: m for m in manifest()["models"]}
    for name in sorted(INT8):
        copy = entries[name]
        inputs = in_use_inputs(copy, 2, first=32)
        psnr = psnr_each(run_cpu(MODELS / name, inputs), run_cpu(MODELS / copy["fp32"], inputs))
        assert psnr.min() >= copy["parity"]["min_psnr_db"], (name, psnr)


def test_shipped_files_match_hashes_and_reference_outputs():
    assert check_models(MODELS) == []


def test_models_folder_stays_under_64_mb():
    total = sum(p.stat().st_size for p in MODELS.rglob("*") if p.is_file())
    assert total < 64 * 2**20


def test_default_model_enhances_a_dark_sequence_of_any_size():
    entry = next(m for m in manifest()["models"] if m["file"] == "mim_l1_cr.onnx")
    session = ort.InferenceSession(str(MODELS / entry["file"]),
                                   providers=["CPUExecutionProvider"])
    frames = np.random.default_rng(0).random((2, 12, 45, 70), dtype=np.float32) / 20
    (out,) = session.run(None, {entry["inputs"][0]["name"]: frames})
    assert out.shape == (2, 3, 45, 70) and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
