"""The long evaluation: its splits' seeds, one sequence run through the server's pipeline with
and without the memory, its report and pictures, and ``nightowl eval --long``."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from nightowl.service.cli import main
from nightowl.service.modelrepo.files import DEFAULT_MODELS_DIR
from nightowl.training.evaluation import longreport
from nightowl.training.evaluation.longrun import GHOST_FRAMES, LongEvaluator, LongSettings, Row
from nightowl.training.evaluation.longset import LONG_SPLITS, darken_long, long_scene
from nightowl.training.evaluation.testset import SPLITS
from nightowl.training.fit.config import DataConfig

ROOT = Path(__file__).resolve().parents[3]
ROWS = (Row("mim", "mim_l1_cr.onnx", False), Row("mim + memory", "mim_l1_cr.onnx", True))


def test_long_seeds_are_their_own():
    used = {DataConfig().train_seed, DataConfig().val_seed}
    for path in (ROOT / "training" / "configs").glob("*.toml"):
        data = tomllib.loads(path.read_text()).get("data", {})
        used |= {data.get("train_seed"), data.get("val_seed")}
    seeds = {split.seed for split in LONG_SPLITS.values()}
    assert not seeds & used and not seeds & {s.seed for s in SPLITS.values()}


def test_a_long_sequence_is_the_same_every_time():
    first, *cameras = long_scene("long", 3, 120)
    again, *_ = long_scene("long", 3, 120)
    assert np.array_equal(first.clean, again.clean) and first.leave > first.arrive > 0
    low = darken_long("long", 3, first, tuple(cameras), "sensor", 22)
    assert low.shape == first.clean.shape and low.mean() < first.clean.mean() / 10


@pytest.fixture(scope="module")
def records():
    settings = LongSettings(DEFAULT_MODELS_DIR, ROWS, frames=130, every=8, noises=("eq6",),
                            s_values=(25.0,))
    return LongEvaluator(settings).scene("long", 0)


def test_the_memory_row_is_measured_against_the_plain_one(records):
    rows, items = records
    by = {r["method"]: r for r in rows}
    assert set(by) == {"mim", "mim + memory"}
    plain, memory = by["mim"], by["mim + memory"]
    assert plain["static"][1] > 0 and memory["temporal_std"] < plain["temporal_std"]
    assert set(plain["ghost"]) == {str(k) for k in range(GHOST_FRAMES + 1)}
    assert plain["chars"][2] > 0 and plain["level"][1] > 0
    # the first sequence, at S = 25 under its split's sheet noise: its last frame, and just
    # after the parked car left
    assert len(items) == 2 and items[0]["frame"] < items[1]["frame"] == 129
    assert {item["when"] for item in items} == {"old memory", "2 frames after the car left"}
    assert set(items[0]["images"]) == {"gain", "ground truth", "mim", "mim + memory"}


def test_report_targets_and_plot(records):
    rows = longreport.build_rows(records[0], [r.name for r in ROWS], ["long"], ["eq6"], [25.0])
    verdicts = longreport.targets(rows, "mim", "mim + memory")
    assert len(verdicts) == 1 and verdicts[0]["temporal_std"] == rows[1]["temporal_std"]
    text = longreport.markdown(rows, verdicts, "nightowl eval --long", "mim", "mim + memory")
    assert "| long | eq6 | 25 | mim + memory |" in text
    plot = longreport.age_plot(rows, [r.name for r in ROWS], ["long"], ["eq6"])
    assert plot.ndim == 3 and plot.dtype == np.uint8


def test_eval_long_command_writes_its_report(tmp_path):
    out = tmp_path / "long"
    assert main(["eval", "--long", "--out", str(out), "--splits", "long", "--count", "1",
                 "--frames", "120", "--every", "12", "--noises", "eq6", "--s-values", "25"]) == 0
    report = json.loads((out / "long_report.json").read_text())
    assert report["methods"] == ["mim_l1_cr", "mim_l1_cr + memory"]
    assert len(report["rows"]) == 2 and len(report["targets"]) == 1
    for name in ("long_report.md", "long_contact_sheet.png", "psnr_vs_age.png"):
        assert (out / name).stat().st_size > 0


def test_a_network_that_takes_the_memory_gets_the_servers_recall(tmp_path):
    """A tiny untrained memory MIM, exported beside the release: without memory its planes are
    zeros; with it, its trust (one half at the start) leans its stationary image half way to
    the server's recall, closer to the truth on old static pixels than its own guess (its
    untrained mask, near one half, passes half of that on: 0.68 of the error measured)."""
    import shutil
    from dataclasses import asdict

    import torch

    from nightowl.service.modelrepo.manifest import update_manifest
    from nightowl.training.nets.enhancers import EnhancerConfig, build_enhancer
    from nightowl.training.release.export import export_run

    models = tmp_path / "models"
    shutil.copytree(DEFAULT_MODELS_DIR, models)
    torch.manual_seed(0)
    config = EnhancerConfig(width=4, depth=2, reference_gain=25.0, memory=True)
    final = tmp_path / "final.pt"
    torch.save({"model": build_enhancer(config).state_dict(), "model_config": asdict(config),
                "task": "enhancer", "config": {"name": "tiny"}, "steps": 1, "validation": {}},
               final)
    entry = export_run(final, "tiny_memory", models, description="test")
    update_manifest(models, entry)
    assert entry["inputs"][0]["shape"][1] == 16 and entry["model_config"]["memory"]
    rows = (Row("tiny", "tiny_memory.onnx", False), Row("tiny + memory", "tiny_memory.onnx", True))
    settings = LongSettings(models, rows, frames=120, every=8, noises=("eq6",),
                            s_values=(25.0,), precision="fp32")
    by = {r["method"]: r for r in LongEvaluator(settings).scene("long", 0)[0]}
    static = {name: by[name]["static"][0] / by[name]["static"][1] for name in by}  # MSE
    assert by["tiny"]["static"][1] > 0
    assert static["tiny + memory"] < 0.8 * static["tiny"]
