"""Photographs from Debian wallpaper packages: real textures and colours for the generator.

The photographs are installed by the system's package manager (``.ci/debian-packages`` does it)
and found on disk; nothing is downloaded at run time. Only the wallpapers that are photographs
are listed (the packages also hold drawings and abstract art). Each photograph belongs to one
split, fixed by the sha256 of its bytes, so a test photograph is never trained on whatever the
order or number of files on disk. Only the listed files of the two packages are read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
PACKAGES = ("plasma-workspace-wallpapers", "mate-backgrounds")
INSTALL = f"sudo apt-get install {' '.join(PACKAGES)} (or run .ci/debian-packages)"
# package -> the photographs in it, relative to /usr/share. Plasma ships each wallpaper at many
# resolutions: one per folder is read (the largest up to MAX_SOURCE_SIDE).
PLASMA_PHOTOS = ("Autumn", "BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour",
                 "EveningGlow", "FallenLeaf", "Grey", "Kite", "OneStandsOut", "Path",
                 "summer_1am", "Volna")
MATE_PHOTOS = ("Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird",
               "RainDrops", "Storm", "TwoWings", "Wood", "YellowFlower")
SHARE = Path("/usr/share")
MAX_SOURCE_SIDE = 2600  # px: the plasma resolution read
WORKING_SIDE = 1024  # px: photographs are kept in memory at this longer side
# split by the first 8 hex digits of the file's sha256, modulo 10: 0-1 test, 2 val, else train
TEST_BUCKETS, VAL_BUCKETS = (0, 1), (2,)


class PhotosUnavailableError(RuntimeError):
    """The photograph packages are not installed."""


@dataclass(frozen=True)
class Photo:
    path: Path
    sha256: str
    split: Split


def split_of(sha256: str) -> Split:
    """The split a photograph with this sha256 belongs to."""
    bucket = int(sha256[:8], 16) % 10
    if bucket in TEST_BUCKETS:
        return "test"
    return "val" if bucket in VAL_BUCKETS else "train"


def _plasma_file(name: str, share: Path) -> Path | None:
    folder = share / "wallpapers" / name / "contents" / "images"
    sizes = []
    for path in folder.glob("*x*.*"):
        try:
            width = int(path.stem.split("x")[0])
        except ValueError:
            continue
        if width <= MAX_SOURCE_SIDE:
            sizes.append((width, path))
    return max(sizes)[1] if sizes else None


def photo_paths(share: Path = SHARE) -> list[Path]:
    """Every listed photograph that is on disk, in a fixed order."""
    paths = [_plasma_file(name, share) for name in PLASMA_PHOTOS]
    paths += [share / "backgrounds" / "mate" / "nature" / f"{name}.jpg" for name in MATE_PHOTOS]
    return sorted(p for p in paths if p is not None and p.is_file())


@lru_cache(maxsize=4)
def catalogue(share: Path = SHARE) -> tuple[Photo, ...]:
    """The photographs on disk with their hash and split; PhotosUnavailableError when none is."""
    photos = []
    for path in photo_paths(share):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        photos.append(Photo(path=path, sha256=digest, split=split_of(digest)))
    if not photos:
        raise PhotosUnavailableError(f"no photographs under {share}: the generator's photo scenes "
                                f"need the Debian packages {', '.join(PACKAGES)}; install "
                                f"them with: {INSTALL}")
    return tuple(photos)


def photos_of(split: Split, share: Path = SHARE) -> tuple[Photo, ...]:
    """The photographs of one split (at least one; PhotosUnavailableError otherwise)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    chosen = tuple(p for p in catalogue(share) if p.split == split)
    if not chosen:
        raise PhotosUnavailableError(f"no photograph of the {split!r} split under {share}; "
                                f"install {', '.join(PACKAGES)}: {INSTALL}")
    return chosen


@lru_cache(maxsize=64)
def load_photo(path: Path) -> np.ndarray:
    """(H, W, 3) uint8 RGB, its longer side at most WORKING_SIDE (decoded once per process)."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise PhotosUnavailableError(f"{path} could not be read as an image; reinstall its package "
                                f"({INSTALL})")
    scale = WORKING_SIDE / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image[..., ::-1])


def random_crop(rng: np.random.Generator, split: Split, width: int, height: int,
                zoom: tuple[float, float] = (0.35, 1.0), share: Path = SHARE) -> np.ndarray:
    """A (height, width, 3) float32 RGB crop in [0, 1] of a random photograph of ``split``,
    covering ``zoom`` (a fraction, drawn in this range) of the photograph's shorter side,
    mirrored half of the time."""
    photos = photos_of(split, share)
    image = load_photo(photos[int(rng.integers(len(photos)))].path)
    side = min(image.shape[:2]) * rng.uniform(*zoom)
    crop_w, crop_h = side * width / max(width, height), side * height / max(width, height)
    x = int(rng.uniform(0, image.shape[1] - crop_w))
    y = int(rng.uniform(0, image.shape[0] - crop_h))
    window = image[y:y + max(int(crop_h), 1), x:x + max(int(crop_w), 1)]
    out = cv2.resize(window, (width, height), interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out, dtype=np.float32) * np.float32(1 / 255)
