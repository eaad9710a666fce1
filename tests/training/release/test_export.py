"""Export: ONNX matches torch on odd sizes, the manifest records it, --check catches damage."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import onnxruntime as ort
import torch

from nightowl.service.modelrepo.manifest import check_models, update_manifest
from nightowl.training.nets.enhancers import EnhancerConfig, build_enhancer
from nightowl.training.release.export import PARITY_TOLERANCE, export_run


def export_tiny(folder, kind: str):
    """A tiny untrained enhancer exported into folder/models; returns (model, models, entry)."""
    torch.manual_seed(0)
    config = EnhancerConfig(kind=kind, width=4, depth=2)
    model = build_enhancer(config).eval()
    final = folder / "final.pt"
    torch.save({"model": model.state_dict(), "model_config": asdict(config),
                "task": "enhancer", "config": {"name": "tiny"}, "steps": 1,
                "validation": {}}, final)
    models = folder / "models"
    entry = export_run(final, "tiny", models, description="test")
    update_manifest(models, entry)
    return model, models, entry


def test_export_parity_manifest_and_check(tmp_path):
    model, models, entry = export_tiny(tmp_path, "mim")
    assert max(entry["parity"]["max_abs_diff"].values()) <= PARITY_TOLERANCE
    assert entry["inputs"][0]["name"] == "frames"

    session = ort.InferenceSession(str(models / "tiny.onnx"),
                                   providers=["CPUExecutionProvider"])
    frames = np.random.default_rng(1).random((3, 12, 33, 50), dtype=np.float32) / 20
    (ours,) = session.run(None, {"frames": frames})
    with torch.no_grad():
        theirs = model(torch.from_numpy(frames)).numpy()
    assert ours.shape == (3, 3, 33, 50)
    assert np.abs(ours - theirs).max() <= PARITY_TOLERANCE

    assert check_models(models) == []
    manifest = json.loads((models / "manifest.json").read_text())
    assert [m["file"] for m in manifest["models"]] == ["tiny.onnx"]
    data = bytearray((models / "tiny.onnx").read_bytes())
    data[-10] ^= 0xFF
    (models / "tiny.onnx").write_bytes(bytes(data))
    assert any("sha256" in p for p in check_models(models))


def test_fp16_copy_keeps_float32_io_and_stated_parity(tmp_path):
    from nightowl.training.release.export import FP16_TOLERANCE, export_fp16

    _, models, entry = export_tiny(tmp_path, "sim")
    half = export_fp16(models, entry)
    update_manifest(models, half)
    assert half["file"] == "tiny.fp16.onnx" and half["precision"] == "fp16"
    assert half["bytes"] < entry["bytes"]
    assert max(half["parity"]["max_abs_diff"]["real"],
               half["parity"]["max_abs_diff"]["random_dark"]) <= FP16_TOLERANCE
    session = ort.InferenceSession(str(models / "tiny.fp16.onnx"),
                                   providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(float)"
    assert session.get_outputs()[0].type == "tensor(float)"
    assert check_models(models) == []
