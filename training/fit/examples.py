"""Training examples: crops of generated samples as arrays ready for a DataLoader.

Crops are square and, most of the time, contain a readable plate, so that every batch has
characters for the character-recognition loss to work on. The frames are aligned on the whole
frame (as the server does) before cropping.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from nightowl.service.frames.layout import input_scale, memory_planes, network_input
from nightowl.training.nets.recogniser import char_targets
from nightowl.training.nets.recogniser_output import CHARSET
from nightowl.training.synth.memory_view import MemoryViewConfig, memory_view
from nightowl.training.synth.samples import Sample
from nightowl.training.synth.scenes import CharLabel


@dataclass(frozen=True)
class CropConfig:
    size: int = 128  # px, side of the square crops
    plate_probability: float = 0.85  # crops that hold a readable plate; the rest fall anywhere
    per_sample: int = 1  # training crops cut from each rendered, degraded and aligned sample
    # (rendering and alignment cost more than a training step on the CPU)

    def __post_init__(self) -> None:
        if self.per_sample < 1:
            raise ValueError(f"per_sample must be >= 1, got {self.per_sample}")


def crop_rng(sample: Sample, crop: int = 0) -> np.random.Generator:
    """The randomness of a sample's ``crop``-th crop: fixed, so validation crops never change
    (the first crop is the one a sample always had)."""
    key = [sample.seed, sample.index, 1] + ([crop] if crop else [])
    return np.random.default_rng(key)


def crop_origin(sample: Sample, crop: CropConfig, rng: np.random.Generator) -> tuple[int, int]:
    """Top-left (x, y) of a square crop, around a readable plate when one is drawn."""
    size = crop.size
    height, width = sample.sequence.clean.shape[1:3]
    if size > min(height, width):
        raise ValueError(f"crop size {size} px does not fit frames of {width}x{height} px")
    readable = [p for p in sample.sequence.plates if p.readable]
    if readable and rng.random() < crop.plate_probability:
        plate = readable[int(rng.integers(len(readable)))]
        boxes = np.asarray([c.box for c in plate.chars])
        x_lo, y_lo = boxes[:, 2].max() - size + 2, boxes[:, 3].max() - size + 2
        x_hi, y_hi = boxes[:, 0].min() - 2, boxes[:, 1].min() - 2
        x = rng.uniform(min(x_lo, x_hi), max(x_lo, x_hi))
        y = rng.uniform(min(y_lo, y_hi), max(y_lo, y_hi))
    else:
        x, y = rng.uniform(0, width - size), rng.uniform(0, height - size)
    return (int(np.clip(round(x), 0, width - size)), int(np.clip(round(y), 0, height - size)))


def shifted_chars(sample: Sample, x0: int, y0: int, size: int) -> list[CharLabel]:
    """Frame-T characters in crop coordinates; those not wholly in the crop are not visible."""
    chars = []
    for plate in sample.sequence.plates:
        for c in plate.chars:
            bx0, by0, bx1, by1 = c.box[0] - x0, c.box[1] - y0, c.box[2] - x0, c.box[3] - y0
            inside = bx0 >= 0 and by0 >= 0 and bx1 <= size and by1 <= size
            chars.append(CharLabel(c.label, (bx0, by0, bx1, by1), c.visible and inside))
    return chars


MAX_CHARS = 24  # characters per crop kept for scoring (boxes/labels are padded to this)


def char_boxes(chars: list[CharLabel]) -> dict[str, np.ndarray]:
    """Visible characters as fixed-size arrays: boxes (MAX_CHARS, 4), labels (MAX_CHARS,)
    with the class index (1 + position in the charset) and -1 for padding."""
    boxes = np.zeros((MAX_CHARS, 4), np.float32)
    labels = np.full(MAX_CHARS, -1, np.int64)
    visible = [c for c in chars if c.visible and c.label in CHARSET][:MAX_CHARS]
    for i, c in enumerate(visible):
        boxes[i] = c.box
        labels[i] = 1 + CHARSET.index(c.label)
    return {"boxes": boxes, "labels": labels}


@dataclass(frozen=True)
class EnhancerExamples:
    """Sample -> {"inputs", "target", "mask", "chars"} for SIM ("sim") or MIM ("mim").

    inputs (C, S, S) float32: frame T (SIM, C = 3) or the T aligned frames (MIM, C = 3T; with
    ``memory``, then the simulated background memory and its confidence, ``memory_view``);
    target (3, S, S) the clean frame T; mask (1, S, S) its moving-object mask;
    chars (S/4, S/4) int64 recogniser targets (see ``recogniser.char_targets``).
    """

    kind: str = "mim"
    crop: CropConfig = CropConfig()
    alignment: object = None  # service.alignment.AlignmentConfig; None: its defaults
    reference_gain: float | None = None  # the network's EnhancerConfig.reference_gain
    memory: MemoryViewConfig | None = None  # MIM with memory input: how the memory is drawn

    def __call__(self, sample: Sample) -> dict[str, np.ndarray]:
        return self.many(sample, 1)[0]

    def many(self, sample: Sample, count: int | None = None) -> list[dict[str, np.ndarray]]:
        """``count`` (default ``crop.per_sample``) crops of one sample, aligned once."""
        if self.kind == "mim":
            # the very alignment the server runs: what is trained is what is served
            from nightowl.service.frames.alignment import AlignmentConfig, align_to_last

            frames, _ = align_to_last(sample.low, self.alignment or AlignmentConfig())
        else:
            frames = sample.low[-1:]
        scale = input_scale(frames.dtype, sample.noise.s, self.reference_gain)
        memory = None
        if self.memory is not None and self.kind == "mim":
            levels, confidence = memory_view(
                sample.sequence.background, sample.sequence.masks, sample.noise, self.memory,
                np.random.default_rng([sample.seed, sample.index, 2]))
            memory = memory_planes(levels.transpose(2, 0, 1), confidence,
                                   input_scale(np.uint8, sample.noise.s, self.reference_gain),
                                   confidence.shape)
        return [self._crop(sample, frames, scale, k, memory)
                for k in range(count or self.crop.per_sample)]

    def _crop(self, sample: Sample, frames: np.ndarray, scale: np.float32,
              crop: int, memory: np.ndarray | None = None) -> dict[str, np.ndarray]:
        size = self.crop.size
        x0, y0 = crop_origin(sample, self.crop, crop_rng(sample, crop))
        window = (slice(y0, y0 + size), slice(x0, x0 + size))
        seq = sample.sequence
        chars = shifted_chars(sample, x0, y0, size)
        inputs = network_input(frames[:, window[0], window[1]], scale)
        if memory is not None:
            inputs = np.concatenate([inputs, memory[:, window[0], window[1]]])
        return {"inputs": inputs,
                "target": network_input(seq.clean[-1][window]),
                "mask": seq.masks[-1][window][None].astype(np.float32),
                "chars": char_targets(chars, size, size), **char_boxes(chars)}


@dataclass(frozen=True)
class RecogniserExamples:
    """Sample -> {"image", "chars"}: a crop of clean frame T, sometimes softened or noisy so
    that the recogniser also reads the imperfect frames a network restores."""

    crop: CropConfig = CropConfig()
    augment_probability: float = 0.5

    def __call__(self, sample: Sample) -> dict[str, np.ndarray]:
        size = self.crop.size
        rng = crop_rng(sample)
        x0, y0 = crop_origin(sample, self.crop, rng)
        image = sample.sequence.clean[-1][y0:y0 + size, x0:x0 + size].astype(np.float32) / 255
        if rng.random() < self.augment_probability:
            image = _soften(image, rng)
        chars = shifted_chars(sample, x0, y0, size)
        return {"image": np.ascontiguousarray(image.transpose(2, 0, 1)),
                "chars": char_targets(chars, size, size), **char_boxes(chars)}


def _soften(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = rng.uniform(0.3, 1.2)
    image = cv2.GaussianBlur(image, (0, 0), sigma)
    image = image * rng.uniform(0.75, 1.15) + rng.uniform(-0.05, 0.05)
    image = image + rng.normal(0, rng.uniform(0, 0.04), image.shape).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32)


@dataclass(frozen=True)
class FlowExamples:
    """Sample -> {"inputs", "flow", "moving"} for the flow network.

    inputs (3T, S, S) float32: the T dark frames as captured (the network normalises their
    level itself); flow (T-1, S, S, 2) the generator's exact backward flows onto frame T;
    moving (1, S, S) where any of them is non-zero. Half the crops are mirrored left to right
    (the flow's dx negated), which the fixed-camera scenes allow.
    """

    crop: CropConfig = CropConfig()

    def __call__(self, sample: Sample) -> dict[str, np.ndarray]:
        return self.many(sample, 1)[0]

    def many(self, sample: Sample, count: int | None = None) -> list[dict[str, np.ndarray]]:
        return [self._crop(sample, k) for k in range(count or self.crop.per_sample)]

    def _crop(self, sample: Sample, crop: int) -> dict[str, np.ndarray]:
        size = self.crop.size
        rng = crop_rng(sample, crop)
        x0, y0 = crop_origin(sample, self.crop, rng)
        window = (slice(y0, y0 + size), slice(x0, x0 + size))
        low = sample.low[:, window[0], window[1]]
        flow = sample.sequence.flows[:-1, window[0], window[1]].astype(np.float32)
        if rng.random() < 0.5:
            low, flow = low[:, :, ::-1], flow[:, :, ::-1] * np.float32([-1, 1])
        moving = (np.abs(flow) > 0.05).any(axis=(0, 3))
        return {"inputs": network_input(np.ascontiguousarray(low)),
                "flow": np.ascontiguousarray(flow, dtype=np.float32),
                "moving": moving[None].astype(np.float32)}
