"""The endless stream: reproducible, indexable, and split without overlap across workers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from nightowl.training.synth.samples import Sample, SampleConfig
from nightowl.training.synth.scenes import SceneConfig
from nightowl.training.synth.stream import SyntheticSequences

SMALL = SampleConfig(scene=SceneConfig(width=48, height=32))


def index_of(sample: Sample) -> int:
    return sample.index


def test_iteration_matches_indexing():
    stream = SyntheticSequences(SMALL, seed=3, start=5)
    first = list(itertools.islice(iter(stream), 3))
    assert [s.index for s in first] == [5, 6, 7]
    assert np.array_equal(first[1].low, stream[6].low)


def test_ranks_split_the_stream_without_overlap():
    seen = []
    for rank in range(3):
        stream = SyntheticSequences(SMALL, seed=0, transform=index_of, rank=rank, world_size=3)
        seen.append(list(itertools.islice(iter(stream), 4)))
    flat = sorted(i for part in seen for i in part)
    assert flat == list(range(12))
    with pytest.raises(ValueError, match="rank"):
        SyntheticSequences(SMALL, rank=2, world_size=2)


def test_dataloader_workers_split_the_stream():
    import torch  # the README's test command installs the train extra
    from torch.utils.data import DataLoader

    stream = SyntheticSequences(SMALL, seed=0, transform=index_of)
    assert isinstance(stream, torch.utils.data.IterableDataset)
    loader = DataLoader(stream, batch_size=None, num_workers=2)
    indices = [int(i) for i in itertools.islice(iter(loader), 10)]
    assert sorted(indices) == list(range(10))


def test_a_transform_returning_several_items_yields_each():
    from itertools import islice

    from nightowl.training.synth.samples import SampleConfig
    from nightowl.training.synth.scenes import SceneConfig

    config = SampleConfig(scene=SceneConfig(width=32, height=32))
    stream = SyntheticSequences(config, seed=2, transform=lambda s: [s.index, s.index])
    assert list(islice(iter(stream), 6)) == [0, 0, 1, 1, 2, 2]
