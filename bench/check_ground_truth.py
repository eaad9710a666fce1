"""How exact the generator's ground truth is, over many sequences.

Run: python bench/check_ground_truth.py [--count N] [--seed K]
Prints, for the true flow, the error after warping each frame onto frame T (pixels visible in
both frames, 8-bit levels) and, for the masks, how many unmasked pixels differ from the
background (must be 0).
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from nightowl.training.synth.samples import SampleConfig, make_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    vehicle_means, background_max, unmasked_changed = [], 0, 0
    for index in range(args.count):
        seq = make_sample(SampleConfig(), args.seed, index).sequence
        last = seq.clean.shape[0] - 1
        height, width = seq.clean.shape[1:3]
        gx, gy = np.meshgrid(np.arange(width, dtype=np.float32),
                             np.arange(height, dtype=np.float32))
        for t in range(last):
            mx, my = gx + seq.flows[t][..., 0], gy + seq.flows[t][..., 1]
            warped = cv2.remap(seq.clean[t], mx, my, cv2.INTER_LINEAR)
            inside = (mx >= 0) & (mx <= width - 1) & (my >= 0) & (my <= height - 1)
            sx = np.clip(np.rint(mx).astype(int), 0, width - 1)
            sy = np.clip(np.rint(my).astype(int), 0, height - 1)
            same = inside & (seq.owners[t][sy, sx] == seq.owners[last])
            solid = seq.opaque[t][sy, sx] & seq.opaque[last]
            same &= solid | (seq.owners[last] < 0)
            same = cv2.erode(same.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
            error = np.abs(warped.astype(np.int16) - seq.clean[last].astype(np.int16)).mean(-1)
            on_vehicle = same & (seq.owners[last] >= 0)
            if on_vehicle.any():
                vehicle_means.append(float(error[on_vehicle].mean()))
            on_background = same & (seq.owners[last] < 0)
            background_max = max(background_max, float(error[on_background].max(initial=0)))
        for t in range(last + 1):
            still = ~seq.masks[t]
            unmasked_changed += int(np.any(seq.clean[t][still] != seq.background[still], -1).sum())
    means = np.asarray(vehicle_means)
    print(f"{args.count} sequences, seed {args.seed}, {len(means)} frame pairs with a vehicle")
    print(f"warp error on vehicle pixels (levels): mean {means.mean():.2f}, "
          f"median {np.median(means):.2f}, worst pair {means.max():.2f}")
    print(f"warp error on background pixels: max {background_max:.0f}")
    print(f"unmasked pixels that differ from the background: {unmasked_changed}")


if __name__ == "__main__":
    main()
