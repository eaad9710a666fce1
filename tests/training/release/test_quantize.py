"""int8 quantisation options: checked on entry, and described as the manifest records them."""

from __future__ import annotations

import pytest

from nightowl.training.release.quantize import Int8Options


def test_int8_options_are_checked():
    with pytest.raises(ValueError, match="calibration must be one of minmax"):
        Int8Options(calibration="kl")
    with pytest.raises(ValueError, match="format must be one of qdq, qoperator"):
        Int8Options(format="int8")
    with pytest.raises(ValueError, match=r"percentile must be in \(50, 100\]"):
        Int8Options(percentile=50)


def test_int8_options_record_names_format_weights_activations_and_calibration():
    assert Int8Options().record() == {"format": "QDQ", "weights": "int8, per channel",
                                      "activations": "uint8, per tensor",
                                      "calibration": "percentile 99.99"}
    assert Int8Options("qoperator", "minmax", per_channel=False).record() == {
        "format": "QOperator", "weights": "int8, per tensor",
        "activations": "uint8, per tensor", "calibration": "minmax"}
