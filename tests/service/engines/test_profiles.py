"""TensorRT shape profiles and the key of a cached engine."""

from __future__ import annotations

import pytest

from nightowl.service.engines import (
    ShapeProfile,
)
from nightowl.service.engines.profiles import cache_key


def test_shape_profile_is_checked():
    with pytest.raises(ValueError, match="min <= opt <= max"):
        ShapeProfile(min=(1, 64, 64), opt=(1, 32, 32), max=(2, 128, 128))
    with pytest.raises(ValueError, match="positive"):
        ShapeProfile(min=(0, 64, 64))
    profile = ShapeProfile()
    assert profile.ort_option("frames", 12, "opt") == "frames:1x12x720x1280"
    assert profile.contains(8, 1080, 1920) and not profile.contains(9, 720, 1280)


def test_cache_key_changes_with_model_gpu_versions_and_profile():
    base = dict(model_sha256="a" * 64, gpu="NVIDIA H100 80GB HBM3", tensorrt="10.3.0",
                runtime="ort1.20.1", profile=ShapeProfile())
    key = cache_key(**base)
    assert "/" not in key and " " not in key
    for change in (dict(model_sha256="b" * 64), dict(gpu="NVIDIA L4"),
                   dict(tensorrt="10.4.0"), dict(runtime="ort1.21.0"),
                   dict(profile=ShapeProfile(max=(4, 1080, 1920)))):
        assert cache_key(**{**base, **change}) != key
