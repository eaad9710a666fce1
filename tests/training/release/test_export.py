"""Export: ONNX matches torch on odd sizes, the manifest records it, --check catches damage."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import torch

from nightowl.service.modelrepo.check import check_models
from nightowl.training.release.export import PARITY_TOLERANCE
from tests.training.release.tiny_export import export_tiny


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
