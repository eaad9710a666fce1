"""Export trained networks to ONNX, check them against torch, and keep the manifest.

Every exported file gets, in ``models/manifest.json``: its sha256 and size, what it is, its
input/output names, shapes and dtypes, how it was trained, and the parity measured against
torch. A small reference input/output pair computed by torch is stored next to it
(``models/reference/<name>.npz``) so that ``nightowl export --check`` can re-verify a fresh
clone with ONNX Runtime alone.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nightowl.service.modelrepo.manifest import sha256
from nightowl.training.fit.tasks import load_recogniser
from nightowl.training.nets.enhancers import EnhancerConfig, build_enhancer, input_channels
from nightowl.training.nets.recogniser import CharRecogniser, RecogniserConfig
from nightowl.training.release.int8 import Int8Options

OPSET = 18
PARITY_TOLERANCE = 1e-4  # max |onnxruntime - torch| on fp32 outputs in [0, 1]
REFERENCE_SIZE = (61, 97)  # H, W of the stored reference input: odd on purpose


class _Probabilities(nn.Module):
    """The recogniser with its softmax, as L_CR and evaluation consume it."""

    def __init__(self, recogniser: CharRecogniser) -> None:
        super().__init__()
        self.recogniser = recogniser

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.recogniser(image), dim=1)


def load_network(final: Path) -> tuple[nn.Module, dict]:
    """The network of a run's ``final.pt`` in eval mode, ready to export, and its checkpoint."""
    checkpoint = torch.load(final, map_location="cpu", weights_only=False)
    if checkpoint["task"] == "recogniser":
        network: nn.Module = _Probabilities(load_recogniser(final, torch.device("cpu")))
    else:
        network = build_enhancer(EnhancerConfig(**checkpoint["model_config"]))
        network.load_state_dict(checkpoint["model"])
    return network.eval(), checkpoint


def io_spec(checkpoint: dict) -> tuple[str, int, str, int]:
    """(input name, input channels, output name, output channels) of a checkpoint's network."""
    if checkpoint["task"] == "recogniser":
        classes = RecogniserConfig(**checkpoint["model_config"]).classes
        return "image", 3, "probabilities", classes
    config = EnhancerConfig(**checkpoint["model_config"])
    return ("frame" if config.kind == "sim" else "frames"), input_channels(config), \
        "enhanced", 3


