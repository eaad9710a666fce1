"""fp16 copies: float32 inputs and outputs, the stated parity, and a copy --check accepts."""

from __future__ import annotations

import onnxruntime as ort

from nightowl.service.modelrepo.check import check_models
from nightowl.service.modelrepo.manifest import update_manifest
from nightowl.training.release.fp16 import FP16_TOLERANCE, export_fp16, fp16_name
from tests.training.release.tiny_export import export_tiny


def test_fp16_copy_keeps_float32_io_and_stated_parity(tmp_path):
    _, models, entry = export_tiny(tmp_path, "sim")
    half = export_fp16(models, entry)
    update_manifest(models, half)
    assert half["file"] == fp16_name("tiny.onnx") == "tiny.fp16.onnx"
    assert half["precision"] == "fp16" and half["fp32"] == "tiny.onnx"
    assert half["bytes"] < entry["bytes"]
    assert max(half["parity"]["max_abs_diff"]["real"],
               half["parity"]["max_abs_diff"]["random_dark"]) <= FP16_TOLERANCE
    session = ort.InferenceSession(str(models / "tiny.fp16.onnx"),
                                   providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].type == "tensor(float)"
    assert session.get_outputs()[0].type == "tensor(float)"
    assert check_models(models) == []
