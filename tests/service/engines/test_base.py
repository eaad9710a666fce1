"""The engine interface: batches of the wrong shape or type are refused saying what is allowed."""

from __future__ import annotations

import numpy as np
import pytest

from nightowl.service.engines import (
    BatchError,
)


@pytest.mark.parametrize(("batch", "match"), [
    (np.zeros((1, 3, 8, 8), np.float32), r"\(B, 12, H, W\)"),
    (np.zeros((1, 12, 8, 8), np.float64), "float32"),
    (np.zeros((12, 8, 8), np.float32), r"got \(12, 8, 8\)"),
    (np.zeros((0, 12, 8, 8), np.float32), "B, H, W >= 1"),
    ([[0.0]], "numpy array"),
])
def test_wrong_batches_are_refused_saying_what_is_allowed(mim, batch, match):
    with pytest.raises(BatchError, match=match):
        mim.run(batch)
