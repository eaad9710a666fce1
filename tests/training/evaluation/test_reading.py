"""Reading a plate string from recogniser probabilities, without torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from nightowl.training.evaluation.reading import Row, plate_rows, read_row
from nightowl.training.nets.recogniser_output import CHARSET, STRIDE
from nightowl.training.synth.scenes import CharLabel, PlateLabel


def probabilities_for(columns: str, height: int = 6) -> np.ndarray:
    """(1 + K, height, len) one-hot probabilities, one column per character ("." background)."""
    probs = np.zeros((1 + len(CHARSET), height, len(columns)), np.float32)
    for x, c in enumerate(columns):
        probs[0 if c == "." else 1 + CHARSET.index(c), :, x] = 1
    return probs


def test_read_row_groups_columns_into_characters():
    row = Row((0, 8, 13 * STRIDE, 16))
    assert read_row(probabilities_for(".77.99.8..44."), row) == "7984"
    assert read_row(probabilities_for(".0044.11.11.."), row) == "0411"  # runs, separated
    assert read_row(probabilities_for("............."), row) == ""


def test_read_row_reads_only_along_the_row():
    probs = probabilities_for("..12..", height=10)
    probs[:, 6:] = 0
    probs[0, 6:] = 1  # background below the row
    assert read_row(probs, Row((0, 0, 6 * STRIDE, 16))) == "12"
    assert read_row(probs, Row((0, 28, 6 * STRIDE, 40))) == ""


def test_the_readers_import_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from nightowl.training.evaluation import ocr, reading\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_plate_rows_split_two_row_plates_top_to_bottom():
    chars = [CharLabel("K", (10, 10, 14, 16), True), CharLabel("A", (15, 10, 19, 16), True),
             CharLabel("1", (8, 20, 14, 30), True), CharLabel("2", (15, 20, 21, 30), True)]
    plate = PlateLabel(text="KA / 12", labels="KA12", vehicle=0, font="f", style="s",
                       chars=tuple(chars))
    rows = plate_rows(plate)
    assert [r.box for r in rows] == [(10, 10, 19, 16), (8, 20, 21, 30)]
