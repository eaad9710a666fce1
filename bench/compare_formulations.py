"""Side by side: exported enhancers (e.g. the direct and the residual formulation of MIM
L1+L_CR) and the classical baseline on the test splits of ``nightowl eval``, every noise
model, every S, the true gain told.

Columns per (split, noise): whole-frame PSNR (dB), colour/brightness error (mean absolute
difference of 16x16 block means, 8-bit levels) and the recogniser's correct-answer rate on the
scored plates. The scenes, noise and reading are the evaluation's own
(``nightowl.training.evaluation``). A model is an exported ``.onnx`` (its folder holds its
manifest; run on ONNX Runtime, fp32 unless told otherwise) or a training run's
``checkpoint.pt`` / ``final.pt`` (run in torch, fp32: for runs not exported).

Run: python bench/compare_formulations.py --model direct=runs/direct/checkpoint.pt \
         --model residual=runs/residual/checkpoint.pt [--count 24] [--precision fp32] \
         [--scenes test|validation] [--splits synthetic,photo,mono]
``--scenes validation`` runs validation twins of the splits (validation photographs, seeds of
their own), to choose between runs without looking at the test set. On the mono split every
answer is scored as the server answers a grey frame: its luma.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from nightowl.service.engines import load_engine
from nightowl.service.frames import quality
from nightowl.service.frames.exposure import S_VALUES
from nightowl.training.evaluation import methods
from nightowl.training.evaluation.runner import read_scene, served_grey
from nightowl.training.evaluation.scoring import correct_chars
from nightowl.training.evaluation.testset import (
    NOISE_MODELS,
    SPLITS,
    EvalScene,
    darken,
    split_scene,
    validation_scene,
)


def scene_of(split: str, index: int, scenes: str) -> EvalScene:
    """Sequence ``index`` of ``split``: the test split's own, or its validation twin."""
    return split_scene(split, index) if scenes == "test" else validation_scene(split, index)


class TorchRun:
    """A training run's network in torch, fed as ``methods.Network`` feeds an exported one."""

    def __init__(self, path: Path) -> None:
        import torch

        from nightowl.training.nets.enhancers import EnhancerConfig, build_enhancer

        torch.set_num_threads(1)
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        config = checkpoint.get("model_config") or checkpoint["config"]["model"]
        self.config = EnhancerConfig(**config)
        self.model = build_enhancer(self.config).eval()
        self.model.load_state_dict(checkpoint["model"])
        self.torch = torch

    def __call__(self, condition: methods.Condition) -> tuple[np.ndarray, float]:
        from nightowl.service.frames.layout import input_scale, network_input

        frames = condition.align() if self.config.kind == "mim" else condition.low[-1:]
        scale = input_scale(frames.dtype, condition.s, self.config.reference_gain)
        with self.torch.no_grad():
            out = self.model(self.torch.from_numpy(network_input(frames, scale)[None]))[0]
        return np.clip(out.numpy().transpose(1, 2, 0), 0, 1), 0.0


def _runner(file: str, precision: str):
    path = Path(file)
    return TorchRun(path) if path.suffix == ".pt" else methods.Network(path, precision=precision)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], metavar="NAME=FILE",
                        help="an exported enhancer (.onnx, its folder holds its manifest) "
                        "or a run's checkpoint.pt / final.pt; repeat")
    parser.add_argument("--count", type=int, default=24, help="sequences per split (default 24)")
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    parser.add_argument("--scenes", choices=("test", "validation"), default="test",
                        help="the evaluation's test scenes, or validation twins of them "
                        "(validation photographs, other seeds) for choosing between runs")
    parser.add_argument("--recogniser", type=Path, default=Path("models/recogniser.onnx"))
    parser.add_argument("--splits", default=",".join(SPLITS), help="comma separated (default "
                        f"{','.join(SPLITS)})")
    args = parser.parse_args()
    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    unknown = [s for s in splits if s not in SPLITS]
    if unknown or not splits:
        parser.error(f"--splits must name some of {', '.join(SPLITS)}, got {args.splits!r}")
    models = dict(item.split("=", 1) for item in args.model)
    if not models:
        parser.error("give at least one --model NAME=FILE")
    recogniser = load_engine(args.recogniser.name, "onnxruntime-cpu",
                             models_dir=args.recogniser.parent, threads=1, cpu_precision="fp32")
    runners = {"classical": methods.classical}
    runners.update({name: _runner(file, args.precision) for name, file in models.items()})
    sums: dict[tuple, np.ndarray] = {}  # (split, noise, method) -> psnr, colour, count, chars, ok
    for split in splits:
        for index in tqdm(range(args.count), desc=split, unit="seq"):
            scene = scene_of(split, index, args.scenes)
            clean = scene.sequence.clean[-1].astype(np.float32) / 255
            for noise in NOISE_MODELS:
                for s in S_VALUES:
                    condition = methods.Condition(low=darken(scene, noise, s), s=s)
                    for name, run in runners.items():
                        image = run(condition)[0]
                        if SPLITS[split].mono:
                            image = served_grey(image)
                        reads = read_scene(recogniser, scene, {name: image})[name]
                        chars = sum(len(p.labels) for p in scene.plates)
                        right = sum(correct_chars(p.labels, r)
                                    for p, r in zip(scene.plates, reads, strict=True))
                        cell = sums.setdefault((split, noise, name), np.zeros(5))
                        cell += (quality.psnr(image, clean), quality.colour_error(image, clean),
                                 1, chars, right)
    print(f"\n{args.count} {args.scenes} sequences per split, S in {list(S_VALUES)}, gain "
          f"told, {args.precision}\n")
    print("| split | noise | method | PSNR (dB) | colour error (levels) | chars (ours) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (split, noise, name), (psnr, colour, count, chars, right) in sums.items():
        rate = f"{right / chars:.3f}" if chars else "-"
        print(f"| {split} | {noise} | {name} | {psnr / count:.2f} | {colour / count:.2f} | "
              f"{rate} |")


if __name__ == "__main__":
    main()
