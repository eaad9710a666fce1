"""The evaluation run: every test scene under every condition, through every method.

A worker takes one scene of one split at a time: it darkens it at each (noise model, S), runs
each method told the true S and, for the classical baseline and the networks, again told the
server's estimate of S, reads every scored plate with the recogniser and with Tesseract, and
measures the images. The result is one record per (split, scene, noise, S, method); ``report``
aggregates them.
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
from nightowl.service.frames import mono, quality
from nightowl.service.frames.exposure import S_VALUES
from nightowl.training.evaluation import methods, ocr, reading
from nightowl.training.evaluation.scoring import correct_chars
from nightowl.training.evaluation.testset import (
    NOISE_MODELS,
    SPLITS,
    EvalScene,
    darken,
    split_scene,
)

GROUND_TRUTH = "ground truth"
# split -> the noise model its contact sheet shows: the paper's on the synthetic split, the raw
# camera pipeline on the photographs
SHEET_NOISE = {"synthetic": "eq6", "photo": "sensor", "mono": "eq6"}


@dataclass(frozen=True)
class EvalSettings:
    models: Path  # folder with recogniser.onnx and the networks
    networks: tuple[tuple[str, str], ...]  # (row name, model file), in row order
    precision: str = "int8"  # "int8": the networks' listed int8 copies, as the CPU server runs
    noises: tuple[str, ...] = NOISE_MODELS
    s_values: tuple[float, ...] = S_VALUES
    splits: tuple[str, ...] = tuple(SPLITS)
    estimated: bool = True  # also run classical and the networks told the estimated gain
    sheet_scenes: int = 6  # scenes 0..n-1 of each split give its contact sheet one row each,
    # at S = s_values[index % len(s_values)] (their first scored plate enlarged, if any)

    @property
    def told(self) -> list[str]:
        """The rows told the true S (and the ground truth), in row order."""
        return [GROUND_TRUTH, "gain", "classical", *(name for name, _ in self.networks)]

    @property
    def methods(self) -> list[str]:
        """Every row: the told ones, then classical and the networks with the gain estimated."""
        guessing = [name + methods.ESTIMATED for name in self.told[2:]] if self.estimated else []
        return [*self.told, *guessing]


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

    def scene(self, split: str, index: int) -> tuple[list[dict], dict | None]:
        """Records of scene ``index`` of ``split`` and, for its first scenes, its contact-sheet
        images."""
        scene = split_scene(split, index)
        records, crops, sheet = [], [], None
        clean = scene.sequence.clean[-1].astype(np.float32) / 255
        moving = scene.sequence.masks[-1]
        for noise in self.settings.noises:
            for s in self.settings.s_values:
                condition = methods.Condition(low=darken(scene, noise, s), s=s)
                outputs, told = self._outputs(condition, clean)
                if SPLITS[split].mono:  # a grey camera is answered grey, as the server does
                    outputs = {k: (served_grey(image), ms) for k, (image, ms) in outputs.items()}
                reads = read_scene(self.recogniser, scene, {k: v[0] for k, v in outputs.items()})
                for name, (image, ms) in outputs.items():
                    truth = name == GROUND_TRUTH
                    record = {"split": split, "index": index, "noise": noise, "S": s,
                              "method": name, "s_told": told.get(name),
                              "ms": None if truth else ms,
                              "psnr": None if truth else quality.psnr(image, clean),
                              "ssim": None if truth else quality.ssim(image, clean),
                              "psnr_moving": None if truth else quality.psnr(image, clean, moving),
                              "colour_error": None if truth else quality.colour_error(image,
                                                                                      clean),
                              "plates": []}
                    for plate, read in zip(scene.plates, reads[name], strict=True):
                        record["plates"].append({"truth": plate.labels, "read": read})
                        crops.append((record, ocr.plate_crop(to_uint8(image), plate),
                                      len(reading.plate_rows(plate))))
                    records.append(record)
                if self._on_sheet(scene, noise, s):
                    sheet = {"split": split, "index": index, "S": s, "noise": noise,
                             "plate": scene.plates[0] if scene.plates else None,
                             "dark": condition.low[-1],
                             "images": {k: to_uint8(v[0]) for k, v in outputs.items()}}
        self._ocr(crops)
        for record in records:
            plates = record.pop("plates")
            record["n_chars"] = sum(len(p["truth"]) for p in plates)
            record["correct"] = sum(correct_chars(p["truth"], p["read"]) for p in plates)
            record["correct_ocr"] = sum(correct_chars(p["truth"], p["ocr"]) for p in plates)
            record["reads"] = [[p["truth"], p["read"], p["ocr"]] for p in plates]
        return records, sheet

    def _outputs(self, condition: methods.Condition, clean: np.ndarray
                 ) -> tuple[dict[str, tuple[np.ndarray, float]], dict[str, float]]:
        """Each row's (image, ms) on one condition, and the S each row was told. A network that
        ignores S gives its told output again for its estimated row (only the estimate's time
        is added), as running it again would."""
        outputs = {GROUND_TRUTH: (clean, 0.0)}
        told = {}
        for name, method in self.methods.items():
            outputs[name], told[name] = method(condition), condition.s
        if not self.settings.estimated:
            return outputs, told
        guess = methods.estimated(condition)
        for name in self.settings.told[2:]:
            method = self.methods[name]
            if isinstance(method, methods.Network) and not method.uses_gain:
                image, ms = outputs[name]
                result = (image, ms + guess.gain_ms)
            else:
                result = method(guess)
            outputs[name + methods.ESTIMATED], told[name + methods.ESTIMATED] = result, guess.s
        return outputs, told

    def _ocr(self, crops: list[tuple[dict, np.ndarray, int]]) -> None:
        reads = ocr.read_crops([(c, lines) for _, c, lines in crops], self.tesseract)
        counters: dict[int, int] = {}
        for (record, _, _), read in zip(crops, reads, strict=True):
            k = counters.get(id(record), 0)
            record["plates"][k]["ocr"] = read
            counters[id(record)] = k + 1

    def _on_sheet(self, scene: EvalScene, noise: str, s: float) -> bool:
        values, noises = self.settings.s_values, self.settings.noises
        shown = SHEET_NOISE.get(scene.split)
        return (scene.index < self.settings.sheet_scenes
                and noise == (shown if shown in noises else noises[0])
                and s == values[scene.index % len(values)])


def read_scene(recogniser, scene: EvalScene,
               images: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """Each method's image (H, W, 3) in [0, 1] read by ``recogniser`` (an engine), plate by
    plate, in one engine call over the scene's plate window."""
    if not scene.plates:
        return {name: [] for name in images}
    height, width = scene.sequence.clean.shape[1:3]
    x0, y0, x1, y1 = reading.crop_window(scene.plates, height, width)
    names = list(images)
    batch = np.stack([images[n][y0:y1, x0:x1].transpose(2, 0, 1) for n in names])
    probabilities = recogniser.run(batch.astype(np.float32))
    return {name: [reading.read_plate(p, plate, (x0, y0)) for plate in scene.plates]
            for name, p in zip(names, probabilities, strict=True)}


