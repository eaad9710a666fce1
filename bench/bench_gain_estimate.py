"""Calibrate and check ``nightowl.service.exposure.estimate_gain``: the darkening S of a dark
frame from its mean level alone.

Calibration, on generator scenes of the training seed: the reference level (a scene's mean level
before darkening) is the median of S * frame_level(dark frame T), and the shrink the
least-squares slope of log(S / 25) on log(reference / (25 * level)). The accuracy is then
measured on scenes of the validation seed (never the test set's seed) for the constants in
``exposure`` (estimate_gain), the plain ratio (shrink 1) and no estimate at all (always 25, the
middle of the trained range). Each scene is darkened with every S
(``make_sample(SampleConfig(noise=NoiseConfig(model, s_values=(S,))), seed, i)``), so the S
rows differ only in S.

Run: python bench/bench_gain_estimate.py [--count 200] [--noise eq6]
"""

from __future__ import annotations

import argparse

import numpy as np

from nightowl.service.exposure import (
    MIDDLE_GAIN,
    REFERENCE_LEVEL,
    SHRINK,
    TRIM_PERCENTILE,
    estimate_gain,
    frame_level,
)
from nightowl.training.config import DataConfig
from nightowl.training.degrade import S_VALUES, NoiseConfig
from nightowl.training.samples import SampleConfig, make_sample


def dark_frames(seed: int, count: int, noise: str) -> dict[float, list[np.ndarray]]:
    """S -> frame T of ``count`` generator scenes of data set ``seed``, darkened by S."""
    return {s: [make_sample(SampleConfig(noise=NoiseConfig(noise, s_values=(s,))), seed, i).low[-1]
                for i in range(count)] for s in S_VALUES}


def calibrate(frames: dict[float, list[np.ndarray]]) -> tuple[float, float]:
    """(reference level, shrink) fitted on ``frames``."""
    s = np.array([s for s, group in frames.items() for _ in group])
    level = np.array([frame_level(frame) for group in frames.values() for frame in group])
    reference = float(np.median(s * level))
    x, y = np.log(reference / (MIDDLE_GAIN * level)), np.log(s / MIDDLE_GAIN)
    return reference, float((x * y).sum() / (x * x).sum())


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
    reference, shrink = calibrate(dark_frames(data.train_seed, args.count, args.noise))
    print(f"calibration: seed {data.train_seed}, {args.count} scenes x {len(S_VALUES)} S, "
          f"{args.noise}, levels winsorised at the {TRIM_PERCENTILE:g}th percentile: reference "
          f"level {reference:.4f}, shrink {shrink:.3f} (exposure.py: {REFERENCE_LEVEL}, {SHRINK})")
    held_out = dark_frames(data.val_seed, args.count, args.noise)
    print(f"accuracy: seed {data.val_seed}, {args.count} scenes; relative error |est - S| / S")
    print(f"{'estimate':20} {'S':>3} {'median':>7} {'90th pct':>8} {'mean est':>8}")
    for s, frames in held_out.items():
        rows = {"estimate_gain": [estimate_gain(frame) for frame in frames],
                "plain ratio": [estimate_gain(frame, REFERENCE_LEVEL, 1.0) for frame in frames],
                "always 25": [MIDDLE_GAIN] * len(frames)}
        for name, values in rows.items():
            median, p90 = relative_errors(values, s)
            print(f"{name:20} {s:3g} {median:7.1%} {p90:8.1%} {np.mean(values):8.2f}", flush=True)


if __name__ == "__main__":
    main()
