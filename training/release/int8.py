"""int8 copies of the shipped fp32 enhancers, for the CPU engine: calibrated and checked on the
inputs each enhancer sees in use, refused below the PSNR bounds against the fp32 file. How the
file is quantised is ``quantize.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nightowl.service.modelrepo.entries import copy_entry, psnr_parity
from nightowl.training.release.export import enhancer_inputs
from nightowl.training.release.quantize import Int8Options

# int8 copies for the CPU: PSNR (dB) of the int8 file's output against the fp32 file's on
# held-out in-use inputs. The networks themselves are ~27-28 dB from the truth (MSE ~1.7e-3);
# an independent int8 error adds its MSE to that. Mean >= 42 dB (MSE <= 6.3e-5) then costs at
# most ~0.17 dB of PSNR against the truth on average, and worst crop >= 33 dB (RMS 2.2% of full
# scale, ~5.7 8-bit levels) at most ~1.2 dB on any one crop. Measured on the shipped files:
# bench/README.md, 'int8 on the CPU'.
INT8_MIN_PSNR_DB = 33.0
INT8_MEAN_PSNR_DB = 42.0
INT8_CALIBRATION = 16  # calibration crops: samples 0-15 of the model's validation seed
INT8_HELD_OUT = 16  # held-out crops for the bound: samples 16-31
INT8_OPTIONS = Int8Options()  # QDQ, Percentile 99.99: chosen by bench/check_int8.py


def int8_name(file: str) -> str:
    """'mim_l1_cr.onnx' -> 'mim_l1_cr.int8.onnx'."""
    return file.removesuffix(".onnx") + ".int8.onnx"


def validation_seed(entry: dict) -> int:
    """The validation seed of the config that trained manifest ``entry``
    (training/configs/<config>.toml), or the data config's default when this checkout does not
    have that config."""
    from nightowl.training.fit.config import DataConfig, load_config

    path = Path(__file__).resolve().parents[1] / "configs" / f"{entry['training']['config']}.toml"
    return load_config(path).data.val_seed if path.is_file() else DataConfig().val_seed


def in_use_inputs(entry: dict, count: int, first: int = 0) -> np.ndarray:
    """(count, C, 128, 128) crops of samples ``first``.. of the enhancer's own validation seed,
    as the enhancer of manifest ``entry`` sees them in use (aligned dark frames, scaled as its
    model_config says)."""
    return enhancer_inputs(entry, validation_seed(entry), count, first)


def export_int8(models: Path, entry: dict, options: Int8Options = INT8_OPTIONS) -> dict:
    """A static int8 copy of a shipped fp32 enhancer, for the CPU engine; returns its manifest
    entry.

    Calibrated on INT8_CALIBRATION in-use crops; refused when its output on INT8_HELD_OUT
    other in-use crops is below INT8_MEAN_PSNR_DB (mean) or INT8_MIN_PSNR_DB (worst crop)
    against the fp32 file's (an fp32 ONNX Runtime session, itself checked against torch). One
    held-out crop and the fp32 output on it are stored as its reference, which
    ``nightowl export --check`` re-measures (worst-crop bound)."""
    import onnxruntime

    from nightowl.service.frames.quality import psnr_each
    from nightowl.training.release.quantize import quantize_int8, run_cpu

    if entry["task"] != "enhancer":
        raise ValueError(f"{entry['file']}: int8 copies are made for enhancers only")
    source = models / entry["file"]
    path = models / int8_name(entry["file"])
    staging = path.with_name(path.name + ".partial")  # replaces path only once it passed
    quantize_int8(source, staging, in_use_inputs(entry, INT8_CALIBRATION), options)
    held_out = in_use_inputs(entry, INT8_HELD_OUT, first=INT8_CALIBRATION)
    expected = run_cpu(source, held_out)
    ours = run_cpu(staging, held_out)
    psnr = psnr_each(ours, expected)
    if psnr.min() < INT8_MIN_PSNR_DB or psnr.mean() < INT8_MEAN_PSNR_DB:
        staging.unlink()
        raise RuntimeError(f"{path}: int8 output is {psnr.mean():.1f} dB (mean) and "
                           f"{psnr.min():.1f} dB (worst crop) from the fp32 file's on held-out "
                           f"in-use inputs; bounds {INT8_MEAN_PSNR_DB} and {INT8_MIN_PSNR_DB} dB:"
                           f" {np.round(psnr, 1).tolist()}")
    staging.replace(path)
    reference = models / "reference" / f"{path.stem}.npz"
    reference.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(reference, inputs=held_out[:1], outputs=expected[:1])
    first, last = INT8_CALIBRATION, INT8_CALIBRATION + INT8_HELD_OUT - 1
    seed = validation_seed(entry)
    return copy_entry(
        entry, path, precision="int8",
        what=f"int8 copy of {entry['file']} for the CPU engine (float32 inputs/outputs)",
        reference=reference,
        quantisation={**options.record(), "onnxruntime": onnxruntime.__version__,
                      "calibration_inputs": f"seed {seed} samples 0-{INT8_CALIBRATION - 1}, "
                                            f"128 px crops"},
        parity=psnr_parity(float(psnr.min()), float(psnr.mean()),
                           held_out=f"seed {seed} samples {first}-{last}, 128 px crops",
                           max_abs_diff=float(np.abs(ours - expected).max()),
                           min_psnr_db=INT8_MIN_PSNR_DB, mean_psnr_db=INT8_MEAN_PSNR_DB))
