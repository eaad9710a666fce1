"""The background memory's cost per frame and its size, against today's per-frame CPU work.

Run: python bench/bench_memory.py [--size 1280x720] [--frames 40] [--repeat 3]

A long generator sequence (traffic, a parked car, light drift; Eq. 6 at S = 25) goes through
the server's pipeline frame by frame, the way the cpu executor runs it for a camera: today
``Pipeline.prepare`` (alignment and input layout), with the memory ``prepare`` asked for the
moving pixels, then ``Pipeline.remember`` (the memory's update and its recall) and
``Pipeline.blend`` (the engine's output leant on the memory; on one engine output of the
sequence, reused for every frame, as the engine's cost is not the memory's). The two are
timed on the same frames in alternation (``--repeat`` rounds, median of each round, best round
reported), so that other load on the machine falls on both; that one run of the served engine
(mim_l1_cr, int8 on one thread, on the first window) gives the whole frame's cost.
Prints ms per frame, the overhead of the memory against the CPU work and against the whole
frame, and the memory's bytes per camera.
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np

from nightowl.service.engines import load_engine
from nightowl.service.frames.background import BackgroundMemory
from nightowl.service.frames.exposure import Gain
from nightowl.service.frames.pipeline import Pipeline
from nightowl.training.synth.degrade import eq6
from nightowl.training.synth.long_scenes import LongConfig, render_long
from nightowl.training.synth.scenes import SceneConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    cv2.setNumThreads(1)
    scene = SceneConfig(width=width, height=height)
    sequence = render_long(LongConfig(frames=max(args.frames, 8), scene=scene),
                           np.random.default_rng([5, 0]))
    low = eq6(sequence.clean[:args.frames], 25.0, 2.0, np.random.default_rng(0))
    engine = load_engine("mim_l1_cr.onnx", "onnxruntime-cpu", threads=1)
    pipeline = Pipeline.for_engines({"multi": engine}, few_frames="repeat")
    told = Gain(25.0, "request")
    start = time.perf_counter()
    output = engine.run(pipeline.prepare(low[:4], told).input[None])[0]
    engine_s = time.perf_counter() - start
    rounds = []
    for _ in range(args.repeat):
        memory = BackgroundMemory()
        today, with_memory, update = [], [], []
        for t in range(args.frames):
            window = low[max(0, t - 3):t + 1]
            start = time.perf_counter()
            pipeline.prepare(window, told)
            middle = time.perf_counter()
            prepared = pipeline.prepare(window, told, moving=True)
            remembering = time.perf_counter()
            remembered = pipeline.remember(prepared, memory, low[t])
            pipeline.blend(output, remembered, memory.calibration)
            end = time.perf_counter()
            if t >= 8:  # a warm memory, as a camera's after its first frames
                today.append(middle - start)
                with_memory.append(end - middle)
                update.append(end - remembering)
        rounds.append((np.median(today), np.median(with_memory), np.median(update)))
    today_s, memory_s, update_s = min(rounds, key=lambda r: r[1] - r[0])
    extra = memory_s - today_s
    print(f"{width}x{height}, {args.frames} frames, best of {args.repeat} rounds (medians):")
    print(f"  today: prepare (align + layout)        {today_s * 1e3:7.1f} ms/frame")
    print(f"  memory: prepare + remember + blend     {memory_s * 1e3:7.1f} ms/frame "
          f"(remember and blend alone {update_s * 1e3:.1f} ms)")
    print(f"  engine (mim_l1_cr int8, one thread)    {engine_s * 1e3:7.1f} ms/frame")
    print(f"  memory overhead: +{extra * 1e3:.1f} ms = {extra / today_s:+.0%} of the CPU "
          f"work, {extra / (today_s + engine_s):+.1%} of the whole frame")
    print(f"  memory per camera: {BackgroundMemory.bytes_for(width, height) / 1e6:.1f} MB "
          f"({memory.nbytes()} bytes)")


if __name__ == "__main__":
    main()
