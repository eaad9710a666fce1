"""Released ONNX files rebuilt as torch modules compute what the files compute."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nightowl.training.fit.tasks import load_recogniser
from nightowl.training.nets.enhancers import EnhancerConfig
from nightowl.training.nets.onnx_weights import (
    enhancer_from_onnx,
    load_onnx_weights,
    recogniser_from_onnx,
)

MODELS = Path(__file__).resolve().parents[3] / "models"
ENTRIES = {e["file"]: e for e in json.loads((MODELS / "manifest.json").read_text())["models"]}


def _reference(file: str) -> tuple[np.ndarray, np.ndarray]:
    reference = np.load(MODELS / ENTRIES[file]["reference"])
    return reference["inputs"], reference["outputs"]


def test_recogniser_with_folded_batchnorm_matches_the_file():
    inputs, expected = _reference("recogniser.onnx")
    model = recogniser_from_onnx(MODELS / "recogniser.onnx")
    with torch.no_grad():
        got = model.probabilities(torch.from_numpy(inputs)).numpy()
    assert np.abs(got - expected).max() < 1e-5


def test_load_recogniser_accepts_the_release_and_freezes_it():
    model = load_recogniser(MODELS / "recogniser.onnx", torch.device("cpu"))
    assert not model.training
    assert not any(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("file", [f for f, e in ENTRIES.items()
                                  if e["task"] == "enhancer" and "precision" not in e])
def test_enhancers_match_the_file(file):
    inputs, expected = _reference(file)
    model = enhancer_from_onnx(MODELS / file, EnhancerConfig(**ENTRIES[file]["model_config"]))
    with torch.no_grad():
        got = model.eval()(torch.from_numpy(inputs)).numpy()
    assert np.abs(got - expected).max() < 1e-5


def test_wrong_architecture_is_refused_naming_the_parameter():
    model = nn.Sequential(nn.Conv2d(3, 5, 3))
    with pytest.raises(ValueError, match=r"does not fit Sequential: 0\.weight"):
        load_onnx_weights(model, MODELS / "sim_l1.onnx")
