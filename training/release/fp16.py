"""fp16 copies of the shipped fp32 enhancers, for GPU engines: half-precision weights and
arithmetic, float32 inputs and outputs, parity checked against torch fp32.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from nightowl.service.modelrepo.entries import abs_diff_parity, copy_entry, input_channels
from nightowl.training.nets.enhancers import EnhancerConfig
from nightowl.training.release.export import REFERENCE_SIZE, enhancer_inputs, parity

# max |fp16 file - fp32 torch| on outputs in [0, 1], on the inputs a model sees in use (dark
# frames, real generator frames): half an 8-bit level. Uniform [0, 1] inputs, which the models'
# input gain drives far past the range they were trained on, get a looser bound.
FP16_TOLERANCE = 2e-3
FP16_TOLERANCE_SATURATED = 1e-2


def fp16_name(file: str) -> str:
    """'mim_l1_cr.onnx' -> 'mim_l1_cr.fp16.onnx'."""
    return file.removesuffix(".onnx") + ".fp16.onnx"


def export_fp16(models: Path, entry: dict) -> dict:
    """An fp16 copy of a shipped fp32 enhancer, for GPU engines; returns its manifest entry.

    Weights and arithmetic in half precision; inputs and outputs stay float32, so a caller
    swaps files without changing its buffers. Parity is measured against torch (fp32) rebuilt
    from the fp32 file, on the same inputs as the fp32 export; refused above FP16_TOLERANCE.
    """
    import onnx
    from onnxconverter_common import float16

    from nightowl.training.nets.onnx_weights import enhancer_from_onnx

    if entry["task"] != "enhancer":
        raise ValueError(f"{entry['file']}: fp16 copies are made for enhancers only")
    source = models / entry["file"]
    network = enhancer_from_onnx(source, EnhancerConfig(**entry["model_config"])).eval()
    path = models / fp16_name(entry["file"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tiny constants rounded to fp16's range: expected
        half = float16.convert_float_to_float16(onnx.load(str(source)), keep_io_types=True)
    onnx.save(half, str(path))
    onnx.checker.check_model(str(path), full_check=True)
    channels = input_channels(entry)
    random_input = np.random.default_rng(0).random((2, channels, *REFERENCE_SIZE),
                                                   dtype=np.float32)
    checks = {"random": parity(network, path, random_input),
              "random_dark": parity(network, path, random_input / 20),
              "real": parity(network, path, enhancer_inputs(entry, 900_001))}
    worst = max(checks["random_dark"], checks["real"])
    if worst > FP16_TOLERANCE or checks["random"] > FP16_TOLERANCE_SATURATED:
        raise RuntimeError(f"{path}: fp16 differs from torch fp32 by more than "
                           f"{FP16_TOLERANCE:.0e} (in use) or {FP16_TOLERANCE_SATURATED:.0e} "
                           f"(uniform inputs): {checks}")
    return copy_entry(
        entry, path, precision="fp16",
        what=f"fp16 copy of {entry['file']} for GPU engines (float32 inputs/outputs)",
        parity=abs_diff_parity(checks, FP16_TOLERANCE,
                               uniform_inputs_tolerance=FP16_TOLERANCE_SATURATED))
