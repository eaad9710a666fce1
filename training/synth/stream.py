"""An endless, reproducible stream of synthetic samples for training loops.

``SyntheticSequences`` is a ``torch.utils.data.IterableDataset`` when torch is installed (so a
``DataLoader`` shards it across workers) and a plain iterable otherwise. It is also indexable:
``stream[i]`` is sample ``i`` of the data set, the same bytes however it is reached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from nightowl.training.synth.samples import Sample, SampleConfig, make_sample

try:
    from torch.utils.data import IterableDataset as _Base
    from torch.utils.data import get_worker_info
except ImportError:  # the generator itself does not need torch
    _Base = object  # type: ignore[assignment,misc]

    def get_worker_info() -> None:
        return None


class SyntheticSequences(_Base):
    """Samples ``start, start + 1, ...`` of data set ``seed``, split across workers and ranks.

    With ``W`` DataLoader workers and ``world_size`` processes, worker ``w`` of rank ``r`` yields
    indices ``start + (r * W + w) + k * world_size * W`` for k = 0, 1, ...: disjoint, and
    together every index exactly once. ``transform`` maps each sample before it is yielded; a
    transform that returns a list (several crops of one sample) has each item yielded.
    """

    def __init__(self, config: SampleConfig | None = None, seed: int = 0, start: int = 0,
                 transform: Callable[[Sample], Any] | None = None, rank: int = 0,
                 world_size: int = 1) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size); got rank={rank}, "
                             f"world_size={world_size}")
        self.config = config or SampleConfig()
        self.seed, self.start = seed, start
        self.transform = transform
        self.rank, self.world_size = rank, world_size

    def __getitem__(self, index: int) -> Any:
        sample = make_sample(self.config, self.seed, index)
        return self.transform(sample) if self.transform else sample

    def __iter__(self) -> Iterator[Any]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        shard = self.rank * workers + worker
        stride = self.world_size * workers
        index = self.start + shard
        while True:
            item = self[index]
            if isinstance(item, list):
                yield from item
            else:
                yield item
            index += stride
