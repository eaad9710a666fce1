"""The photographs: found on disk, split by hash, a clear error when the packages are missing."""

from __future__ import annotations

import numpy as np
import pytest

from nightowl.training.synth import photos


def test_every_split_has_photographs_and_none_is_in_two():
    catalogue = photos.catalogue()
    by_split = {split: {p.sha256 for p in photos.photos_of(split)} for split in photos.SPLITS}
    assert all(by_split.values())
    assert sum(len(v) for v in by_split.values()) == len({p.sha256 for p in catalogue})
    assert all(p.split == photos.split_of(p.sha256) for p in catalogue)


def test_the_split_is_fixed_by_the_file_hash_alone():
    assert photos.split_of("00000000" + "f" * 56) == "test"  # bucket 0
    assert photos.split_of("00000002" + "0" * 56) == "val"  # bucket 2
    assert photos.split_of("00000007" + "0" * 56) == "train"


def test_no_photograph_comes_from_the_reserved_package():
    assert not any("opencv" in str(p.path).lower() for p in photos.catalogue())


def test_a_missing_package_names_the_install_command(tmp_path):
    with pytest.raises(photos.PhotosUnavailableError, match="apt-get install plasma-workspace"):
        photos.catalogue(tmp_path)


def test_crops_are_reproducible_and_photographic():
    a = photos.random_crop(np.random.default_rng(4), "train", 96, 64)
    b = photos.random_crop(np.random.default_rng(4), "train", 96, 64)
    assert a.shape == (64, 96, 3) and a.dtype == np.float32
    assert np.array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1 and a.std() > 0.01  # texture, not a flat fill