def served_grey(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB in [0, 1] -> its luma on three equal channels: a grey frame's answer."""
    return np.repeat(mono.luma(image.astype(np.float32))[..., None], 3, axis=-1)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """An image in [0, 1] as 8-bit levels, rounded."""
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


_WORKER = None  # this worker process's evaluator (run_in_processes)


def _init_worker(factory: Callable, settings) -> None:
    global _WORKER
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _WORKER = factory(settings)


def _work(task: tuple[str, int]):
    assert _WORKER is not None
    return _WORKER.scene(*task)


def run_in_processes(factory: Callable, settings, tasks: list[tuple[str, int]],
                     jobs: int = 1) -> Iterator:
    """``factory(settings).scene(split, index)`` of each task, in completion order: in this
    process, or on ``jobs`` spawned processes of one thread each, an evaluator apiece."""
    if jobs <= 1:
        evaluator = factory(settings)
        for split, index in tasks:
            yield evaluator.scene(split, index)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(jobs, initializer=_init_worker, initargs=(factory, settings)) as pool:
        yield from pool.imap_unordered(_work, tasks)


def run_scenes(settings: EvalSettings, tasks: list[tuple[str, int]], jobs: int = 1
               ) -> Iterator[tuple[list[dict], dict | None]]:
    """Each (split, scene index)'s (records, sheet images), in completion order, on ``jobs``
    processes."""
    return run_in_processes(Evaluator, settings, tasks, jobs)
