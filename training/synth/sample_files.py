"""Samples on disk: one folder per sequence, written atomically, readable back exactly.

Layout of ``DIR/000042/`` for a sequence of T frames (t = 0 oldest .. T-1 newest):
- ``clean_t.png``: the clean frame (8-bit RGB);
- ``low_t.png``: the dark, noisy input frame (8-bit RGB);
- ``mask_t.png``: the moving-object mask (0 or 255);
- ``flows.npz``: ``flows``, float32 (T, H, W, 2), backward flow of each frame onto frame T in
  pixels (dx, dy); compressed, as it is zero off the vehicles (about 6x smaller than raw);
- ``background.png``: the static scene without vehicles;
- ``meta.json``: seed, index, S and noise parameters, plates with character boxes and labels.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np

from nightowl.training.synth.degrade import NoiseParams
from nightowl.training.synth.samples import Sample
from nightowl.training.synth.scenes import CharLabel, PlateLabel, Sequence, VehicleLabel

FORMAT = "nightowl-sequence/1"
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 3]


def sample_dir(root: Path, index: int) -> Path:
    return Path(root) / f"{index:06d}"


def write_sample(root: Path, sample: Sample) -> Path:
    """Write ``sample`` under ``root``; the folder appears complete or not at all."""
    final = sample_dir(root, sample.index)
    staging = final.with_name(f".{final.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        _write_files(staging, sample)
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def read_sample(folder: Path) -> Sample:
    """Read a folder written by :func:`write_sample`."""
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{folder}: not a {FORMAT} sample (format={meta.get('format')!r})")
    frames = range(meta["frames"])
    sequence = Sequence(
        clean=np.stack([_read_png(folder / f"clean_{t}.png") for t in frames]),
        masks=np.stack([_read_png(folder / f"mask_{t}.png", gray=True) > 127 for t in frames]),
        flows=_read_flows(folder / "flows.npz"),
        background=_read_png(folder / "background.png"),
        plates=[_plate_from_json(p) for p in meta["plates"]],
        vehicles=[VehicleLabel(**v) for v in meta["vehicles"]],
    )
    noise = meta["noise"]
    noise["channel_gain"] = tuple(noise["channel_gain"])
    return Sample(sequence=sequence, low=np.stack([_read_png(folder / f"low_{t}.png")
                                                   for t in frames]),
                  noise=NoiseParams(**noise), seed=meta["seed"], index=meta["index"])


def sample_meta(sample: Sample) -> dict:
    """The JSON description of a sample (boxes are x0, y0, x1, y1 in frame-T pixels)."""
    seq = sample.sequence
    frames, height, width = seq.clean.shape[:3]
    return {
        "format": FORMAT,
        "seed": sample.seed,
        "index": sample.index,
        "frames": frames,
        "width": width,
        "height": height,
        "S": sample.noise.s,
        "noise": sample.noise.to_dict(),
        "flow": "backward: frame_t(x + flow_t(x)) ~ frame_T(x), pixels, (dx, dy)",
        "plates": [_plate_to_json(p) for p in seq.plates],
        "vehicles": [vars(v) for v in seq.vehicles],
    }


def _write_files(folder: Path, sample: Sample) -> None:
    seq = sample.sequence
    for t in range(seq.clean.shape[0]):
        _write_png(folder / f"clean_{t}.png", seq.clean[t])
        _write_png(folder / f"low_{t}.png", sample.low[t])
        _write_png(folder / f"mask_{t}.png", seq.masks[t].astype(np.uint8) * 255)
    np.savez_compressed(folder / "flows.npz", flows=seq.flows)
    _write_png(folder / "background.png", seq.background)
    (folder / "meta.json").write_text(json.dumps(sample_meta(sample), indent=1))


def _plate_to_json(plate: PlateLabel) -> dict:
    return {
        "text": plate.text, "labels": plate.labels, "readable": plate.readable,
        "vehicle": plate.vehicle, "font": plate.font, "style": plate.style,
        "chars": [{"label": c.label, "box": [round(v, 2) for v in c.box], "visible": c.visible}
                  for c in plate.chars],
    }


def _plate_from_json(data: dict) -> PlateLabel:
    chars = tuple(CharLabel(label=c["label"], box=tuple(c["box"]), visible=c["visible"])
                  for c in data["chars"])
    return PlateLabel(text=data["text"], labels=data["labels"], vehicle=data["vehicle"],
                      font=data["font"], style=data["style"], chars=chars)


def _read_flows(path: Path) -> np.ndarray:
    with np.load(path) as archive:
        return archive["flows"]


def _write_png(path: Path, image: np.ndarray) -> None:
    data = image[..., ::-1] if image.ndim == 3 else image  # OpenCV writes BGR
    if not cv2.imwrite(str(path), np.ascontiguousarray(data), _PNG):
        raise OSError(f"could not write {path}")


def _read_png(path: Path, gray: bool = False) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"missing or unreadable image {path}")
    return image if gray else image[..., ::-1].copy()
