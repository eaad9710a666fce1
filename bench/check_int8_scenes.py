"""What int8 costs on whole scenes, and whether keeping some layers in float buys it back:
an enhancer's fp32 file, its shipped int8 copy and mixed int8 copies (the U-Nets' output heads,
and their first or last convolutions too, kept in float) on the validation twins of
``nightowl eval``'s photo split, every noise model and S, the gain told and estimated.

Run: python bench/check_int8_scenes.py [--model mim_l1_cr.onnx] [--count 8]
The mixed copies are calibrated as `nightowl export --int8` calibrates the shipped one (samples
0-15 of the model's own validation seed, QDQ, Percentile 99.99) into a temporary folder. Printed
per copy: ms per 640x368 frame on one onnxruntime thread (best of 3), then per noise model and
gain: whole-frame PSNR against the clean frame and our recogniser's correct-answer rate.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from tqdm import tqdm

from nightowl.service.engines import load_engine
from nightowl.service.frames import quality
from nightowl.service.frames.exposure import S_VALUES
from nightowl.service.frames.layout import input_scale, network_input
from nightowl.service.modelrepo.files import resolve
from nightowl.training.evaluation import methods
from nightowl.training.evaluation.runner import read_scene
from nightowl.training.evaluation.scoring import correct_chars
from nightowl.training.evaluation.testset import NOISE_MODELS, darken, validation_scene
from nightowl.training.release.int8 import INT8_CALIBRATION, INT8_OPTIONS, in_use_inputs, int8_name
from nightowl.training.release.quantize import cpu_session, ms_per_frame, quantize_int8

_OUTPUT_OPS = ("Slice", "Sigmoid", "Mul", "Sub", "Add")  # the heads' crop, the mask's blend
#   (and the input's scaling and the shape arithmetic, which hold no int8 work either way)


def mixed_candidates(path: Path) -> dict[str, list[str]]:
    """Candidate name -> the nodes it keeps in float (every U-Net's head conv and the ops after
    it; then also each first, then also each last, convolution)."""
    import onnx

    nodes = onnx.load(str(path), load_external_data=False).graph.node

    def convs(*suffixes: str) -> list[str]:
        return [n.name for n in nodes if n.op_type == "Conv"
                and any(i.endswith(suffixes) for i in n.input)]

    heads = convs("head.weight") + [n.name for n in nodes if n.op_type in _OUTPUT_OPS]
    firsts = convs("down.0.0.weight")
    lasts = convs("down.0.2.weight", "merge.2.2.weight")
    return {"heads": heads, "heads+first": heads + firsts,
            "heads+first+last": heads + firsts + lasts}


def network_inputs(condition: methods.Condition, config: dict) -> np.ndarray:
    """(1, C, H, W): the condition's frames as the served enhancer of ``config`` takes them."""
    frames = condition.align() if config["kind"] == "mim" else condition.low[-1:]
    scale = input_scale(frames.dtype, condition.s, config.get("reference_gain"))
    return network_input(frames, scale)[None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="mim_l1_cr.onnx")
    parser.add_argument("--count", type=int, default=8, help="photo validation sequences")
    args = parser.parse_args()
    model = resolve(args.model)
    config = model.entry["model_config"]
    with tempfile.TemporaryDirectory(prefix="nightowl-int8-scenes-") as folder:
        files = {"fp32": model.path, "int8": model.path.with_name(int8_name(model.path.name))}
        calibration = in_use_inputs(model.entry, INT8_CALIBRATION)
        for name, keep in mixed_candidates(model.path).items():
            files[name] = Path(folder) / f"{name}.onnx"
            quantize_int8(model.path, files[name], calibration, INT8_OPTIONS, keep_float=keep)
        for name, path in files.items():
            ms = ms_per_frame(path, model.input_channels, 3, size=(368, 640))
            print(f"{name}: {ms:.0f} ms per 640x368 frame", flush=True)
        runs = {name: cpu_session(path, spinning=False) for name, path in files.items()}
        recogniser = load_engine("recogniser.onnx", "onnxruntime-cpu",
                                 models_dir=model.path.parent, threads=1, cpu_precision="fp32")
        sums: dict[tuple[str, str, str], np.ndarray] = {}
        for index in tqdm(range(args.count), desc="photo validation", unit="seq"):
            scene = validation_scene("photo", index)
            clean = scene.sequence.clean[-1].astype(np.float32) / 255
            chars = sum(len(p.labels) for p in scene.plates)
            for noise in NOISE_MODELS:
                for s in S_VALUES:
                    told = methods.Condition(low=darken(scene, noise, s), s=s)
                    for gain, condition in (("told", told), ("estimated", methods.estimated(told))):
                        inputs = network_inputs(condition, config)
                        for name, run in runs.items():
                            out = run.run(None, {run.get_inputs()[0].name: inputs})[0][0]
                            image = np.clip(out.transpose(1, 2, 0), 0, 1)
                            # one plate batch per copy, as the figures in bench/README.md were
                            reads = read_scene(recogniser, scene, {name: image})[name]
                            right = sum(correct_chars(p.labels, r)
                                        for p, r in zip(scene.plates, reads, strict=True))
                            cell = sums.setdefault((noise, gain, name), np.zeros(4))
                            cell += (quality.psnr(image, clean), 1, chars, right)
    print(f"\n{model.path.name}, {args.count} photo validation sequences, S in {list(S_VALUES)}\n")
    print("| noise | gain | copy | PSNR (dB) | chars (ours) |")
    print("| --- | --- | --- | --- | --- |")
    for (noise, gain, name), (psnr, count, chars, right) in sums.items():
        print(f"| {noise} | {gain} | {name} | {psnr / count:.3f} | {right / max(chars, 1):.3f} |")


if __name__ == "__main__":
    main()
