"""The model repository's manifest: hashes, entries, and the check of a clone's files.

Needs only numpy and ONNX Runtime, so ``nightowl export --check`` runs without torch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from nightowl.service.frames.quality import psnr_each

# the one hash the server checks models with, so export and serving cannot disagree
from nightowl.service.modelrepo.files import sha256

__all__ = ["check_models", "sha256", "update_manifest"]




def update_manifest(models: Path, entry: dict) -> None:
    path = models / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {"models": []}
    manifest["models"] = [m for m in manifest["models"] if m["file"] != entry["file"]]
    manifest["models"].append(entry)
    manifest["models"].sort(key=lambda m: m["file"])
    staging = path.with_suffix(".partial")
    staging.write_text(json.dumps(manifest, indent=1) + "\n")
    staging.replace(path)


def check_models(models: Path) -> list[str]:
    """Problems with the shipped models: hashes, and parity with torch's stored reference."""
    import onnxruntime as ort

    manifest = json.loads((models / "manifest.json").read_text())
    problems = []
    for entry in manifest["models"]:
        path = models / entry["file"]
        if not path.exists():
            problems.append(f"{entry['file']}: missing")
            continue
        if sha256(path) != entry["sha256"]:
            problems.append(f"{entry['file']}: sha256 differs from the manifest")
            continue
        with np.load(models / entry["reference"]) as reference:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            (ours,) = session.run(None, {entry["inputs"][0]["name"]: reference["inputs"]})
            expected = reference["outputs"]
        if "min_psnr_db" in entry["parity"]:  # an int8 copy: against the fp32 file's output
            psnr = float(psnr_each(ours, expected).min())
            if psnr < entry["parity"]["min_psnr_db"]:
                problems.append(f"{entry['file']}: {psnr:.1f} dB from the fp32 file's reference "
                                f"output (< {entry['parity']['min_psnr_db']} dB)")
            continue
        diff = float(np.abs(ours - expected).max())
        if diff > entry["parity"]["tolerance"]:
            problems.append(f"{entry['file']}: differs from torch's reference by {diff:.2e}")
    return problems
