"""Training records: what a run's checkpoint says, in the manifest's key order, and a
fine-tune keeps the history of the released file it started from."""

from __future__ import annotations

import json

from nightowl.training.release.records import released_record, training_record

EARLIER = {"config": "mim_l1", "steps": 3000, "batch_size": 8, "crop": 96,
           "validation": {"val_psnr": 26.5}, "wall_seconds": 3123.2, "hardware": "1 x cpu"}


def checkpoint(**config) -> dict:
    return {"config": {"name": "mim_l1", "batch_size": 16, "data": {"crop": {"size": 96}},
                       "lr": 3e-4, "lr_schedule": "cosine", **config},
            "steps": 10, "validation": {"val_psnr": 27.8},
            "run": {"wall_seconds": 378.5, "hardware": "1 x NVIDIA H200"}}


def test_a_fine_tune_records_its_run_and_continues_the_released_files_history(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "manifest.json").write_text(json.dumps(
        {"models": [{"file": "mim_l1.onnx", "training": EARLIER}]}))
    record = training_record(tmp_path / "final.pt",
                             checkpoint(init_from=str(models / "mim_l1.onnx")))
    assert list(record) == ["config", "steps", "batch_size", "crop", "validation",
                            "wall_seconds", "hardware", "lr", "lr_schedule", "continued_from"]
    assert record == {"config": "mim_l1", "steps": 10, "batch_size": 16, "crop": 96,
                      "validation": {"val_psnr": 27.8}, "wall_seconds": 378.5,
                      "hardware": "1 x NVIDIA H200", "lr": 3e-4, "lr_schedule": "cosine",
                      "continued_from": EARLIER}


def test_old_runs_take_their_wall_time_from_the_log(tmp_path):
    (tmp_path / "log.csv").write_text("step,seconds\n5,10.0\n10,21.5\n")
    old = checkpoint()
    del old["run"]["wall_seconds"]
    assert training_record(tmp_path / "final.pt", old)["wall_seconds"] == 21.5


def test_only_a_listed_released_file_has_an_earlier_record(tmp_path):
    assert released_record("") is None
    assert released_record(str(tmp_path / "runs" / "final.pt")) is None
    assert released_record(str(tmp_path / "mim_l1.onnx")) is None  # no manifest beside it
    (tmp_path / "manifest.json").write_text(json.dumps({"models": []}))
    assert released_record(str(tmp_path / "mim_l1.onnx")) is None
