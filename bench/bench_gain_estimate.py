"""Calibrate and check ``nightowl.service.frames.exposure.estimate_gain``: the darkening S of a dark
frame from its highlights alone.

Calibration, on generator scenes of the training seed: the reference is the median of
S * highlight_level(dark frame T). The accuracy is then measured on scenes of the validation
seed (never the test set's seed) for the constant in ``exposure`` (estimate_gain), the same with
the mean level instead of the highlights (reference: the median of S * mean level), and no
estimate at all (always 25, the middle of the trained range). Each scene is darkened with every S
(``make_sample(SampleConfig(noise=NoiseConfig(model, s_values=(S,))), seed, i)``), so the S
rows differ only in S.

Run: python bench/bench_gain_estimate.py [--count 200] [--noise eq6]
"""

from __future__ import annotations

import argparse

import numpy as np

from nightowl.service.frames.exposure import (
    HIGHLIGHT_PERCENTILE,
    MIDDLE_GAIN,
    REFERENCE_HIGHLIGHT,
    S_VALUES,
    TRAINED_GAINS,
    estimate_gain,
    highlight_level,
)
from nightowl.training.fit.config import DataConfig
from nightowl.training.synth.degrade import NoiseConfig
from nightowl.training.synth.samples import SampleConfig, make_sample


def dark_frames(seed: int, count: int, noise: str) -> dict[float, list[np.ndarray]]:
    """S -> frame T of ``count`` generator scenes of data set ``seed``, darkened by S."""
    return {s: [make_sample(SampleConfig(noise=NoiseConfig(noise, s_values=(s,))), seed, i).low[-1]
                for i in range(count)] for s in S_VALUES}


def calibrate(frames: dict[float, list[np.ndarray]], level=highlight_level) -> float:
    """The reference fitted on ``frames``: the median of S * level(frame)."""
    return float(np.median([s * level(frame) for s, group in frames.items() for frame in group]))


def mean_level(frame: np.ndarray) -> float:
    return float(frame.mean()) / np.iinfo(frame.dtype).max


def relative_errors(estimates: list[float], s: float) -> tuple[float, float]:
    """(median, 90th percentile) of |estimate - S| / S."""
    errors = np.abs(np.asarray(estimates) - s) / s
    return float(np.median(errors)), float(np.percentile(errors, 90))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="scenes per seed (default 200)")
    parser.add_argument("--noise", default="eq6", choices=("eq6", "extended"))
    args = parser.parse_args()
    data = DataConfig()
    training = dark_frames(data.train_seed, args.count, args.noise)
    reference, reference_mean = calibrate(training), calibrate(training, mean_level)
    print(f"calibration: seed {data.train_seed}, {args.count} scenes x {len(S_VALUES)} S, "
          f"{args.noise}: median S x highlight level ({HIGHLIGHT_PERCENTILE:g}th percentile of "
          f"the brightest channel) {reference:.3f} (exposure.py: {REFERENCE_HIGHLIGHT}); median "
          f"S x mean level {reference_mean:.4f}")
    held_out = dark_frames(data.val_seed, args.count, args.noise)
    print(f"accuracy: seed {data.val_seed}, {args.count} scenes; relative error |est - S| / S")
    print(f"{'estimate':20} {'S':>3} {'median':>7} {'90th pct':>8} {'mean est':>8}")
    low, high = TRAINED_GAINS
    for s, frames in held_out.items():
        rows = {"estimate_gain": [estimate_gain(frame) for frame in frames],
                "mean level": [float(np.clip(reference_mean / max(mean_level(frame), 1e-6),
                                             low, high)) for frame in frames],
                "always 25": [MIDDLE_GAIN] * len(frames)}
        for name, values in rows.items():
            median, p90 = relative_errors(values, s)
            print(f"{name:20} {s:3g} {median:7.1%} {p90:8.1%} {np.mean(values):8.2f}", flush=True)


if __name__ == "__main__":
    main()
