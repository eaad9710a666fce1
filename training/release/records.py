"""How a released file was trained, for its manifest entry: the run's config, steps, wall
time, hardware and validation figures, and the record of the released file it continued from.
"""

from __future__ import annotations

from pathlib import Path

import torch

from nightowl.service.modelrepo import entries
from nightowl.service.modelrepo.manifest import MANIFEST, find_entry, read_manifest


def training_record(final: Path, checkpoint: dict) -> dict:
    """How the file was trained: config, steps, batch, crop, wall time, hardware, figures."""
    config = checkpoint["config"]
    run = checkpoint.get("run", {})
    wall = run.get("wall_seconds")
    if wall is None:  # runs from before wall time was recorded: the log has it
        log = final.parent / "log.csv"
        if log.exists():
            import csv

            with log.open(newline="") as handle:
                rows = list(csv.DictReader(handle))
            wall = float(rows[-1]["seconds"]) if rows else None
    return entries.training_record(
        config=config["name"], steps=checkpoint["steps"], batch_size=config.get("batch_size"),
        crop=config.get("data", {}).get("crop", {}).get("size"),
        validation=checkpoint["validation"], wall_seconds=wall,
        hardware=run["hardware"] if "hardware" in run else _export_hardware(config),
        lr=config.get("lr"), lr_schedule=config.get("lr_schedule"),
        continued_from=released_record(config.get("init_from", "")))


def _export_hardware(config: dict) -> str:
    """This machine, for runs from before the hardware was recorded."""
    from nightowl.training.fit.train import hardware

    threads = config.get("threads") or torch.get_num_threads()
    return (hardware(torch.device("cpu")).replace(
        f"{torch.get_num_threads()} torch threads", f"{threads} torch threads") +
        " (recorded at export)")


def released_record(init_from: str) -> dict | None:
    """The training record of the released file a run started from, read from the manifest
    beside it before the new export replaces the entry: a file's history stays whole."""
    if not init_from.endswith(".onnx"):
        return None
    source = Path(init_from)
    if not (source.parent / MANIFEST).exists():
        return None
    entry = find_entry(read_manifest(source.parent), source.name)
    return None if entry is None else entry["training"]
