"""With fewer than T = 4 frames, which answer is better: the single-image model on the newest
frame, or the multi-image model on the frames with the oldest repeated in front?

Run: python bench/bench_few_frames.py [--count 40] [--seed 900021] [--size 256x256]
Held-out generator sequences (the shipped configs' validation seed); for n = 1, 2, 3 the last n
frames go through the server's own Pipeline (``few_frames`` = "single" / "repeat") and the
engine, and the result is scored against the clean frame T: PSNR (dB) and the character
recogniser's accuracy on the plate characters (as the model card scores). The 4-frame MIM
figure is the reference.
"""

from __future__ import annotations

import argparse

import numpy as np

from nightowl.service.engines import load_engine
from nightowl.service.frames.exposure import Gain
from nightowl.service.frames.pipeline import Pipeline
from nightowl.service.frames.quality import psnr
from nightowl.training.nets.recogniser import read_boxes
from nightowl.training.nets.recogniser_output import CHARSET
from nightowl.training.synth.samples import SampleConfig, make_sample
from nightowl.training.synth.scenes import SceneConfig


class Reader:
    """The shipped character recogniser: characters read at the true boxes of frame T."""

    def __init__(self) -> None:
        self.engine = load_engine("recogniser.onnx", "onnxruntime-cpu")

    def __call__(self, image: np.ndarray, sample) -> tuple[int, int]:
        chars = [c for p in sample.sequence.plates for c in p.chars
                 if c.visible and c.label in CHARSET]
        x = (image.transpose(2, 0, 1)[None] / np.float32(255)).astype(np.float32)
        probabilities = self.engine.run(x)[0]
        reads = read_boxes(probabilities, [c.box for c in chars])
        return sum(r == c.label for r, c in zip(reads, chars, strict=True)), len(chars)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=900_021)
    parser.add_argument("--size", default="256x256")
    args = parser.parse_args()
    width, height = map(int, args.size.split("x"))
    # fp32, as when the figures in bench/README.md were measured (the CPU default is now int8)
    engines = {"multi": load_engine("mim_l1_cr.onnx", "onnxruntime-cpu", cpu_precision="fp32"),
               "single": load_engine("sim_l1_cr.onnx", "onnxruntime-cpu", cpu_precision="fp32")}
    # each model's own reference_gain, told the sample's S as a camera reporting its gain would
    policies = {"single": Pipeline.for_engines(engines, few_frames="single"),
                "repeat": Pipeline.for_engines(engines, few_frames="repeat")}
    scores: dict[tuple[str, int], list[float]] = {}
    chars: dict[tuple[str, int], list[tuple[int, int]]] = {}
    read = Reader()
    config = SampleConfig(scene=SceneConfig(width=width, height=height))
    for index in range(args.count):
        sample = make_sample(config, args.seed, index)
        truth = sample.sequence.clean[-1]
        for count in (1, 2, 3, 4):
            for name, pipeline in policies.items():
                if count == 4 and name == "single":
                    continue
                prepared = pipeline.prepare(sample.low[-count:], Gain(sample.noise.s, "request"))
                output = engines[prepared.model].run(prepared.input[None])[0]
                image = pipeline.finish(output, np.uint8)
                score = psnr(image / np.float32(255), truth / np.float32(255))  # uint8 -> [0, 1]
                scores.setdefault((name, count), []).append(score)
                chars.setdefault((name, count), []).append(read(image, sample))
        chars.setdefault(("truth", 0), []).append(read(truth, sample))
    def cell(key):
        if key not in scores:
            return "-"
        right, total = np.sum(chars[key], axis=0)
        return f"{np.mean(scores[key]):.2f} dB, {right / total:.3f}"

    right, total = np.sum(chars["truth", 0], axis=0)
    print(f"{args.count} sequences {width}x{height}, seed {args.seed}: mean PSNR vs clean frame "
          f"T, character accuracy ({total} characters; {right / total:.3f} on the clean frame)")
    print("| frames | single (SIM L1+L_CR on frame T) | repeat (MIM L1+L_CR, oldest repeated) |")
    print("| --- | --- | --- |")
    for count in (1, 2, 3, 4):
        print(f"| {count} | {cell(('single', count))} | {cell(('repeat', count))} |")


if __name__ == "__main__":
    main()
