"""``nightowl train`` end to end: a tiny run, resume, DDP under torchrun (2 CPU ranks), the
time budget, --init-from, and a bad config refused in one line."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow  # spawns processes or servers; CI runs it

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


def test_config_error_fails_train_in_one_line_naming_the_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\nstepz = 3\n')
    result = nightowl("train", str(path))
    assert result.returncode != 0 and "stepz" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_time_budget_stops_the_run_and_still_saves(tmp_path):
    config = write_config(tmp_path, steps=100_000)
    out = tmp_path / "budget"
    result = nightowl("train", str(config), "--out", str(out), "--max-minutes", "0.002")
    assert result.returncode == 0, result.stderr
    final = torch.load(out / "final.pt", weights_only=False)
    assert 1 <= final["steps"] < 100_000
    assert "val_psnr" in final["validation"]  # the last step validates, as a full run does


def test_init_from_a_released_model_starts_from_its_weights(tmp_path):
    import json

    from nightowl.training.nets.enhancers import EnhancerConfig
    from nightowl.training.nets.onnx_weights import enhancer_from_onnx

    models = Path(__file__).resolve().parents[3] / "models"
    config = tmp_path / "sim.toml"
    config.write_text(TINY_RUN.format(steps=1).replace(
        'kind = "mim"\nwidth = 4\ndepth = 2', 'kind = "sim"\nwidth = 16\ndepth = 3') +
        '\n[loss]\ncr_weight = 0.0\n')
    out = tmp_path / "tuned"
    result = nightowl("train", str(config), "--out", str(out), "--init-from",
                      str(models / "sim_l1.onnx"))
    assert result.returncode == 0, result.stderr
    entry = next(e for e in json.loads((models / "manifest.json").read_text())["models"]
                 if e["file"] == "sim_l1.onnx")
    released = enhancer_from_onnx(models / "sim_l1.onnx", EnhancerConfig(**entry["model_config"]))
    tuned = torch.load(out / "final.pt", weights_only=False)["model"]
    moved = max(float((tuned[k] - v).abs().max()) for k, v in released.state_dict().items())
    assert 0 < moved < 0.01  # one Adam step away from the release, not a fresh network


def test_init_from_must_exist(tmp_path):
    result = nightowl("train", str(write_config(tmp_path, 1)), "--init-from", "nope.onnx")
    assert result.returncode != 0 and "nope.onnx" in result.stderr


# the tiny run's loop, data and crop settings, for the flow network
TINY_FLOW = (TINY_RUN.replace('name = "tiny"', 'name = "tiny-flow"')
             .replace('task = "enhancer"', 'task = "flow"').replace("steps = {steps}", "steps = 2")
             .replace('[model]\nkind = "mim"\nwidth = 4\ndepth = 2',
                      "[flow_model]\nwidth = 4\ncoarse_radius = 2\nfine_radius = 1")
             .replace("size = 32", "size = 32\nper_sample = 2"))



def test_flow_network_trains_and_reports_its_end_point_errors(tmp_path):
    config = tmp_path / "flow.toml"
    assert "[flow_model]" in TINY_FLOW and "[model]" not in TINY_FLOW
    config.write_text(TINY_FLOW)
    run = nightowl("train", str(config), "--out", str(tmp_path / "run"))
    assert run.returncode == 0, run.stderr
    final = torch.load(tmp_path / "run" / "final.pt", weights_only=False)
    assert final["task"] == "flow" and final["model_config"]["width"] == 4
    figures = final["validation"]
    assert figures["val_epe_moving"] > 0 and figures["val_epe_static"] >= 0
