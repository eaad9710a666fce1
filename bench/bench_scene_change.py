"""How far apart are consecutive frames of one scene, and frames of two different scenes, by
the per-camera buffer's scene-change measure? (It restarts a buffer above ``scene_change``.)

Run: python bench/bench_scene_change.py [--count 40] [--seed 7] [--sizes 160x120 320x240 ...]
For each size: consecutive frame pairs (t, t+1) of generator sequences, and frame T of one
sequence against frame 1 of the next (a camera cut to another road); min / max / mean of
``scene_difference`` on the buffer's thumbnails.
"""

from __future__ import annotations

import argparse
from itertools import pairwise

import numpy as np

from nightowl.service.serving.buffers import _thumbnail, scene_difference
from nightowl.training.synth.samples import SampleConfig, make_sample
from nightowl.training.synth.scenes import SceneConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sizes", nargs="+", default=["64x48", "160x120", "320x240", "640x360"])
    args = parser.parse_args()
    print("| size | same scene, consecutive: mean / max | different scenes: min / mean |")
    print("| --- | --- | --- |")
    for size in args.sizes:
        width, height = map(int, size.split("x"))
        config = SampleConfig(scene=SceneConfig(width=width, height=height))
        samples = [make_sample(config, args.seed, i).low for i in range(args.count)]
        same, other = [], []
        for i, frames in enumerate(samples):
            thumbs = [_thumbnail(f) for f in frames]
            same += [scene_difference(a, b) for a, b in pairwise(thumbs)]
            other.append(scene_difference(thumbs[-1], _thumbnail(samples[i - 1][0])))
        print(f"| {size} | {np.mean(same):.3f} / {max(same):.3f} | {min(other):.3f} / "
              f"{np.mean(other):.3f} |")


if __name__ == "__main__":
    main()
