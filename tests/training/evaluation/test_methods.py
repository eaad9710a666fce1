"""The evaluation's networks: told the true S, as the server is told a gain, or the server's
estimate of it, and run in the precision asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nightowl.service.frames.exposure import estimate_window_gain
from nightowl.service.frames.layout import input_scale, network_input
from nightowl.training.evaluation.methods import Condition, Network, estimated
from nightowl.training.evaluation.testset import darken, make_scene
from nightowl.training.synth.scenes import SceneConfig
from tests.serving import normalised_models

ROOT = Path(__file__).resolve().parents[3]
MODEL = "sim_l1_cr.onnx"  # one frame: no alignment, a quick test


def condition(s: float) -> Condition:
    scene = make_scene(0, SceneConfig(width=64, height=48))
    return Condition(low=darken(scene, "eq6", s), s=s)


def test_network_with_reference_gain_gets_its_input_scaled_by_s(tmp_path):
    network = Network(normalised_models(tmp_path, (MODEL,), 25.0) / MODEL)
    told = condition(20.0)
    out, _ = network(told)
    batch = network_input(told.low[-1:], input_scale(np.uint8, 20.0, 25.0))[None]
    expected = np.clip(network.engine.run(batch)[0].transpose(1, 2, 0), 0, 1)
    assert np.array_equal(out, expected)
    plain = np.clip(network.engine.run(network_input(told.low[-1:])[None])[0], 0, 1)
    assert not np.array_equal(out, plain.transpose(1, 2, 0))


def test_network_without_reference_gain_ignores_s(tmp_path):
    network = Network(normalised_models(tmp_path, (MODEL,), None) / MODEL)
    frames = condition(20.0)
    out, _ = network(frames)
    out_other, _ = network(Condition(low=frames.low, s=30.0))
    assert np.array_equal(out, out_other)


@pytest.mark.parametrize(("precision", "file"), [("int8", "mim_l1_cr.int8.onnx"),
                                                  ("fp32", "mim_l1_cr.onnx")])
def test_networks_run_in_the_precision_asked(precision, file):
    network = Network(ROOT / "models" / "mim_l1_cr.onnx", precision=precision)
    assert network.engine.name == file and network.engine.describe()["precision"] == precision


def test_the_estimated_condition_is_told_the_servers_estimate_and_keeps_the_alignment():
    told = condition(25.0)
    guess = estimated(told)
    assert guess.s == estimate_window_gain(told.low) and guess.low is told.low
    assert guess.aligned is told.aligned is not None and guess.align_ms == told.align_ms
    assert guess.gain_ms > 0 and told.gain_ms == 0
