"""The evaluation run: every test scene under every condition, through every method.

A worker takes one scene at a time: it darkens it at each (noise model, S), runs each method,
reads every scored plate with the recogniser and with Tesseract, and measures the images. The
result is one record per (scene, noise, S, method); ``report`` aggregates them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from nightowl.service.engines import load_engine
from nightowl.service.frames import quality
from nightowl.service.frames.exposure import S_VALUES
from nightowl.training.evaluation import methods, ocr, reading
from nightowl.training.evaluation.scoring import correct_chars
from nightowl.training.evaluation.testset import NOISE_MODELS, EvalScene, darken, make_scene

GROUND_TRUTH = "ground truth"
SHEET_NOISE = "eq6"  # the contact sheet shows this noise model


@dataclass(frozen=True)
class EvalSettings:
    models: Path  # folder with recogniser.onnx and the networks
    networks: tuple[tuple[str, str], ...]  # (row name, model file), in row order
    precision: str = "int8"  # "int8": the networks' listed int8 copies, as the CPU server runs
    noises: tuple[str, ...] = NOISE_MODELS
    s_values: tuple[float, ...] = S_VALUES
    sheet_scenes: int = 6  # scenes 0..n-1 give the contact sheet one row each (if they have
    # a scored plate), at S = s_values[index % len(s_values)]

    @property
    def methods(self) -> list[str]:
        return [GROUND_TRUTH, "gain", "classical", *(name for name, _ in self.networks)]


class Evaluator:
    """Holds the engines of one process and evaluates scenes."""

    def __init__(self, settings: EvalSettings) -> None:
        self.settings = settings
        cv2.setNumThreads(1)  # one thread per process, as ONNX Runtime below
        self.recogniser = load_engine("recogniser.onnx", "onnxruntime-cpu",
                                      models_dir=settings.models, threads=1,
                                      cpu_precision="fp32")  # the reader, not a method
        self.methods: dict[str, Callable] = {"gain": methods.gain,
                                             "classical": methods.classical}
        for name, file in settings.networks:
            self.methods[name] = methods.Network(settings.models / file,
                                                 precision=settings.precision)
        self.tesseract = ocr.check_tesseract()

    def scene(self, index: int) -> tuple[list[dict], dict | None]:
        """Records of scene ``index`` and, for the first scenes, its contact-sheet images."""
        scene = make_scene(index)
        records, crops, sheet = [], [], None
        clean = scene.sequence.clean[-1].astype(np.float32) / 255
        moving = scene.sequence.masks[-1]
        for noise in self.settings.noises:
            for s in self.settings.s_values:
                condition = methods.Condition(low=darken(scene, noise, s), s=s)
                outputs = {GROUND_TRUTH: (clean, 0.0)}
                for name, method in self.methods.items():
                    outputs[name] = method(condition)
                reads = self._read(scene, {k: v[0] for k, v in outputs.items()})
                for name, (image, ms) in outputs.items():
                    truth = name == GROUND_TRUTH
                    record = {"index": index, "noise": noise, "S": s, "method": name,
                              "ms": None if truth else ms,
                              "psnr": None if truth else quality.psnr(image, clean),
                              "ssim": None if truth else quality.ssim(image, clean),
                              "psnr_moving": None if truth else quality.psnr(image, clean, moving),
                              "plates": []}
                    for plate, read in zip(scene.plates, reads[name], strict=True):
                        record["plates"].append({"truth": plate.labels, "read": read})
                        crops.append((record, ocr.plate_crop(_to_uint8(image), plate),
                                      len(reading.plate_rows(plate))))
                    records.append(record)
                if self._on_sheet(scene, noise, s):
                    sheet = {"index": index, "S": s, "noise": noise, "plate": scene.plates[0],
                             "dark": condition.low[-1],
                             "images": {k: _to_uint8(v[0]) for k, v in outputs.items()}}
        self._ocr(crops)
        for record in records:
            plates = record.pop("plates")
            record["n_chars"] = sum(len(p["truth"]) for p in plates)
            record["correct"] = sum(correct_chars(p["truth"], p["read"]) for p in plates)
            record["correct_ocr"] = sum(correct_chars(p["truth"], p["ocr"]) for p in plates)
            record["reads"] = [[p["truth"], p["read"], p["ocr"]] for p in plates]
        return records, sheet

    def _read(self, scene: EvalScene, images: dict[str, np.ndarray]) -> dict[str, list[str]]:
        """Each method's image read by the recogniser, plate by plate."""
        if not scene.plates:
            return {name: [] for name in images}
        height, width = scene.sequence.clean.shape[1:3]
        x0, y0, x1, y1 = reading.crop_window(scene.plates, height, width)
        names = list(images)
        batch = np.stack([images[n][y0:y1, x0:x1].transpose(2, 0, 1) for n in names])
        probabilities = self.recogniser.run(batch.astype(np.float32))
        return {name: [reading.read_plate(p, plate, (x0, y0)) for plate in scene.plates]
                for name, p in zip(names, probabilities, strict=True)}

    def _ocr(self, crops: list[tuple[dict, np.ndarray, int]]) -> None:
        reads = ocr.read_crops([(c, lines) for _, c, lines in crops], self.tesseract)
        counters: dict[int, int] = {}
        for (record, _, _), read in zip(crops, reads, strict=True):
            k = counters.get(id(record), 0)
            record["plates"][k]["ocr"] = read
            counters[id(record)] = k + 1

    def _on_sheet(self, scene: EvalScene, noise: str, s: float) -> bool:
        values = self.settings.s_values
        return (scene.index < self.settings.sheet_scenes and bool(scene.plates)
                and noise == SHEET_NOISE and s == values[scene.index % len(values)])


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


_WORKER: Evaluator | None = None


def _init_worker(settings: EvalSettings) -> None:
    global _WORKER
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _WORKER = Evaluator(settings)


def _work(index: int) -> tuple[list[dict], dict | None]:
    assert _WORKER is not None
    return _WORKER.scene(index)


def run_scenes(settings: EvalSettings, indices: list[int], jobs: int = 1
               ) -> Iterator[tuple[list[dict], dict | None]]:
    """Each scene's (records, sheet images), in completion order, on ``jobs`` processes."""
    if jobs <= 1:
        evaluator = Evaluator(settings)
        for index in indices:
            yield evaluator.scene(index)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(jobs, initializer=_init_worker, initargs=(settings,)) as pool:
        yield from pool.imap_unordered(_work, indices)
