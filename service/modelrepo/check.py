"""``nightowl export --check``: every listed file matches its sha256 and reproduces its stored
reference output (torch's, or for an int8 copy the fp32 file's, within the entry's bound).

Needs only numpy and ONNX Runtime, so a fresh clone is checked without torch.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nightowl.service.frames.quality import psnr_each
from nightowl.service.modelrepo.entries import input_name, parity_tolerance, psnr_bound, sha256
from nightowl.service.modelrepo.manifest import read_manifest


def check_models(models: Path) -> list[str]:
    """Problems with the shipped models: hashes, and parity with torch's stored reference."""
    import onnxruntime as ort

    problems = []
    for entry in read_manifest(models)["models"]:
        path = models / entry["file"]
        if not path.exists():
            problems.append(f"{entry['file']}: missing")
            continue
        if sha256(path) != entry["sha256"]:
            problems.append(f"{entry['file']}: sha256 differs from the manifest")
            continue
        with np.load(models / entry["reference"]) as reference:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            (ours,) = session.run(None, {input_name(entry): reference["inputs"]})
            expected = reference["outputs"]
        bound = psnr_bound(entry)
        if bound is not None:  # an int8 copy: against the fp32 file's output
            psnr = float(psnr_each(ours, expected).min())
            if psnr < bound:
                problems.append(f"{entry['file']}: {psnr:.1f} dB from the fp32 file's reference "
                                f"output (< {bound} dB)")
            continue
        diff = float(np.abs(ours - expected).max())
        if diff > parity_tolerance(entry):
            problems.append(f"{entry['file']}: differs from torch's reference by {diff:.2e}")
    return problems
