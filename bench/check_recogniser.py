"""How well a character recogniser reads plates in colour and in grey, on rendered streets and
relit photographs, clean and softened: the reader behind L_CR and the character figures.

Run: python bench/check_recogniser.py [--recogniser models/recogniser.onnx ...] [--count 200]
                                      [--seed 900011]
Each recogniser (the released ONNX file or a run's final.pt) reads the plates of the same
``--count`` validation samples of ``--seed`` (96 px crops around a plate, as its training cuts
them) under four cameras: rendered streets or the "val" photographs behind them, seen in colour
or grey by a monochrome IR camera (``training/synth/infrared.py``, as the mono test split
sees them); each clean, and softened as the training's augmentation does (blur, contrast,
noise: the imperfect frames a network restores). Prints the correct-answer rate at the true
boxes, per recogniser and condition, and the grey minus colour gap.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from nightowl.training.fit.examples import CropConfig, RecogniserExamples
from nightowl.training.fit.tasks import RecogniserTask, load_recogniser, stack
from nightowl.training.synth.degrade import NoiseConfig
from nightowl.training.synth.samples import SampleConfig, make_sample
from nightowl.training.synth.scenes import SceneConfig

CAMERAS = {  # name -> (photo backgrounds, mono)
    "rendered colour": (0.0, 0.0),
    "rendered grey": (0.0, 1.0),
    "photo colour": (1.0, 0.0),
    "photo grey": (1.0, 1.0),
}


def examples(camera: str, seed: int, count: int, softened: bool) -> list[dict]:
    photos, mono = CAMERAS[camera]
    scene = replace(SceneConfig(), photo_backgrounds=photos, photo_split="val")
    config = SampleConfig(scene=scene, noise=replace(NoiseConfig(), mono_probability=mono))
    make = RecogniserExamples(crop=CropConfig(size=96, plate_probability=1.0),
                              augment_probability=1.0 if softened else 0.0)
    return [make(make_sample(config, seed, i)) for i in range(count)]


def accuracy(model: torch.nn.Module, items: list[dict]) -> float:
    cpu = torch.device("cpu")
    batches = [stack(items[start:start + 16], cpu) for start in range(0, len(items), 16)]
    return RecogniserTask.validate(model, batches)["val_char_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recogniser", nargs="+", default=["models/recogniser.onnx"])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=900_011)
    args = parser.parse_args()
    torch.set_num_threads(2)
    models = {path: load_recogniser(path, torch.device("cpu")) for path in args.recogniser}
    print(f"{args.count} validation samples of seed {args.seed}, one plate crop each\n")
    print("| recogniser | condition | " + " | ".join(CAMERAS) + " | grey - colour (rendered "
          "/ photo) |")
    print("| --- | --- | " + " | ".join("---" for _ in CAMERAS) + " | --- |")
    for softened in (False, True):
        sets = {camera: examples(camera, args.seed, args.count, softened) for camera in CAMERAS}
        for path, model in models.items():
            rates = {camera: accuracy(model, items) for camera, items in sets.items()}
            gaps = (rates["rendered grey"] - rates["rendered colour"],
                    rates["photo grey"] - rates["photo colour"])
            print(f"| {path} | {'softened' if softened else 'clean'} | "
                  + " | ".join(f"{rates[c]:.3f}" for c in CAMERAS)
                  + f" | {gaps[0]:+.3f} / {gaps[1]:+.3f} |")


if __name__ == "__main__":
    main()