def export_onnx(network: nn.Module, path: Path, input_name: str, channels: int,
                output_name: str) -> None:
    """Write ``network`` as ONNX with dynamic batch, height and width."""
    example = torch.rand(1, channels, 64, 96)
    batch, height, width = (torch.export.Dim(n, min=1, max=8192)
                            for n in ("batch", "height", "width"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's own progress chatter
        program = torch.onnx.export(
            network, (example,), dynamo=True, opset_version=OPSET, input_names=[input_name],
            output_names=[output_name], external_data=False,
            dynamic_shapes={_forward_arg(network): {0: batch, 2: height, 3: width}})
    program.save(str(path), external_data=False)
    import onnx

    onnx.checker.check_model(str(path), full_check=True)


def _forward_arg(network: nn.Module) -> str:
    import inspect

    return next(iter(inspect.signature(network.forward).parameters))


def parity(network: nn.Module, path: Path, inputs: np.ndarray) -> float:
    """max |onnxruntime - torch| on ``inputs``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (ours,) = session.run(None, {session.get_inputs()[0].name: inputs})
    with torch.no_grad():
        reference = network(torch.from_numpy(inputs)).numpy()
    return float(np.abs(ours - reference).max())


def real_inputs(checkpoint: dict, count: int = 2, first: int = 0) -> np.ndarray:
    """Generator frames as the network sees them in use (dark aligned frames, or a clean frame
    for the recogniser), from the validation seed of the network's own config: samples
    ``first`` .. ``first + count - 1``."""
    from nightowl.training.fit.examples import EnhancerExamples, RecogniserExamples
    from nightowl.training.synth.samples import SampleConfig, make_sample

    if checkpoint["task"] == "recogniser":
        make, key = RecogniserExamples(augment_probability=0.0), "image"
    else:
        model_config = checkpoint["model_config"]
        make = EnhancerExamples(kind=model_config["kind"],
                                reference_gain=model_config.get("reference_gain"))
        key = "inputs"
    seed = checkpoint["config"].get("data", {}).get("val_seed", 900_001)
    return np.stack([make(make_sample(SampleConfig(), seed, i))[key]
                     for i in range(first, first + count)])


def revalidate(final: Path, recogniser: Path) -> dict[str, float]:
    """An enhancer's validation figures recomputed with the shipped recogniser, so that every
    variant's character accuracy is read by the same recogniser on the same crops."""
    from dataclasses import replace

    from nightowl.training.fit.config import TrainConfig, from_dict
    from nightowl.training.fit.tasks import EnhancerTask
    from nightowl.training.fit.train import validation_batches

    checkpoint = torch.load(final, map_location="cpu", weights_only=False)
    config = from_dict(TrainConfig, checkpoint["config"], str(final))
    config = replace(config, recogniser=str(recogniser))
    device = torch.device("cpu")
    task = EnhancerTask(config, device)
    task.model.load_state_dict(checkpoint["model"])
    task.model.eval()
    return task.validate(task.model, validation_batches(config, task, device))


def export_run(final: Path, name: str, models: Path, real: np.ndarray | None = None,
               description: str = "", recogniser: Path | None = None) -> dict:
    """Export one run's network as ``models/<name>.onnx``; returns its manifest entry.

    With ``recogniser``, an enhancer's validation figures are recomputed with it first.
    """
    network, checkpoint = load_network(final)
    if recogniser is not None and checkpoint["task"] == "enhancer":
        checkpoint["validation"] = revalidate(final, recogniser)
    if real is None:
        real = real_inputs(checkpoint)
    input_name, channels, output_name, out_channels = io_spec(checkpoint)
    path = models / f"{name}.onnx"
    export_onnx(network, path, input_name, channels, output_name)
    rng = np.random.default_rng(0)
    random_input = rng.random((2, channels, *REFERENCE_SIZE), dtype=np.float32)
    # dark frames live near 0: test the range the model really sees as well as [0, 1]
    checks = {"random": parity(network, path, random_input),
              "random_dark": parity(network, path, random_input / 20)}
    checks["real"] = parity(network, path, real)
    worst = max(checks.values())
    if worst > PARITY_TOLERANCE:
        raise RuntimeError(f"{path}: onnxruntime differs from torch by {worst:.2e} "
                           f"(> {PARITY_TOLERANCE:.0e}): {checks}")
    reference = models / "reference" / f"{name}.npz"
    reference.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        expected = network(torch.from_numpy(random_input[:1] / 20)).numpy()
    np.savez_compressed(reference, inputs=random_input[:1] / 20, outputs=expected)
    dims = ["batch", channels, "height", "width"]
    out_dims = ["batch", out_channels, "ceil(height/4)", "ceil(width/4)"] \
        if checkpoint["task"] == "recogniser" else ["batch", 3, "height", "width"]
    return {
        "file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size,
        "what": description, "task": checkpoint["task"],
        "inputs": [{"name": input_name, "shape": dims, "dtype": "float32",
                    "range": "[0, 1], RGB, frames oldest first"}],
        "outputs": [{"name": output_name, "shape": out_dims, "dtype": "float32"}],
        "reference": str(reference.relative_to(models)),
        "parity": {"max_abs_diff": checks, "tolerance": PARITY_TOLERANCE},
        "training": _training_record(final, checkpoint),
        "model_config": checkpoint["model_config"],
    }


def _training_record(final: Path, checkpoint: dict) -> dict:
    """How the file was trained: config, steps, batch, crop, wall time, hardware, figures."""
    config = checkpoint["config"]
    run = checkpoint.get("run", {})
    record = {"config": config["name"], "steps": checkpoint["steps"],
              "batch_size": config.get("batch_size"),
              "crop": config.get("data", {}).get("crop", {}).get("size"),
              "validation": checkpoint["validation"]}
    wall = run.get("wall_seconds")
    if wall is None:  # runs from before wall time was recorded: the log has it
        log = final.parent / "log.csv"
        if log.exists():
            import csv

            with log.open(newline="") as handle:
                rows = list(csv.DictReader(handle))
            wall = float(rows[-1]["seconds"]) if rows else None
    record["wall_seconds"] = wall
    if "hardware" in run:
        record["hardware"] = run["hardware"]
    else:
        from nightowl.training.fit.train import hardware

        threads = config.get("threads") or torch.get_num_threads()
        record["hardware"] = (hardware(torch.device("cpu")).replace(
            f"{torch.get_num_threads()} torch threads", f"{threads} torch threads") +
            " (recorded at export)")
    record["lr"], record["lr_schedule"] = config.get("lr"), config.get("lr_schedule")
    before = _released_record(config.get("init_from", ""))
    if before is not None:
        record["continued_from"] = before
    return record


def _released_record(init_from: str) -> dict | None:
    """The training record of the released file a run started from, read from the manifest
    beside it before the new export replaces the entry: a file's history stays whole."""
    if not init_from.endswith(".onnx"):
        return None
    source = Path(init_from)
    manifest = source.parent / "manifest.json"
    if not manifest.exists():
        return None
    import json

    for entry in json.loads(manifest.read_text())["models"]:
        if entry["file"] == source.name:
            return entry["training"]
    return None


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
    channels = entry["inputs"][0]["shape"][1]
    random_input = np.random.default_rng(0).random((2, channels, *REFERENCE_SIZE),
                                                   dtype=np.float32)
    checkpoint = {"task": "enhancer", "model_config": entry["model_config"],
                  "config": {"data": {"val_seed": 900_001}}}
    checks = {"random": parity(network, path, random_input),
              "random_dark": parity(network, path, random_input / 20),
              "real": parity(network, path, real_inputs(checkpoint))}
    worst = max(checks["random_dark"], checks["real"])
    if worst > FP16_TOLERANCE or checks["random"] > FP16_TOLERANCE_SATURATED:
        raise RuntimeError(f"{path}: fp16 differs from torch fp32 by more than "
                           f"{FP16_TOLERANCE:.0e} (in use) or {FP16_TOLERANCE_SATURATED:.0e} "
                           f"(uniform inputs): {checks}")
    return {**entry, "file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size,
            "what": f"fp16 copy of {entry['file']} for GPU engines (float32 inputs/outputs)",
            "precision": "fp16", "fp32": entry["file"],
            "parity": {"max_abs_diff": checks, "tolerance": FP16_TOLERANCE,
                       "tolerance_uniform_inputs": FP16_TOLERANCE_SATURATED}}


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
    checkpoint = {"task": "enhancer", "model_config": entry["model_config"],
                  "config": {"data": {"val_seed": validation_seed(entry)}}}
    return real_inputs(checkpoint, count, first)


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
    from nightowl.training.release.int8 import quantize_int8, run_cpu

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
    return {**entry, "file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size,
            "what": f"int8 copy of {entry['file']} for the CPU engine (float32 inputs/outputs)",
            "precision": "int8", "fp32": entry["file"],
            "reference": str(reference.relative_to(models)),
            "quantisation": {**options.record(), "onnxruntime": onnxruntime.__version__,
                             "calibration_inputs": f"seed {seed} samples 0-"
                                                   f"{INT8_CALIBRATION - 1}, 128 px crops"},
            "parity": {"psnr_db_vs_fp32": {"held_out_min": float(psnr.min()),
                                           "held_out_mean": float(psnr.mean())},
                       "held_out": f"seed {seed} samples {first}-{last}, 128 px crops",
                       "max_abs_diff": {"held_out": float(np.abs(ours - expected).max())},
                       "min_psnr_db": INT8_MIN_PSNR_DB, "mean_psnr_db": INT8_MEAN_PSNR_DB}}
