"""Released ONNX files rebuilt as torch modules compute what the files compute."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from nightowl.service.frames.layout import CONFIDENCE_SCALE, MEMORY_SCALE
from nightowl.training.fit.tasks import load_recogniser
from nightowl.training.nets.enhancers import EnhancerConfig, MultiImageModel, build_enhancer
from nightowl.training.nets.onnx_weights import (
    enhancer_from_onnx,
    load_onnx_weights,
    recogniser_from_onnx,
    widened_state,
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


def test_a_memory_network_started_from_the_release_leans_half_way_on_a_trusted_memory():
    config = EnhancerConfig(**{**ENTRIES["mim_l1_cr.onnx"]["model_config"], "memory": True})
    model = build_enhancer(config)
    with pytest.raises(ValueError, match=r"stationary\.down\.0\.0\.weight"):
        load_onnx_weights(model, MODELS / "mim_l1_cr.onnx")  # wider first convolutions
    load_onnx_weights(model, MODELS / "mim_l1_cr.onnx", widen=True)
    model.eval()
    inputs, expected = _reference("mim_l1_cr.onnx")
    rng = np.random.default_rng(0)
    planes = rng.random((inputs.shape[0], 4, *inputs.shape[2:]), dtype=np.float32) * 0.2
    planes[:, 3] = 0  # nothing trusted: the release, whatever the memory holds
    with torch.no_grad():
        got = model(torch.from_numpy(np.concatenate([inputs, planes], axis=1))).numpy()
    assert np.abs(got - expected).max() < 1e-5
    planes[:, 3] = CONFIDENCE_SCALE  # all trusted: half way from the release to the memory
    with torch.no_grad():
        parts = model(torch.from_numpy(np.concatenate([inputs, planes], axis=1)), parts=True)
        plain = enhancer_from_onnx(MODELS / "mim_l1_cr.onnx", EnhancerConfig(
            **ENTRIES["mim_l1_cr.onnx"]["model_config"]))(torch.from_numpy(inputs), parts=True)
    memory = torch.from_numpy(planes[:, :3]) * (25.0 / MEMORY_SCALE)
    assert torch.allclose(parts.stationary, (plain.stationary + memory) / 2, atol=1e-5)
    assert torch.allclose(parts.moving, plain.moving) and torch.allclose(parts.mask, plain.mask)


def test_a_memory_checkpoint_from_before_new_trust_inputs_starts_the_network_as_it_was():
    # a run trained when the trust network took fewer inputs: its weights on the leading
    # channels, zeros on the new ones, and the same output as before
    torch.manual_seed(0)
    config = EnhancerConfig(width=4, depth=2, memory=True, reference_gain=25.0)
    model = MultiImageModel(config)
    torch.nn.init.normal_(model.trust.head.weight, std=0.5)
    old = {k: v.clone() for k, v in model.state_dict().items()}
    old["trust.body.0.weight"] = old["trust.body.0.weight"][:, :7].clone()  # no spread input
    started = MultiImageModel(config)
    started.load_state_dict(widened_state(old, started))
    weight = started.trust.body[0].weight
    assert not weight[:, 7:].any()
    assert torch.equal(weight[:, :7], old["trust.body.0.weight"])
    inputs = torch.rand(1, 16, 12, 12) * 0.05
    with torch.no_grad():
        model.trust.body[0].weight[:, 7:] = 0
        assert torch.allclose(started.eval()(inputs), model.eval()(inputs))
