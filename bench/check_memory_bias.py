"""Where the answer leant on a camera's memory still errs: its static error and the mean error
of each channel (a bias), for the network alone, the blend as served (``frames.memory_blend``,
calibrated against the network, whose bias it takes on), and the blend towards the memory
corrected instead by a model of the clip: the exact one for Gaussian noise of a known std
(Eq. 6's, what a server is not told), and one with the noise variance a + b * level fitted on
the frames' differences from the memory where it is bright enough not to clip (what a server
could estimate). Neither is served: they show what a noise model could give, and where it
fails.

One long test sequence (``nightowl eval --long``'s splits) goes through the server's pipeline
frame by frame with the memory on, the gain told; measured on the last ``--last`` frames, on
pixels static in the window, off the parked car, with memory older than 100 frames, as the
long evaluation measures them. The exact correction inverts E[clip(round(mu + n), 0, 255)]
for n ~ N(0, sigma) per channel, on the memory's mean.

Run: python bench/check_memory_bias.py [--split long] [--noise eq6] [--s 30] [--sigma 2]
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from nightowl.service.engines import load_engine
from nightowl.service.frames.background import BackgroundMemory
from nightowl.service.frames.exposure import Gain
from nightowl.service.frames.pipeline import Pipeline
from nightowl.training.evaluation.longrun import OLD
from nightowl.training.evaluation.longset import darken_long, long_scene


def noise_line(frames: np.ndarray, mean: np.ndarray, trusted: np.ndarray,
               lowest: float = 6.0) -> tuple[float, float]:
    """(a, b) of the per-frame noise variance a + b * level (8-bit levels squared), fitted on
    the frames' differences from the memory's mean where it is trusted and at least
    ``lowest`` levels bright (clipping at 0 there is negligible), all channels pooled."""
    residual = frames.astype(np.float32) - mean[None]
    level = np.broadcast_to(mean[None], residual.shape)[:, trusted]
    values = residual[:, trusted]
    use = level > lowest
    if use.sum() < 1000:
        return 4.0, 0.0
    bins = np.floor(level[use]).astype(int)
    counts = np.bincount(bins)
    sums = np.bincount(bins, weights=values[use] ** 2)
    seen = counts > 100
    centres = np.flatnonzero(seen) + 0.5
    slope, offset = np.polyfit(centres, sums[seen] / counts[seen], 1) if seen.sum() > 1 else (
        0.0, float(sums[seen].sum() / max(counts[seen].sum(), 1)))
    return max(float(offset), 0.1), max(float(slope), 0.0)


def clip_inverse(a: float, b: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(mean of the clipped, rounded frames, scene level) on a grid of scene levels 0-64, for
    Gaussian noise of variance a + b * level (8-bit levels): E[Y] = sum_k P(mu + n >= k - 0.5)."""
    levels = np.arange(0, 64, 1 / 64)
    steps = np.arange(1, 256) - 0.5
    sigma = np.sqrt(a + b * levels)[:, None]
    tail = np.vectorize(math.erfc)((steps[None, :] - levels[:, None]) / (sigma * math.sqrt(2)))
    return (0.5 * tail).sum(axis=1), levels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="long", choices=("long", "long-photo"))
    parser.add_argument("--noise", default="eq6", choices=("eq6", "extended", "sensor"))
    parser.add_argument("--s", type=float, default=30.0, help="S (default 30)")
    parser.add_argument("--sigma", type=float, default=2.0,
                        help="noise std of the exact correction, 8-bit levels (Eq. 6's: 2)")
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--last", type=int, default=50, help="frames measured (default 50)")
    args = parser.parse_args()
    sequence, *cameras = long_scene(args.split, 0, args.frames)
    low = darken_long(args.split, 0, sequence, tuple(cameras), args.noise, args.s)
    engine = load_engine("mim_l1_cr.onnx", "onnxruntime-cpu", threads=2)
    pipeline = Pipeline.for_engines({"multi": engine}, few_frames="repeat")
    observed, levels = clip_inverse(args.sigma ** 2)
    memory = BackgroundMemory()
    errors: dict[str, list[np.ndarray]] = {"network": [], "blend (served)": [],
                                           "blend, exact clip correction": [],
                                           "blend, estimated clip correction": []}
    where = []
    for t in range(len(low)):
        window = low[max(0, t - 3):t + 1]
        prepared = pipeline.remember(pipeline.prepare(window, Gain(args.s, "request"), None,
                                                      True), memory, low[t])
        output = engine.run(prepared.input[None])[0]
        served = pipeline.blend(output, prepared, memory.calibration)
        if t < len(low) - args.last:
            continue
        truth = sequence.clean[t].transpose(2, 0, 1).astype(np.float32)
        static = ~sequence.masks[max(0, t - 3):t + 1].any(axis=0)
        if sequence.parked_region is not None:
            static &= ~sequence.parked_region
        where.append(static & (memory.age > OLD))
        network = np.clip(output, 0, 1)
        exact = np.interp(memory.mean.transpose(2, 0, 1), observed, levels) * args.s / 255
        leant = network + memory.confidence * (np.clip(exact, 0, 1) - network)
        a, b = noise_line(low[max(0, t - 3):t + 1], memory.mean, memory.confidence > 0.5)
        seen, scene = clip_inverse(a, b)
        estimated = np.interp(memory.mean.transpose(2, 0, 1), seen, scene) * args.s / 255
        guessed = network + memory.confidence * (np.clip(estimated, 0, 1) - network)
        if t == len(low) - 1:
            print(f"noise variance fitted: {a:.2f} + {b:.3f} x level")
        for name, image in zip(errors, (network, np.clip(served, 0, 1), leant, guessed),
                               strict=True):
            errors[name].append(image * 255 - truth)
    steady = np.stack(where).all(axis=0)
    print(f"{args.split}, {args.noise}, S = {args.s:g}: frames {len(low) - args.last}-"
          f"{len(low) - 1}, {int(steady.sum())} static pixels with old memory")
    for name, error in errors.items():
        values = np.stack(error)[:, :, steady]  # (frames, 3, pixels)
        rms = float(np.sqrt(np.mean(values ** 2)))
        bias = values.mean(axis=(0, 2))
        print(f"  {name:30} PSNR {20 * math.log10(255 / rms):6.2f} dB  RMS {rms:5.2f}  "
              f"bias (levels, RGB) {bias[0]:+5.2f} {bias[1]:+5.2f} {bias[2]:+5.2f}")


if __name__ == "__main__":
    main()
