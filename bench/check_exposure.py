"""How much of an enhancer's whole-frame PSNR loss is exposure: its output's brightness against
the truth's, per S, and the PSNR it would have after one best global gain per frame.

The networks see only the dark frames, and a scene darkened by S = 20 looks like a brighter
scene darkened by S = 30: the exposure is ambiguous to them, while the gain and classical
baselines are told S. This separates that error from the rest.

Run: python bench/check_exposure.py [--count 20] [--model mim_l1_cr.onnx]
Uses the evaluation's own test scenes, darkening and methods (Eq. 6 noise). The third row set,
"told S", is the same network with its aligned input scaled by S / 25 (the middle of the
training range), as a camera that reports its exposure could do: no retraining.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nightowl.service.pipeline import network_input
from nightowl.training.degrade import S_VALUES
from nightowl.training.evaluation.methods import Condition, Network, classical
from nightowl.training.evaluation.metrics import psnr
from nightowl.training.evaluation.testset import darken, make_scene

MODELS = Path(__file__).resolve().parents[1] / "models"


def exposure_figures(output: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(brightness ratio output/truth, PSNR, PSNR after the best single gain on the output)."""
    ratio = float(output.sum() / truth.sum())
    best_gain = float((output * truth).sum() / max((output * output).sum(), 1e-10))
    return ratio, psnr(output, truth), psnr(np.clip(output * best_gain, 0, 1), truth)


def told_s(network: Network, condition: Condition) -> np.ndarray:
    """The network on frames rescaled to the exposure it was trained around (S = 25)."""
    batch = network_input(condition.align(), np.float32(condition.s / 25 / 255))[None]
    out = network.engine.run(np.clip(batch, 0, 1))[0]
    return np.clip(out.transpose(1, 2, 0), 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="test scenes (default 20)")
    parser.add_argument("--model", default="mim_l1_cr.onnx")
    args = parser.parse_args()
    network = Network(MODELS / args.model)
    methods = {args.model: lambda c: network(c)[0], "classical": lambda c: classical(c)[0],
               "told S": lambda c: told_s(network, c)}
    print(f"{args.count} test scenes, Eq. 6; brightness = sum(output) / sum(truth)")
    print(f"{'method':18} {'S':>3} {'brightness':>10} {'PSNR':>7} {'PSNR, best gain':>16}")
    scenes = [make_scene(i) for i in range(args.count)]
    for name, run in methods.items():
        for s in S_VALUES:
            rows = []
            for scene in scenes:
                truth = scene.sequence.clean[-1].astype(np.float32) / 255
                output = run(Condition(low=darken(scene, "eq6", s), s=s))
                rows.append(exposure_figures(output, truth))
            ratio, raw, best = np.mean(rows, axis=0)
            print(f"{name:18} {s:3g} {ratio:10.3f} {raw:7.2f} {best:16.2f}", flush=True)


if __name__ == "__main__":
    main()
