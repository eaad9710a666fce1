"""One manifest entry: built here by the export, read here by the server, the check and the
model card, so that the keys are written down once.

An exported (fp32) file's entry: file, sha256, bytes, what, task, inputs and outputs (tensor
specs), reference (a stored input/output pair, relative to the manifest's folder), parity,
training (the training record) and model_config (the network's config). A copy (fp16, int8)
repeats its fp32 file's entry with its own file, sha256, bytes, what and parity, and adds
precision and fp32 (the file it copies); an int8 copy also its own reference and
quantisation. Parity is either max |file - torch| with a tolerance, or, for an int8 copy, the
PSNR of its output against the fp32 file's with bounds.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from nightowl.service.frames.layout import MEMORY_CHANNELS

Shape = list[int | str]  # symbolic dimensions by name: ["batch", 12, "height", "width"]


def sha256(path: Path) -> str:
    """The hash that an entry records and that the server checks a file against."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tensor_spec(name: str, shape: Shape, dtype: str = "float32",
                value_range: str | None = None) -> dict:
    """An input or output of a model file."""
    spec: dict = {"name": name, "shape": shape, "dtype": dtype}
    if value_range is not None:
        spec["range"] = value_range
    return spec


def fp32_entry(path: Path, *, what: str, task: str, inputs: list[dict], outputs: list[dict],
               reference: Path, parity: dict, training: dict, model_config: dict) -> dict:
    """The entry of exported file ``path``; ``reference`` lies under the file's folder."""
    return {"file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size,
            "what": what, "task": task, "inputs": inputs, "outputs": outputs,
            "reference": str(reference.relative_to(path.parent)), "parity": parity,
            "training": training, "model_config": model_config}


def copy_entry(fp32: dict, path: Path, *, precision: str, what: str, parity: dict,
               reference: Path | None = None, quantisation: dict | None = None) -> dict:
    """The entry of ``path``, a ``precision`` copy of the file of entry ``fp32``, with the same
    inputs, outputs, training and model_config (and reference, unless it has its own)."""
    entry = {**fp32, "file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size,
             "what": what, "precision": precision, "fp32": fp32["file"], "parity": parity}
    if reference is not None:
        entry["reference"] = str(reference.relative_to(path.parent))
    if quantisation is not None:
        entry["quantisation"] = quantisation
    return entry


def abs_diff_parity(max_abs_diff: dict[str, float], tolerance: float,
                    uniform_inputs_tolerance: float | None = None) -> dict:
    """max |file - torch| per input set, bounded by ``tolerance`` (or, for uniform [0, 1]
    inputs, by a looser ``uniform_inputs_tolerance``)."""
    parity: dict = {"max_abs_diff": max_abs_diff, "tolerance": tolerance}
    if uniform_inputs_tolerance is not None:
        parity["tolerance_uniform_inputs"] = uniform_inputs_tolerance
    return parity


def psnr_parity(held_out_min: float, held_out_mean: float, held_out: str, max_abs_diff: float,
                min_psnr_db: float, mean_psnr_db: float) -> dict:
    """PSNR (dB) of a copy's output against the fp32 file's on ``held_out`` inputs (worst and
    mean), with the bounds it was refused below."""
    return {"psnr_db_vs_fp32": {"held_out_min": held_out_min, "held_out_mean": held_out_mean},
            "held_out": held_out, "max_abs_diff": {"held_out": max_abs_diff},
            "min_psnr_db": min_psnr_db, "mean_psnr_db": mean_psnr_db}


def training_record(*, config: str, steps: int, batch_size: int | None, crop: int | None,
                    validation: dict[str, float], wall_seconds: float | None, hardware: str,
                    lr: float | None, lr_schedule: str | None,
                    continued_from: dict | None = None) -> dict:
    """How a file was trained; ``continued_from``: the record of the file it was fine-tuned
    from, so that a file's whole history stays in its entry."""
    record = {"config": config, "steps": steps, "batch_size": batch_size, "crop": crop,
              "validation": validation, "wall_seconds": wall_seconds, "hardware": hardware,
              "lr": lr, "lr_schedule": lr_schedule}
    if continued_from is not None:
        record["continued_from"] = continued_from
    return record


def precision(entry: dict) -> str:
    """"fp32", or the precision of a copy ("fp16", "int8")."""
    return entry.get("precision", "fp32")


def input_name(entry: dict) -> str:
    return entry["inputs"][0]["name"]


def input_channels(entry: dict) -> int:
    return int(entry["inputs"][0]["shape"][1])


def memory_input(entry: dict) -> bool:
    """Whether the network takes a camera's background memory after its frames
    (``layout.memory_planes``: MEMORY_CHANNELS more input channels)."""
    return bool(entry.get("model_config", {}).get("memory", False))


def frames(entry: dict) -> int:
    """The RGB frames in the network's input: its input channels / 3, less the memory's."""
    return (input_channels(entry) - (MEMORY_CHANNELS if memory_input(entry) else 0)) // 3


def output_name(entry: dict) -> str:
    return entry["outputs"][0]["name"]


def output_channels(entry: dict) -> int:
    return int(entry["outputs"][0]["shape"][1])


def reference_gain(entry: dict) -> float | None:
    """The gain the network's inputs are normalised to (inputs scaled by gain /
    reference_gain, as in training); None: it takes frames as captured."""
    value = entry.get("model_config", {}).get("reference_gain")
    return None if value is None else float(value)


def worst_abs_diff(entry: dict) -> float:
    """The largest max |diff| the entry's parity records."""
    return max(entry["parity"]["max_abs_diff"].values())


def psnr_bound(entry: dict) -> float | None:
    """The worst-crop PSNR (dB) an int8 copy must keep against the fp32 file's output; None
    for an entry whose parity is a tolerance on |diff|."""
    return entry["parity"].get("min_psnr_db")


def parity_tolerance(entry: dict) -> float:
    """The max |diff| against torch that an entry's file must stay within."""
    return entry["parity"]["tolerance"]


def worst_psnr_vs_fp32(entry: dict) -> float | None:
    """An int8 copy's worst held-out PSNR (dB) against the fp32 file; None for other files."""
    against = entry["parity"].get("psnr_db_vs_fp32")
    return None if against is None else against["held_out_min"]


def training_stages(entry: dict) -> list[dict]:
    """The training records of a file, oldest first (a fine-tune continues a released file)."""
    stages = [entry["training"]]
    while "continued_from" in stages[0]:
        stages.insert(0, stages[0]["continued_from"])
    return stages
