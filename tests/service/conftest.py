"""Fixtures of the service tests: the served MIM in fp32, and a copy of the model repository to
break on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nightowl.service.engines import Engine, load_engine
from tests.service.shipped import INT8, MODELS


@pytest.fixture(scope="module")
def mim() -> Engine:
    return load_engine("mim_l1_cr.onnx", "onnxruntime-cpu", threads=2, cpu_precision="fp32")


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A copy of the model repository holding sim_l1.onnx and its int8 copy only, to break on
    purpose."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(MODELS / "sim_l1.onnx", folder)
    shutil.copy(MODELS / INT8["sim_l1.onnx"]["file"], folder)
    shutil.copy(MODELS / "manifest.json", folder)
    return folder
