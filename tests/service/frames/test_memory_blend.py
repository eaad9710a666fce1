"""The answer leant on the background memory: the calibration learns the network's offset per
memory level, nothing changes where the memory or the calibration knows nothing, and on a
long static street the served network's output gets closer to the truth and steadier."""

from __future__ import annotations

import numpy as np

from nightowl.service.frames.background import BackgroundMemory
from nightowl.service.frames.exposure import Gain
from nightowl.service.frames.memory_blend import FINE, LevelCalibration, Recall, blend
from nightowl.service.frames.pipeline import Pipeline
from nightowl.training.synth.degrade import eq6
from nightowl.training.synth.long_scenes import LongConfig, render_long
from nightowl.training.synth.scenes import SceneConfig

S = 25.0


def test_the_calibration_learns_the_offset_of_each_level_and_knows_only_those_it_saw():
    rng = np.random.default_rng(0)
    levels = rng.uniform(2, 8, (3, 64, 64)).astype(np.float32)
    bias = (0.6 - 0.05 * levels).astype(np.float32)  # e.g. the clip of the darkest levels
    recall = Recall.of(levels.transpose(1, 2, 0), 1.0, np.full((64, 64), 0.9, np.float32), S)
    calibration = LevelCalibration()
    for _ in range(5):  # the network's output: the memory's level plus its offset, brightened
        noisy = bias + rng.normal(0, 0.3, bias.shape).astype(np.float32)
        blend((levels + noisy) * np.float32(S / 255), recall, calibration)
    tables = calibration.targets(per_level=1.0)  # output units: dark levels here
    at = [int(level * FINE) for level in (3.0, 7.0, 40.0)]
    np.testing.assert_allclose(tables[:, at[:2]] - _levels(at[:2]), [[0.45, 0.25]] * 3,
                               atol=0.06)
    assert np.isnan(tables[:, at[2]]).all()  # level 40 was never seen


def _levels(index: list[int]) -> np.ndarray:
    return (np.asarray(index) + 0.5) / FINE


def test_nothing_changes_where_the_memory_or_its_calibration_knows_nothing():
    output = np.random.default_rng(1).random((3, 32, 32)).astype(np.float32)
    mean = np.full((32, 32, 3), 4.0, np.float32)
    trusted = Recall.of(mean, 1.0, np.full((32, 32), 0.9, np.float32), S)
    calibration = LevelCalibration()
    assert blend(output, trusted, calibration) is output  # nothing learnt before this frame
    untrusted = Recall.of(mean, 1.0, np.zeros((32, 32), np.float32), S)
    for _ in range(3):
        blend(output, trusted, calibration)
    assert blend(output, untrusted, calibration) is output
    leant = blend(output, trusted, calibration)
    assert not np.array_equal(leant, output)
    unseen = Recall.of(mean * 10, 1.0, np.full((32, 32), 0.9, np.float32), S)  # level 40
    np.testing.assert_array_equal(blend(output, unseen, calibration), output)


def test_a_long_static_street_is_answered_closer_to_the_truth_and_steadier(engines):
    scene = SceneConfig(width=160, height=128)
    street = render_long(LongConfig(frames=150, scene=scene, gap=(10**6, 10**6), park=None,
                                    light_drift=0.0), np.random.default_rng([31, 0]))
    low = eq6(street.clean, S, 2.0, np.random.default_rng(0))
    engine = engines["multi"]
    pipeline = Pipeline.for_engines({"multi": engine}, few_frames="repeat")
    memory = BackgroundMemory()
    plain, leant = [], []
    for t in range(len(low)):
        window = low[max(0, t - 3):t + 1]
        prepared = pipeline.remember(pipeline.prepare(window, Gain(S, "request"), None, True),
                                     memory, low[t])
        output = engine.run(prepared.input[None])[0]
        if t < 4:
            assert prepared.recall is None  # no more than T frames: nothing to lean on
        if t >= 120:
            plain.append(np.clip(output, 0, 1))
            leant.append(np.clip(pipeline.blend(output, prepared, memory.calibration), 0, 1))
        else:
            pipeline.blend(output, prepared, memory.calibration)
    truth = street.clean[120:].transpose(0, 3, 1, 2).astype(np.float32) / 255

    def rms(images):
        return float(np.sqrt(np.mean((np.stack(images) - truth) ** 2)) * 255)

    assert rms(leant) < 0.85 * rms(plain)  # measured 5.70 against 7.37 levels
    steadiness = [float(np.std(np.stack(images) - truth, axis=0).mean() * 255)
                  for images in (plain, leant)]
    assert steadiness[1] < 0.65 * steadiness[0]  # measured 1.85 against 3.40 levels
