"""How much of an enhancer's whole-frame PSNR loss is exposure: its output's brightness against
the truth's, per S, and the PSNR it would have after one best global gain per frame.

A network that sees only the dark frames cannot tell a scene darkened by S = 20 from a brighter
scene darkened by S = 30; networks trained on exposure-normalised frames (``reference_gain`` in
their manifest entry) take their input scaled by S / reference_gain instead. This separates
that exposure error from the rest.

Run: python bench/check_exposure.py [--count 20] [--model mim_l1_cr.onnx] [--reference-gain R]
Uses the evaluation's own test scenes, darkening and classical baseline (Eq. 6 noise). Rows:
"as captured": the network on the frames as they are; "told S": its input scaled with
``input_scale(dtype, S, reference_gain)``, as the server does with a told gain and the
evaluation always does; "estimated": the same with ``estimate_gain(frame T)`` in place of S, as
the server does when no gain is told. reference_gain is the model's; ``--reference-gain``
forces one on a model trained without it (rescaling with no retraining); with neither, the
told and estimated rows equal the first and are left out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from nightowl.service.frames.exposure import S_VALUES, estimate_gain
from nightowl.service.frames.layout import input_scale, network_input
from nightowl.service.frames.quality import psnr
from nightowl.training.evaluation.methods import Condition, Network, classical
from nightowl.training.evaluation.testset import darken, make_scene

MODELS = Path(__file__).resolve().parents[1] / "models"


def exposure_figures(output: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """(brightness ratio output/truth, PSNR, PSNR after the best single gain on the output)."""
    ratio = float(output.sum() / truth.sum())
    best_gain = float((output * truth).sum() / max((output * output).sum(), 1e-10))
    return ratio, psnr(output, truth), psnr(np.clip(output * best_gain, 0, 1), truth)


def scaled(network: Network, condition: Condition, gain: float | None,
           reference_gain: float | None) -> np.ndarray:
    """The network on the condition's frames scaled by gain / reference_gain (the server's
    ``input_scale``; either None: frames as captured)."""
    frames = condition.align() if network.frames > 1 else condition.low[-1:]
    batch = network_input(frames, input_scale(frames.dtype, gain, reference_gain))[None]
    out = network.engine.run(batch)[0]
    return np.clip(out.transpose(1, 2, 0), 0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="test scenes (default 20)")
    parser.add_argument("--model", default="mim_l1_cr.onnx")
    parser.add_argument("--reference-gain", type=float, help="scale the told and estimated "
                        "rows' input by gain / this (default: the model's reference_gain)")
    args = parser.parse_args()
    network = Network(MODELS / args.model)
    reference = args.reference_gain or network.engine.reference_gain
    methods = {"as captured": lambda c: scaled(network, c, None, None),
               "classical": lambda c: classical(c)[0]}
    if reference is not None:
        methods["told S"] = lambda c: scaled(network, c, c.s, reference)
        methods["estimated"] = lambda c: scaled(network, c, estimate_gain(c.low[-1]), reference)
    print(f"{args.model}, reference_gain {reference} "
          f"({'--reference-gain' if args.reference_gain else 'the model'}'s)")
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
