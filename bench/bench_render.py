"""Rendering rate of the synthetic sequence generator on one CPU core.

Run: python bench/bench_render.py [--count N] [--size WxH] [--noise eq6|extended]
Prints sequences per second for rendering alone and for rendering plus degradation.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2

from nightowl.training.synth.degrade import NoiseConfig, degrade, draw_noise
from nightowl.training.synth.samples import sample_rng
from nightowl.training.synth.scenes import SceneConfig, render_sequence


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--size", default="256x256")
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--noise", choices=("eq6", "extended"), default="eq6")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one core, as the target is stated
    width, height = (int(v) for v in args.size.lower().split("x"))
    scene = SceneConfig(width=width, height=height, frames=args.frames)
    noise = NoiseConfig(model=args.noise)
    for i in range(5):  # warm caches (glyph atlas)
        render_sequence(scene, sample_rng(99, i))

    render_s = degrade_s = 0.0
    for i in range(args.count):
        rng = sample_rng(0, i)
        params = draw_noise(noise, rng)
        t0 = time.perf_counter()
        seq = render_sequence(scene, rng, exposure=params.exposure)
        t1 = time.perf_counter()
        degrade(seq.blurred if seq.blurred is not None else seq.clean, params, rng)
        t2 = time.perf_counter()
        render_s += t1 - t0
        degrade_s += t2 - t1
    print(f"size {width}x{height}, T={args.frames}, noise {args.noise}, {args.count} sequences, "
          f"1 thread")
    print(f"render only:      {args.count / render_s:7.1f} sequences/s")
    print(f"render + degrade: {args.count / (render_s + degrade_s):7.1f} sequences/s")


if __name__ == "__main__":
    main()
