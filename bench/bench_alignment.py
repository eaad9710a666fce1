"""Accuracy and speed of the optical-flow alignment on dark generator frames, per candidate.

Run: python bench/bench_alignment.py [--count N] [--seed K] [--only NAME ...] [--timing N]
                                     [--onnx-warp] [--accuracy N]
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
With --onnx-warp, the warp as an ONNX graph (GridSample, ``training/release/warp_graph.py``: the
part of the alignment that can run inside a GPU engine, in front of the enhancer) against
cv2.remap on the same flows: how far its aligned frames are from cv2.remap's, its warp error, and
its time per 3 RGB warps at 1280x720 on ONNX Runtime CPU (one thread).
With --accuracy N, the share of plate characters the shipped recogniser reads correctly on the
shipped MIM's output (ONNX Runtime), for N scenes per S aligned by each selected candidate (and
by the default flows with the ONNX warp when --onnx-warp is given).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np

from nightowl.service.frames.alignment import AlignmentConfig, align_to_last, estimate_flow, warp
from nightowl.service.frames.exposure import S_VALUES
from nightowl.service.frames.layout import input_scale, network_input
from nightowl.training.synth.degrade import NoiseConfig
from nightowl.training.synth.samples import Sample, SampleConfig, make_sample
from nightowl.training.synth.scenes import SceneConfig

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


class OnnxWarp:
    """training/release/warp_graph.py's warp on ONNX Runtime CPU (one thread)."""

    def __init__(self) -> None:
        import onnxruntime as ort

        from nightowl.training.release.warp_graph import warp_graph

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(warp_graph().SerializeToString(), options,
                                            providers=["CPUExecutionProvider"])

    def __call__(self, frames: np.ndarray, flows: np.ndarray) -> np.ndarray:
        """frames (T, H, W, 3) uint8, flows (T, H, W, 2) -> aligned (T, H, W, 3) uint8."""
        from nightowl.training.release.warp_graph import flows_input

        (out,) = self.session.run(None, {"frames": network_input(frames)[None],
                                         "flows": flows_input(flows)})
        count, height, width, _ = frames.shape
        levels = np.rint(out[0].reshape(count, 3, height, width) * 255).astype(np.uint8)
        return levels.transpose(0, 2, 3, 1)

    def batch(self, frames: np.ndarray, flows: np.ndarray) -> np.ndarray:
        from nightowl.training.release.warp_graph import flows_input

        return self.session.run(None, {"frames": network_input(frames)[None],
                                       "flows": flows_input(flows)})[0]


def onnx_warp_report(args, samples_per_s: int) -> None:
    """The ONNX warp against cv2.remap on the default flows, and its time at 1280x720."""
    warper, config = OnnxWarp(), AlignmentConfig()
    differing, total, worst = 0, 0, 0
    tally: Tally = {}
    for s in S_VALUES:
        sample_config = SampleConfig(noise=NoiseConfig(s_values=(s,)))
        for index in range(samples_per_s):
            sample = make_sample(sample_config, args.seed, index)
            aligned, flows = align_to_last(sample.low, config)
            ours = warper(sample.low, flows)
            gap = np.abs(ours.astype(np.int16) - aligned)
            differing += int((gap > 0).sum())
            total += gap.size
            worst = max(worst, int(gap.max()))
            clean_aligned = warper(sample.sequence.clean, flows)
            seq, last = sample.sequence, sample.sequence.clean.shape[0] - 1
            moving = seq.masks[last]
            for t in range(last):
                error = np.abs(clean_aligned[t].astype(np.int16) - seq.clean[last]).mean(-1)
                still = ~moving & ~seq.masks[t]
                for key, values in ((("warp moving", ALL), error[moving]),
                                    (("warp still", ALL), error[still])):
                    tally.setdefault(key, Mean()).add(values)
    large = [make_sample(SampleConfig(scene=SceneConfig(width=1280, height=720)), args.seed + 1,
                         i) for i in range(args.timing)]
    remap_ms, onnx_ms, align_ms = [], [], []
    for sample in large:
        _, flows = align_to_last(sample.low, config)
        warper.batch(sample.low, flows)  # warm-up
        for _ in range(3):
            start = time.perf_counter()
            align_to_last(sample.low, config)
            align_ms.append(1000 * (time.perf_counter() - start))
            start = time.perf_counter()
            for t in range(sample.low.shape[0] - 1):
                warp(sample.low[t], flows[t])
            remap_ms.append(1000 * (time.perf_counter() - start))
            start = time.perf_counter()
            warper.batch(sample.low, flows)
            onnx_ms.append(1000 * (time.perf_counter() - start))
    print(f"\nONNX warp (GridSample) on the default flows, {samples_per_s} scenes x "
          f"{len(S_VALUES)} S: aligned uint8 frames differ from cv2.remap's in "
          f"{differing / total:.2e} of values (worst {worst} level); warp moving "
          f"{tally['warp moving', ALL].value:.2f}, warp still {tally['warp still', ALL].value:.2f}"
          f" levels. 3 RGB warps at 1280x720, median: cv2.remap {np.median(remap_ms):.1f} ms, "
          f"ONNX Runtime CPU 1 thread {np.median(onnx_ms):.1f} ms (its input packing included); "
          f"a whole align_to_last {np.median(align_ms):.1f} ms, so its 3 flows take about "
          f"{np.median(align_ms) - np.median(remap_ms):.1f} ms")


