"""A picture of what the shipped models do: dark input, each variant, and the truth.

Run: python bench/show_enhancement.py [--seed 900021] [--count 2] [--photo-count 2]
     [--out PATH]
Rows are held-out generator sequences (the validation seed of the shipped configs), cropped
around a plate: ``--count`` rendered streets, then ``--photo-count`` photo scenes (relit
photographs of the validation split, never trained on), under Eq. 6; columns: the dark frame
T brightened by S, SIM L1, SIM L1+L_CR, MIM L1, MIM L1+L_CR, and the clean frame T. Runs the
ONNX files in models/ with ONNX Runtime.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from nightowl.service.modelrepo.files import resolve
from nightowl.training.fit.examples import CropConfig, EnhancerExamples
from nightowl.training.synth.samples import SampleConfig, make_sample
from nightowl.training.synth.scenes import SceneConfig

MODELS = Path(__file__).resolve().parents[1] / "models"
COLUMNS = ["dark x S", "SIM L1", "SIM L1+L_CR", "MIM L1", "MIM L1+L_CR", "truth"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=900_021)
    parser.add_argument("--count", type=int, default=2)
    parser.add_argument("--photo-count", type=int, default=2)
    parser.add_argument("--crop", type=int, default=160)
    parser.add_argument("--out", type=Path, default=Path("training/assets/enhanced.jpg"))
    args = parser.parse_args()
    sessions = {n: ort.InferenceSession(str(MODELS / f"{n}.onnx"),
                                        providers=["CPUExecutionProvider"])
                for n in ("sim_l1", "sim_l1_cr", "mim_l1", "mim_l1_cr")}
    photo_scene = SceneConfig(photo_backgrounds=1.0, textured_vehicles=0.5,
                              photo_patches=(1, 3), photo_split="val")
    configs = [SampleConfig(scene=SceneConfig())] * args.count
    configs += [SampleConfig(scene=photo_scene)] * args.photo_count
    # the networks' inputs as in training: scaled by S / reference_gain when they have one
    reference = resolve("mim_l1_cr.onnx", MODELS).reference_gain
    make = EnhancerExamples(kind="mim", crop=CropConfig(size=args.crop, plate_probability=1.0),
                            reference_gain=reference)
    rows = []
    for index, config in enumerate(configs):
        sample = make_sample(config, args.seed, index)
        example = make(sample)
        frames = example["inputs"][None]
        brighten = reference if reference is not None else sample.noise.s  # back to x S
        tiles = [np.clip(frames[0, -3:] * brighten, 0, 1)]
        for name, session in sessions.items():
            x = frames[:, -3:] if name.startswith("sim") else frames
            tiles.append(session.run(None, {session.get_inputs()[0].name: x})[0][0])
        tiles.append(example["target"])
        row = [cv2.resize((t.transpose(1, 2, 0) * 255).round().astype(np.uint8), None, fx=2,
                          fy=2, interpolation=cv2.INTER_NEAREST) for t in tiles]
        rows.append(np.hstack([np.pad(r, ((2, 2), (2, 2), (0, 0))) for r in row]))
    sheet = np.vstack(rows)
    header = np.full((28, sheet.shape[1], 3), 24, np.uint8)
    tile_w = sheet.shape[1] // len(COLUMNS)
    for i, title in enumerate(COLUMNS):
        cv2.putText(header, title, (i * tile_w + 8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55,
                    (235, 235, 235), 1, cv2.LINE_AA)
    image = np.vstack([header, sheet])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
    print(f"wrote {args.out} ({image.shape[1]}x{image.shape[0]} px)")


if __name__ == "__main__":
    main()
