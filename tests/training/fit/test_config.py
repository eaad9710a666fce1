"""Experiment configs: a bad key fails naming it, and every shipped config loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from nightowl.training.fit.config import load_config


def test_config_errors_name_the_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "x"\nstepz = 3\n')
    with pytest.raises(ValueError, match=r"unknown key.*stepz.*allowed"):
        load_config(path)


def test_shipped_configs_load():
    for path in sorted(Path(__file__).resolve().parents[3].glob("training/configs/*.toml")):
        config = load_config(path)
        assert config.name == path.stem


def test_validation_draws_the_val_photographs_and_training_the_train_ones():
    from nightowl.training.fit.config import load_config

    config = load_config("training/configs/mim_l1_cr.toml")
    assert config.data.scene.uses_photos
    assert config.data.samples().scene.photo_split == "train"
    assert config.data.val_samples().scene.photo_split == "val"
    assert config.data.noise.model == "mixture"
