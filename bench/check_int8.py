"""Which int8 quantisation for the CPU: QDQ or QOperator, MinMax, Percentile or Entropy
calibration, measured on held-out in-use inputs of a shipped enhancer.

Run: python bench/check_int8.py [--model mim_l1_cr.onnx] [--held-out 16] [--repeat 5]
                                [--formats qdq qoperator] [--percentiles 99.999 99.99 99.9]
Each candidate is calibrated as `nightowl export --int8` does (samples 0-15 of the model's own
validation seed, 128 px crops) into a temporary folder; then, on samples 16.. of that seed
(never calibrated on): PSNR of its output against the fp32 file's (worst and mean crop), mean
PSNR against the clean truth (the fp32 file's alongside), and ms per 256x256 frame on one
onnxruntime thread.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from nightowl.service.frames.quality import psnr_each
from nightowl.service.modelrepo.files import resolve
from nightowl.training.release.int8 import INT8_CALIBRATION, in_use_inputs, validation_seed
from nightowl.training.release.quantize import (
    CALIBRATIONS,
    FORMATS,
    Int8Options,
    ms_per_frame,
    quantize_int8,
    run_cpu,
)


def held_out_pairs(entry: dict, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, clean targets) of validation-seed samples after the calibration ones."""
    from nightowl.training.fit.examples import EnhancerExamples
    from nightowl.training.synth.samples import SampleConfig, make_sample

    config = entry["model_config"]
    make = EnhancerExamples(kind=config["kind"], reference_gain=config.get("reference_gain"))
    items = [make(make_sample(SampleConfig(), validation_seed(entry), i))
             for i in range(INT8_CALIBRATION, INT8_CALIBRATION + count)]
    return np.stack([i["inputs"] for i in items]), np.stack([i["target"] for i in items])


def candidates(format: str, calibrations: list[str], percentiles: list[float]
               ) -> list[Int8Options]:
    return [Int8Options(format, method, percentile)
            for method in calibrations
            for percentile in (percentiles if method == "percentile" else [99.99])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mim_l1_cr.onnx")
    parser.add_argument("--held-out", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument("--calibrations", nargs="+", default=list(CALIBRATIONS),
                        choices=CALIBRATIONS)
    parser.add_argument("--percentiles", nargs="+", type=float, default=[99.999, 99.99, 99.9],
                        help="the percentile calibration's candidates")
    args = parser.parse_args()
    model = resolve(args.model)
    calibration = in_use_inputs(model.entry, INT8_CALIBRATION)
    inputs, truth = held_out_pairs(model.entry, args.held_out)
    fp32 = run_cpu(model.path, inputs)
    print(f"{model.path.name}: {args.held_out} held-out crops; fp32 PSNR vs truth "
          f"{psnr_each(fp32, truth).mean():.2f} dB, "
          f"{ms_per_frame(model.path, model.input_channels, args.repeat):.1f} ms per 256x256")
    print("| format | calibration | PSNR vs fp32 worst / mean (dB) | PSNR vs truth (dB) | "
          "ms per 256x256 frame, 1 thread |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory(prefix="nightowl-int8-check-") as folder:
        for format in args.formats:
            for options in candidates(format, args.calibrations, args.percentiles):
                path = Path(folder) / "candidate.onnx"
                quantize_int8(model.path, path, calibration, options)
                out = run_cpu(path, inputs)
                against = psnr_each(out, fp32)
                print(f"| {format} | {options.record()['calibration']} | "
                      f"{against.min():.2f} / {against.mean():.2f} | "
                      f"{psnr_each(out, truth).mean():.2f} | "
                      f"{ms_per_frame(path, model.input_channels, args.repeat):.1f} |",
                      flush=True)


if __name__ == "__main__":
    main()
