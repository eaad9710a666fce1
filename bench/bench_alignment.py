"""Accuracy and speed of the optical-flow alignment on dark generator frames, per candidate.

Run: python bench/bench_alignment.py [--count N] [--seed K] [--only NAME ...] [--timing N]
For each S in {20, 22, 25, 28, 30} the same N scenes (seed K) are darkened with that S (Eq. 6),
and every candidate configuration aligns their T = 4 dark frames onto frame T
(``align_to_last``). Printed per candidate, averaged over frame pairs t = 0..T-2:
- EPE, mean |flow - true flow| in px, on moving pixels of frame T (masks[T-1]) and on static
  ones (true flow 0), per S and overall, and on "still" pixels, static in both frame t and
  frame T (nothing to see there but the same background: any flow is invented motion);
- warp error, mean |warp(clean_t, flow) - clean_T| in 8-bit levels, on moving pixels (next to
  no alignment) and on still pixels (no alignment scores 0 there);
- time per flow (``estimate_flow``, both frames' pre-filter included) at 256x256 and 1280x720,
  and per T = 4 ``align_to_last`` at 1280x720, one OpenCV thread (pin the process to one core).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

from nightowl.service.alignment import AlignmentConfig, align_to_last, estimate_flow, warp
from nightowl.training.degrade import S_VALUES, NoiseConfig
from nightowl.training.samples import Sample, SampleConfig, make_sample
from nightowl.training.scenes import SceneConfig

# Full-size DIS with the preset's own settings, nothing before or after it: the dark frame's grey
# as it is (max_gain 1 keeps its levels).
PLAIN = dict(downscale=1, finest_scale=None, variational_iterations=None, blur_sigma=0.0,
             max_gain=1.0, chain=False, static_gate=False)
FULL = dict(downscale=1, finest_scale=None, variational_iterations=None)  # the preset at full size

CANDIDATES: dict[str, AlignmentConfig] = {
    "none (no alignment)": AlignmentConfig(method="none"),
    "plain DIS fast": AlignmentConfig(**PLAIN),
    "plain DIS medium": AlignmentConfig(**{**PLAIN, "preset": "medium"}),
    "fast + stretch": AlignmentConfig(**FULL, blur_sigma=0.0, chain=False, static_gate=False),
    "fast + stretch + blur 1.5": AlignmentConfig(**FULL, blur_sigma=1.5, chain=False,
                                                 static_gate=False),
    "fast + stretch + blur + chain": AlignmentConfig(**FULL, blur_sigma=1.5, static_gate=False),
    "... + gate (full size)": AlignmentConfig(**FULL, blur_sigma=1.5),
    "default without gate": AlignmentConfig(static_gate=False),
    "default": AlignmentConfig(),
    "default, no chain": AlignmentConfig(chain=False),
    "default, ultrafast": AlignmentConfig(preset="ultrafast", variational_iterations=None),
    "default, fast refinement 5": AlignmentConfig(variational_iterations=None),
    "default, refinement 0": AlignmentConfig(variational_iterations=0),
    "default, medium": AlignmentConfig(preset="medium", variational_iterations=None),
    "default, patch 12": AlignmentConfig(patch_size=12),
    "default, blur 0.5": AlignmentConfig(blur_sigma=0.5),
    "default, blur 1.0": AlignmentConfig(blur_sigma=1.0),
    "gate per pair": AlignmentConfig(gate_joint=False),
    "gate without seeds (1.0)": AlignmentConfig(gate_threshold=1.0, gate_seed=0.0),
    "gate looser (0.3)": AlignmentConfig(gate_threshold=0.3),
    "gate stricter (0.5, close 8)": AlignmentConfig(gate_threshold=0.5, gate_close=8),
}


@dataclass
class Mean:
    """A pixel-weighted mean, fed one frame pair at a time."""

    total: float = 0.0
    count: int = 0

    def add(self, values: np.ndarray) -> None:
        self.total += float(values.sum())
        self.count += values.size

    @property
    def value(self) -> float:
        return self.total / self.count if self.count else float("nan")


Tally = dict[tuple[str, float], Mean]  # (metric, S or ALL) -> mean over all pairs' pixels
ALL = 0.0


def score(sample: Sample, flows: np.ndarray, tally: Tally) -> None:
    """Add one sequence's frame pairs to ``tally``."""
    seq, s = sample.sequence, sample.noise.s
    last = seq.clean.shape[0] - 1
    moving = seq.masks[last]
    clean_last = seq.clean[last].astype(np.int16)
    for t in range(last):
        epe = np.linalg.norm(flows[t] - seq.flows[t], axis=-1)
        aligned = np.abs(warp(seq.clean[t], flows[t]) - clean_last).mean(axis=-1)
        still = ~moving & ~seq.masks[t]
        for metric, values in (("epe moving", epe[moving]), ("epe static", epe[~moving]),
                               ("epe still", epe[still]), ("warp moving", aligned[moving]),
                               ("warp still", aligned[still])):
            for key in ((metric, s), (metric, ALL)):
                tally.setdefault(key, Mean()).add(values)


