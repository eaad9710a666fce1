"""Training examples: a square crop of a generated sample as network input, target, mask and
character labels, in the server's input layout and scale."""

from __future__ import annotations

import numpy as np
import pytest

from nightowl.service.frames.layout import CONFIDENCE_SCALE, MEMORY_SCALE, network_input
from nightowl.training.fit.examples import (
    CropConfig,
    EnhancerExamples,
    RecogniserExamples,
    crop_origin,
    crop_rng,
)
from nightowl.training.nets.recogniser_output import CHARSET
from nightowl.training.synth.samples import Sample, SampleConfig, make_sample

CROP = CropConfig(size=64)


@pytest.fixture(scope="module")
def sample() -> Sample:
    """A default 256x256 sample whose crop holds a readable plate."""
    return make_sample(SampleConfig(), 3, 0)


def window(sample: Sample) -> tuple[int, int, tuple[slice, slice]]:
    x0, y0 = crop_origin(sample, CROP, crop_rng(sample))
    return x0, y0, (slice(y0, y0 + CROP.size), slice(x0, x0 + CROP.size))


@pytest.mark.parametrize(("kind", "channels"), [("sim", 3), ("mim", 12)])
def test_enhancer_example_is_the_crop_in_the_network_layout(sample, kind, channels):
    example = EnhancerExamples(kind=kind, crop=CROP)(sample)
    size = CROP.size
    assert example["inputs"].shape == (channels, size, size)
    assert example["target"].shape == (3, size, size)
    assert example["mask"].shape == (1, size, size)
    assert example["chars"].shape == (size // 4, size // 4)
    assert {k: v.dtype for k, v in example.items()} == {
        "inputs": np.float32, "target": np.float32, "mask": np.float32, "chars": np.int64,
        "boxes": np.float32, "labels": np.int64}
    _, _, crop = window(sample)
    assert np.array_equal(example["target"], network_input(sample.sequence.clean[-1][crop]))
    assert np.array_equal(example["inputs"][-3:], network_input(sample.low[-1][crop]))
    assert set(np.unique(example["mask"])) <= {0.0, 1.0}


def test_inputs_are_scaled_by_s_over_the_reference_gain(sample):
    assert sample.noise.s != 25  # or the scale is 1 and the test proves nothing
    plain = EnhancerExamples(kind="sim", crop=CROP)(sample)
    told = EnhancerExamples(kind="sim", crop=CROP, reference_gain=25.0)(sample)
    np.testing.assert_allclose(told["inputs"], plain["inputs"] * sample.noise.s / 25.0,
                               rtol=1e-6)
    assert np.array_equal(told["target"], plain["target"])  # the target is never scaled


def test_labels_and_boxes_are_the_visible_characters_in_crop_coordinates(sample):
    example = EnhancerExamples(kind="sim", crop=CROP)(sample)
    x0, y0, _ = window(sample)
    size = CROP.size
    shifted = [(c.label, (c.box[0] - x0, c.box[1] - y0, c.box[2] - x0, c.box[3] - y0))
               for p in sample.sequence.plates for c in p.chars if c.visible]
    inside = [(label, box) for label, box in shifted
              if box[0] >= 0 and box[1] >= 0 and box[2] <= size and box[3] <= size]
    count = int((example["labels"] >= 0).sum())
    assert count == len(inside) > 0
    assert [CHARSET[i - 1] for i in example["labels"][:count]] == [lb for lb, _ in inside]
    np.testing.assert_allclose(example["boxes"][:count], [box for _, box in inside], atol=1e-4)
    assert (example["labels"][count:] == -1).all() and (example["boxes"][count:] == 0).all()
    assert set(example["labels"][:count]) <= set(np.unique(example["chars"]))


def test_recogniser_example_is_the_clean_crop_with_the_same_labels(sample):
    example = RecogniserExamples(crop=CROP, augment_probability=0.0)(sample)
    _, _, crop = window(sample)
    assert example["image"].shape == (3, CROP.size, CROP.size)
    assert example["image"].dtype == np.float32
    np.testing.assert_allclose(example["image"], network_input(sample.sequence.clean[-1][crop]),
                               atol=1e-6)  # x / 255 here, x * (1 / 255) in the layout
    enhancer = EnhancerExamples(kind="sim", crop=CROP)(sample)
    for key in ("chars", "boxes", "labels"):
        assert np.array_equal(example[key], enhancer[key]), key


def test_a_crop_larger_than_the_frame_is_refused(sample):
    with pytest.raises(ValueError, match="crop size 512 px does not fit frames of 256x256"):
        EnhancerExamples(kind="sim", crop=CropConfig(size=512))(sample)


def test_several_crops_of_one_sample_share_its_alignment_and_differ_in_place(sample):
    examples = EnhancerExamples(kind="mim", crop=CropConfig(size=64, per_sample=3))
    crops = examples.many(sample)
    assert len(crops) == 3
    assert all(np.array_equal(crops[0][k], examples(sample)[k]) for k in crops[0])  # first = one
    assert not np.array_equal(crops[1]["target"], crops[2]["target"])


def test_per_sample_must_be_positive():
    with pytest.raises(ValueError, match="per_sample"):
        CropConfig(per_sample=0)


def test_a_memory_network_gets_the_memory_and_its_confidence_after_the_frames():
    from nightowl.training.synth.memory_view import MemoryViewConfig

    sample = make_sample(SampleConfig(), 3, 2)  # (vehicles cover most of sample 0)
    view = MemoryViewConfig(absent=0.0, stale=0.0, wrong=0.0, drift=0.0, frames=(300, 300))
    crop = CropConfig(size=CROP.size, plate_probability=0.0)  # (a plate's crop is all vehicle)
    plain = EnhancerExamples(kind="mim", crop=crop, reference_gain=25.0)(sample)
    example = EnhancerExamples(kind="mim", crop=crop, reference_gain=25.0, memory=view)(sample)
    assert example["inputs"].shape == (16, CROP.size, CROP.size)
    assert np.array_equal(example["inputs"][:12], plain["inputs"])
    memory = example["inputs"][12:15] / MEMORY_SCALE
    confidence = example["inputs"][15] / CONFIDENCE_SCALE
    static = confidence > 0
    assert static.any() and not confidence[example["mask"][0] > 0].any()
    # in the frames' units: on trusted pixels, the memory is near the frames' mean
    mean = plain["inputs"].reshape(4, 3, CROP.size, CROP.size).mean(axis=0)
    assert abs(float((memory - mean)[:, static].mean())) < 0.01
