"""The training loop end to end: a tiny run, resume, and DDP under torchrun (2 CPU ranks)."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nightowl.training.config import load_config

TINY_RUN = """
name = "tiny"
task = "enhancer"
steps = {steps}
batch_size = 2
workers = 0
val_every = 2
checkpoint_every = 2

[model]
kind = "mim"
width = 4
depth = 2

[data]
val_count = 2

[data.scene]
width = 64
height = 64

[data.crop]
size = 32
"""


def write_config(folder: Path, steps: int) -> Path:
    path = folder / "tiny.toml"
    path.write_text(TINY_RUN.format(steps=steps))
    return path


def nightowl(*args: str, launcher: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    command = [sys.executable, *launcher, "-m", "nightowl.service.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


def test_train_logs_checkpoints_and_resumes(tmp_path):
    config = write_config(tmp_path, steps=2)
    out = tmp_path / "run"
    first = nightowl("train", str(config), "--out", str(out))
    assert first.returncode == 0, first.stderr
    final = torch.load(out / "final.pt", weights_only=False)
    assert final["steps"] == 2 and final["task"] == "enhancer"
    assert "val_psnr" in final["validation"]
    resumed = nightowl("train", str(config), "--out", str(out), "--resume", "--steps", "4")
    assert resumed.returncode == 0, resumed.stderr
    with (out / "log.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [2, 4]
    assert torch.load(out / "checkpoint.pt", weights_only=False)["step"] == 4


def test_ddp_ranks_end_with_identical_weights(tmp_path):
    config = write_config(tmp_path, steps=3)
    out = tmp_path / "ddp"
    result = nightowl("train", str(config), "--out", str(out),
                      launcher=("-m", "torch.distributed.run", "--standalone",
                                "--nproc_per_node", "2"))
    assert result.returncode == 0, result.stderr[-2000:]
    digests = [(out / f"weights-rank{r}.sha256").read_text() for r in (0, 1)]
    assert digests[0] == digests[1]
    assert (out / "final.pt").exists()


def test_config_errors_name_the_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\nstepz = 3\n')
    with pytest.raises(ValueError, match=r"unknown key.*stepz.*allowed"):
        load_config(path)
    result = nightowl("train", str(path))
    assert result.returncode != 0 and "stepz" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_shipped_configs_load():
    for path in sorted(Path(__file__).resolve().parents[2].glob("training/configs/*.toml")):
        config = load_config(path)
        assert config.name == path.stem
