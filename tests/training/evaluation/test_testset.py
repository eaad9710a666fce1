"""The fixed test set: a seed no training config uses, and paired conditions."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from nightowl.training.evaluation.testset import TEST_SEED, darken, make_scene
from nightowl.training.fit.config import DataConfig

ROOT = Path(__file__).resolve().parents[3]


def test_test_seed_is_used_by_no_training_config():
    used = {DataConfig().train_seed, DataConfig().val_seed}
    for path in (ROOT / "training" / "configs").glob("*.toml"):
        data = tomllib.loads(path.read_text()).get("data", {})
        used |= {data.get("train_seed"), data.get("val_seed")}
    assert TEST_SEED not in used


def test_conditions_share_the_scene_and_differ_in_noise():
    scene = make_scene(0)
    eq6, extended = darken(scene, "eq6", 20), darken(scene, "extended", 20)
    assert eq6.shape == extended.shape == scene.sequence.clean.shape
    assert np.array_equal(darken(make_scene(0), "eq6", 20), eq6)  # reproducible
    assert not np.array_equal(eq6, extended)
    assert darken(scene, "eq6", 30).mean() < eq6.mean()  # darker at larger S
