"""How a released file was trained, for its manifest entry: the run's config, steps, wall
time, hardware and validation figures, and the record of the released file it continued from.
"""

from __future__ import annotations

from pathlib import Path

import torch


def training_record(final: Path, checkpoint: dict) -> dict:
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
    before = released_record(config.get("init_from", ""))
    if before is not None:
        record["continued_from"] = before
    return record


def released_record(init_from: str) -> dict | None:
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
