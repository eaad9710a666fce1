"""Samples on disk: a written folder reads back as the same sample, and a folder of another
format is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nightowl.training.synth.sample_files import read_sample, write_sample
from nightowl.training.synth.samples import SampleConfig, make_sample
from nightowl.training.synth.scenes import SceneConfig

SMALL = SampleConfig(scene=SceneConfig(width=64, height=48))


def test_a_written_sample_reads_back_exactly(tmp_path):
    sample = make_sample(SMALL, 5, 2)
    folder = write_sample(tmp_path, sample)
    assert folder == tmp_path / "000002"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["000002"]  # no staging folder left
    back = read_sample(folder)
    for name in ("clean", "masks", "flows", "background"):
        assert np.array_equal(getattr(back.sequence, name), getattr(sample.sequence, name)), name
    assert np.array_equal(back.low, sample.low)
    assert back.noise == sample.noise and (back.seed, back.index) == (5, 2)
    assert back.sequence.vehicles == sample.sequence.vehicles
    assert [p.labels for p in back.sequence.plates] == [p.labels for p in sample.sequence.plates]


def test_a_folder_of_another_format_is_refused(tmp_path):
    folder = write_sample(tmp_path, make_sample(SMALL, 5, 0))
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, "format": "other/1"}))
    with pytest.raises(ValueError, match="not a nightowl-sequence/1 sample"):
        read_sample(folder)