def accuracy_report(args, names: list[str], with_onnx_warp: bool) -> None:
    """Characters read right on the shipped MIM's output, per alignment candidate."""
    from nightowl.service.engines import load_engine
    from nightowl.training.fit.examples import char_boxes, shifted_chars
    from nightowl.training.nets.recogniser import read_boxes
    from nightowl.training.nets.recogniser_output import CHARSET

    # fp32, as when the figures in bench/README.md were measured (the CPU default is now int8)
    enhancer = load_engine("mim_l1_cr.onnx", "onnxruntime-cpu", threads=1, cpu_precision="fp32")
    recogniser = load_engine("recogniser.onnx", "onnxruntime-cpu", threads=1)
    rows = list(names) + (["default + ONNX warp"] if with_onnx_warp else [])
    warper = OnnxWarp() if with_onnx_warp else None
    right = {(name, s): 0 for name in rows for s in (*S_VALUES, ALL)}
    counts = dict.fromkeys((*S_VALUES, ALL), 0)
    for s in S_VALUES:
        sample_config = SampleConfig(noise=NoiseConfig(s_values=(s,)))
        for index in range(args.accuracy):
            sample = make_sample(sample_config, args.seed, index)
            height, width = sample.low.shape[1:3]
            labels = char_boxes(shifted_chars(sample, 0, 0, max(height, width)))
            keep = labels["labels"] >= 0
            boxes, truth = labels["boxes"][keep], labels["labels"][keep]
            counts[s] += len(truth)
            counts[ALL] += len(truth)
            for name in rows:
                if name == "default + ONNX warp":
                    _, flows = align_to_last(sample.low, AlignmentConfig())
                    told = input_scale(np.uint8, sample.noise.s, enhancer.reference_gain) * 255
                    inputs = warper.batch(sample.low, flows) * told  # warping is linear
                else:
                    aligned = align_to_last(sample.low, CANDIDATES[name])[0]
                    scale = input_scale(aligned.dtype, sample.noise.s, enhancer.reference_gain)
                    inputs = network_input(aligned, scale)[None]
                probabilities = recogniser.run(enhancer.run(inputs))[0]
                reads = read_boxes(probabilities, [tuple(b) for b in boxes])
                hits = sum(r == CHARSET[t - 1] for r, t in zip(reads, truth, strict=True))
                right[name, s] += hits
                right[name, ALL] += hits
    print(f"\nCharacters read right (recogniser.onnx on mim_l1_cr.onnx's output, whole "
          f"256x256 frames, {args.accuracy} scenes per S, {counts[ALL]} characters):")
    print("| alignment | " + " | ".join(f"S={s:g}" for s in S_VALUES) + " | all S |")
    print("|" + " --- |" * (len(S_VALUES) + 2))
    for name in rows:
        print(f"| {name} | " + " | ".join(f"{right[name, s] / max(counts[s], 1):.3f}"
                                          for s in (*S_VALUES, ALL)) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40, help="scenes per S (256x256)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--timing", type=int, default=3, help="sequences timed per size")
    parser.add_argument("--only", nargs="*", choices=sorted(CANDIDATES), metavar="NAME",
                        help=f"candidates to run (default all): {', '.join(CANDIDATES)}")
    parser.add_argument("--onnx-warp", action="store_true", help="also measure the warp as an "
                        "ONNX graph (GridSample) against cv2.remap")
    parser.add_argument("--accuracy", type=int, default=0, metavar="N", help="also measure "
                        "characters read right after MIM, on N scenes per S (default 0: off)")
    parser.add_argument("--skip-table", action="store_true", help="only the --onnx-warp and "
                        "--accuracy reports")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    names = args.only or list(CANDIDATES)
    if args.onnx_warp:
        onnx_warp_report(args, args.count)
    if args.accuracy:
        accuracy_report(args, names, args.onnx_warp)
    if args.skip_table:
        return
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
