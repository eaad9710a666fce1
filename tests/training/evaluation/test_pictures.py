"""The contact sheets: a row per sequence, a column per method, the plate enlarged when the
sequence has one, and the photo sheet at the frames' own size."""

from __future__ import annotations

import numpy as np

from nightowl.training.evaluation.pictures import PHOTO_CROP, PHOTO_TILE, contact_sheet
from nightowl.training.evaluation.testset import make_scene
from nightowl.training.synth.scenes import SceneConfig

METHODS = ["ground truth", "gain", "MIM L1+L_CR (estimated gain)"]


def item(index: int, plate: bool) -> dict:
    scene = make_scene(index, SceneConfig())
    frame = scene.sequence.clean[-1]
    return {"split": "photo", "index": index, "noise": "sensor", "S": 20.0,
            "plate": scene.plates[0] if plate else None,
            "images": {m: frame for m in METHODS}}


def test_sheet_rows_with_and_without_a_plate():
    sheet = contact_sheet([item(0, True), item(1, False)], METHODS, PHOTO_TILE, PHOTO_CROP)
    tile = PHOTO_TILE + 4  # each tile has a 2-px border
    header, title = 42, 22
    assert sheet.shape == (header + 2 * title + 2 * tile + PHOTO_CROP, len(METHODS) * tile, 3)
    assert sheet.dtype == np.uint8
    truth = sheet[header + title + 2:header + title + 2 + PHOTO_TILE, -tile + 2:-2]
    assert np.array_equal(truth[-10:], make_scene(0).sequence.clean[-1][-10:])  # full size