def time_flow(samples: list[Sample], config: AlignmentConfig, repeats: int = 3) -> float:
    """Median ms of one estimate_flow(frame T, frame t) over the samples' pairs."""
    times = []
    for sample in samples:
        low = sample.low
        estimate_flow(low[-1], low[0], config)  # warm: allocation, grid cache
        for t in range(low.shape[0] - 1):
            for _ in range(repeats):
                start = time.perf_counter()
                estimate_flow(low[-1], low[t], config)
                times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def time_align(samples: list[Sample], config: AlignmentConfig) -> float:
    """Median ms of one align_to_last over the samples."""
    times = []
    for sample in samples:
        start = time.perf_counter()
        align_to_last(sample.low, config)
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="scenes per S (256x256)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timing", type=int, default=3, help="sequences timed per size")
    parser.add_argument("--only", nargs="*", choices=sorted(CANDIDATES), metavar="NAME",
                        help=f"candidates to run (default all): {', '.join(CANDIDATES)}")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    names = args.only or list(CANDIDATES)
    tallies: dict[str, Tally] = {name: {} for name in names}
    for s in S_VALUES:
        config = SampleConfig(noise=NoiseConfig(s_values=(s,)))
        for index in range(args.count):
            sample = make_sample(config, args.seed, index)
            for name in names:
                score(sample, align_to_last(sample.low, CANDIDATES[name])[1], tallies[name])

    small = [make_sample(SampleConfig(), args.seed + 1, i) for i in range(args.timing)]
    large_config = SampleConfig(scene=SceneConfig(width=1280, height=720))
    large = [make_sample(large_config, args.seed + 1, i) for i in range(args.timing)]
    print(f"{args.count} scenes x {len(S_VALUES)} S at 256x256, seed {args.seed}, T=4, Eq. 6; "
          f"timing on {args.timing} sequences per size, 1 OpenCV thread")
    s_heads = " | ".join(f"S={s:g}" for s in S_VALUES)
    print(f"| candidate | {s_heads} | EPE all S | EPE still | warp moving | warp still "
          f"| ms/flow 256 | ms/flow 720p | ms/align 720p |")
    print("|" + " --- |" * (len(S_VALUES) + 8))
    for name in names:
        tally, config = tallies[name], CANDIDATES[name]
        per_s = " | ".join(f"{tally['epe moving', s].value:.2f} / "
                           f"{tally['epe static', s].value:.2f}" for s in (*S_VALUES, ALL))
        print(f"| {name} | {per_s} | {tally['epe still', ALL].value:.2f} | "
              f"{tally['warp moving', ALL].value:.2f} | {tally['warp still', ALL].value:.2f} | "
              f"{time_flow(small, config):.1f} | "
              f"{time_flow(large, config, repeats=1):.1f} | {time_align(large, config):.1f} |",
              flush=True)
    print("EPE in px, 'moving / static' on frame T's masks; 'still': pixels static in frames t and "
          "T. warp: mean |warp(clean_t, flow) - clean_T| in 8-bit levels. Means over all pixels "
          "of all pairs.")


if __name__ == "__main__":
    main()
