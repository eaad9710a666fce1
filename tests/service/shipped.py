"""The shipped model repository as the service tests see it, and a way to break a copy of it."""

from __future__ import annotations

import json
from pathlib import Path

import onnxruntime as ort

from nightowl.service.engines.profiles import gpu_name
from nightowl.service.modelrepo.entries import sha256

MODELS = Path(__file__).resolve().parents[2] / "models"
MANIFEST = json.loads((MODELS / "manifest.json").read_text())["models"]
ENHANCERS = [m["file"] for m in MANIFEST if m["task"] == "enhancer" and "tolerance" in m["parity"]]
INT8 = {m["fp32"]: m for m in MANIFEST if m.get("precision") == "int8"}
NO_GPU = gpu_name() is None and "CUDAExecutionProvider" not in ort.get_available_providers()


def rewrite_manifest_sha(folder: Path, name: str) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["models"]:
        if entry["file"] == name:
            entry["sha256"] = sha256(folder / name)
    (folder / "manifest.json").write_text(json.dumps(manifest))
