"""The long-sequence evaluation (``nightowl eval --long``): each row's networks on every frame
of a camera's long sequence, as the server runs them, with and without the camera's
background memory.

Per (split, sequence, noise model, S) the frames go through the server's pipeline one by one:
the window of the last T frames aligned (``Pipeline.prepare``), frame T remembered
(``Pipeline.remember``), then each row's engine on its input, its output leant on the memory
(``Pipeline.blend``, each row with its own calibration) for the rows with memory. Rows
without memory run on every ``every``-th frame, on every frame with a scored plate, and on
every frame around the parked car's arrival and departure; rows with memory on every frame
(their calibration learns from each, as the server's does), measured on the same frames.
Measured, on the truth of each frame:
- static pixels (no driving vehicle in the window, off the parked car's region) whose memory is
  older than :data:`OLD` frames: PSNR, and the temporal noise: the std over time of each
  pixel's error (8-bit levels) on the frames it was such a pixel (10 at least), averaged;
- PSNR of static pixels against the memory's age (:data:`AGE_EDGES`);
- moving pixels (a driving vehicle on frame T): PSNR;
- plates read on the frames they are labelled on, by the recogniser and by Tesseract;
- ghosts: PSNR in the region the parked car left, on each of the :data:`GHOST_FRAMES` frames
  after it left, against that region's PSNR before the car came (its static level).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from nightowl.service.engines import load_engine
from nightowl.service.frames.background import BackgroundMemory, MemoryConfig
from nightowl.service.frames.exposure import S_VALUES, Gain
from nightowl.service.frames.memory_blend import LevelCalibration
from nightowl.service.frames.pipeline import Pipeline
from nightowl.training.evaluation import ocr, reading
from nightowl.training.evaluation.longset import darken_long, long_scene
from nightowl.training.evaluation.runner import run_in_processes, to_uint8
from nightowl.training.evaluation.scoring import correct_chars
from nightowl.training.evaluation.testset import NOISE_MODELS

OLD = 100  # frames: memory older than this is "old" (the targets' static pixels)
AGE_EDGES = (0, 5, 10, 25, 50, 100, 200, 400, 1 << 16)  # memory age bins (frames)
GHOST_FRAMES = 20  # frames measured after the parked car left
LEVEL_FRAMES = 20  # frames before it came that give its region's static level
SHEET_NOISE = {"long": "eq6", "long-photo": "sensor"}


@dataclass(frozen=True)
class Row:
    """One row of the report: a network, with or without the camera's memory."""

    name: str
    model: str  # file in the model repository
    memory: bool


@dataclass(frozen=True)
class LongSettings:
    models: Path
    rows: tuple[Row, ...]
    frames: int = 240  # frames per sequence
    every: int = 2  # networks on every every-th frame (and the frames named in the module doc)
    precision: str = "int8"
    noises: tuple[str, ...] = NOISE_MODELS
    s_values: tuple[float, ...] = S_VALUES
    join_frames: int = 30  # the memory's (MemoryConfig.join_frames, the server's default)


class _Sums:
    """One row's running sums on one condition."""

    def __init__(self, shape: tuple[int, int]) -> None:
        self.static = [0.0, 0]  # squared error, values: static pixels with old memory
        self.moving = [0.0, 0]
        self.ages = np.zeros((len(AGE_EDGES) - 1, 2))  # per age bin: squared error, values
        self.error_sum = np.zeros((*shape, 3))  # per pixel, frames with the pixel old and static
        self.error_sq = np.zeros((*shape, 3))
        self.frames = np.zeros(shape)
        self.ghost: dict[int, float | None] = {}
        self.level = [0.0, 0]
        self.chars = [0, 0, 0]  # correct (recogniser), correct (Tesseract), truth

    def add(self, where: np.ndarray, error: np.ndarray, into: list) -> None:
        if where.any():
            into[0] += float(error[where].sum())
            into[1] += int(where.sum()) * 3


def _psnr(sums: list) -> float | None:
    return None if not sums[1] else float(-10 * np.log10(max(sums[0] / sums[1], 1e-10)))


class LongEvaluator:
    """Engines of one process; evaluates one long sequence under every condition."""

    def __init__(self, settings: LongSettings) -> None:
        self.settings = settings
        cv2.setNumThreads(1)
        self.engines = {}
        for row in settings.rows:
            if row.model not in self.engines:
                self.engines[row.model] = load_engine(row.model, "onnxruntime-cpu",
                                                      models_dir=settings.models, threads=1,
                                                      cpu_precision=settings.precision)
        gains = {e.reference_gain for e in self.engines.values()}
        if len(gains) != 1 or any(e.frames != 4 for e in self.engines.values()):
            raise ValueError(f"the rows' networks must take T = 4 frames and share one "
                             f"reference_gain, got {gains}")
        first = next(iter(self.engines.values()))
        # the frames' input (a network that takes the memory gets it appended, per row)
        self.pipeline = replace(Pipeline.for_engines({"multi": first}, few_frames="repeat"),
                                memory_input=False)
        self.recogniser = load_engine("recogniser.onnx", "onnxruntime-cpu",
                                      models_dir=settings.models, threads=1,
                                      cpu_precision="fp32")
        self.tesseract = ocr.check_tesseract()

    def scene(self, split: str, index: int) -> tuple[list[dict], list[dict]]:
        """Records of every condition of one sequence, and its contact-sheet items."""
        sequence, *cameras = long_scene(split, index, self.settings.frames)
        records, sheet = [], []
        for noise in self.settings.noises:
            for s in self.settings.s_values:
                low = darken_long(split, index, sequence, tuple(cameras), noise, s)
                shown = index == 0 and noise == SHEET_NOISE[split] and s == 25
                condition, items = self._condition(sequence, low, s, shown)
                for row, result in condition.items():
                    records.append({"split": split, "index": index, "noise": noise, "S": s,
                                    "method": row, **result})
                sheet += [{"split": split, "index": index, "noise": noise, "S": s,
                           **item} for item in items]
        return records, sheet

    def _condition(self, seq, low: np.ndarray, s: float, shown: bool
                   ) -> tuple[dict[str, dict], list[dict]]:
        settings, rows = self.settings, self.settings.rows
        memory = BackgroundMemory(MemoryConfig(join_frames=settings.join_frames))
        calibrations = {row.name: LevelCalibration() for row in rows}
        told = Gain(float(s), "request")
        count, shape = len(low), low.shape[1:3]
        sums = {row.name: _Sums(shape) for row in rows}
        crops: list[tuple[str, str, np.ndarray, int]] = []
        items = []
        sheet_frames = {count - 1: "old memory", seq.leave + 2: "2 frames after the car left"}
        for t in range(count):
            window = low[max(0, t - 3):t + 1]
            prepared = self.pipeline.remember(self.pipeline.prepare(window, told, None, True),
                                              memory, low[t])
            measured, outputs, raw = self._measured(seq, t), {}, {}
            for row in rows:
                if row.memory or measured:  # (a calibration learns from every frame)
                    key = (row.model, row.memory and self.engines[row.model].memory_input)
                    if key not in raw:
                        raw[key] = self.engines[row.model].run(self._input(row, prepared)[None])[0]
                    output = raw[key]
                    if row.memory and not self.engines[row.model].memory_input:
                        output = self.pipeline.blend(output, prepared, calibrations[row.name])
                    outputs[row.name] = np.clip(output.transpose(1, 2, 0), 0, 1)
            if not measured:
                continue
            truth = seq.clean[t].astype(np.float32) / 255
            static = ~seq.masks[max(0, t - 3):t + 1].any(axis=0)
            if seq.parked_region is not None:
                static &= ~seq.parked_region
            age = memory.age
            for row in rows:
                image = outputs[row.name]
                self._measure(sums[row.name], seq, t, image, truth, static, age)
                for plate in seq.plates.get(t, []):
                    crops.append((row.name, plate.labels, ocr.plate_crop(to_uint8(image), plate),
                                  len(reading.plate_rows(plate))))
            self._read(seq, t, outputs, sums)
            if shown and t in sheet_frames:
                images = {"gain": np.clip(low[t].astype(np.float32) * s / 255, 0, 1),
                          "ground truth": truth, **outputs}
                items.append({"frame": t, "when": sheet_frames[t],
                              "images": {k: to_uint8(v) for k, v in images.items()}})
        reads = ocr.read_crops([(c, lines) for _, _, c, lines in crops], self.tesseract)
        for (row, truth_text, _, _), read in zip(crops, reads, strict=True):
            sums[row].chars[1] += correct_chars(truth_text, read)
        return {name: _summary(total) for name, total in sums.items()}, items

    def _input(self, row: Row, prepared) -> np.ndarray:
        """The row's network input: the frames, and for a network that takes the memory, its
        planes (the recall for a row with memory, zeros for one without)."""
        if not self.engines[row.model].memory_input:
            return prepared.input
        recall = prepared.recall if row.memory else None
        planes = self.pipeline.recalled(recall, prepared.input.shape[1:])
        return np.concatenate([prepared.input, planes])

    def _measured(self, seq, t: int) -> bool:
        if t < 3:
            return False
        near = seq.leave >= 0 and (seq.leave <= t <= seq.leave + GHOST_FRAMES
                                   or seq.arrive - LEVEL_FRAMES <= t < seq.arrive)
        last = t == len(seq.clean) - 1  # (on the contact sheet)
        return t % self.settings.every == 0 or t in seq.plates or near or last

    @staticmethod
    def _measure(total: _Sums, seq, t: int, image: np.ndarray, truth: np.ndarray,
                 static: np.ndarray, age: np.ndarray) -> None:
        error = (image - truth) ** 2  # (H, W, 3)
        old = static & (age > OLD)
        total.add(old, error, total.static)
        total.add(seq.masks[t], error, total.moving)
        bins = np.digitize(age, AGE_EDGES[1:-1])
        for k in range(len(AGE_EDGES) - 1):
            total.add(static & (bins == k), error, total.ages[k])
        residual = (image - truth) * 255
        total.error_sum[old] += residual[old]
        total.error_sq[old] += residual[old] ** 2
        total.frames[old] += 1
        region = seq.parked_region
        if region is not None and region.any():
            if seq.arrive - LEVEL_FRAMES <= t < seq.arrive:
                total.add(region, error, total.level)
            if seq.leave <= t <= seq.leave + GHOST_FRAMES:
                part = [0.0, 0]
                total.add(region, error, part)
                total.ghost[t - seq.leave] = _psnr(part)

    def _read(self, seq, t: int, outputs: dict[str, np.ndarray], sums: dict[str, _Sums]
              ) -> None:
        plates = seq.plates.get(t, [])
        if not plates:
            return
        height, width = seq.clean.shape[1:3]
        x0, y0, x1, y1 = reading.crop_window(plates, height, width)
        names = list(outputs)
        batch = np.stack([outputs[n][y0:y1, x0:x1].transpose(2, 0, 1) for n in names])
        probabilities = self.recogniser.run(batch.astype(np.float32))
        for name, p in zip(names, probabilities, strict=True):
            for plate in plates:
                read = reading.read_plate(p, plate, (x0, y0))
                sums[name].chars[0] += correct_chars(plate.labels, read)
                sums[name].chars[2] += len(plate.labels)


def _summary(total: _Sums) -> dict:
    """A row's figures on one condition (sums kept for pooling)."""
    frames = np.maximum(total.frames, 1)[..., None]
    variance = total.error_sq / frames - (total.error_sum / frames) ** 2
    steady = total.frames >= 10  # pixels measured old and static on at least 10 frames
    temporal = float(np.sqrt(np.maximum(variance[steady], 0)).mean()) if steady.any() else None
    return {"static": list(total.static), "moving": list(total.moving),
            "ages": total.ages.tolist(), "temporal_std": temporal,
            "temporal_pixels": int(steady.sum()), "level": list(total.level),
            "ghost": {str(k): v for k, v in sorted(total.ghost.items())},
            "chars": list(total.chars)}


def run_long(settings: LongSettings, tasks: list[tuple[str, int]], jobs: int = 1
             ) -> Iterator[tuple[list[dict], list[dict]]]:
    """Each (split, sequence)'s (records, sheet items), in completion order."""
    return run_in_processes(LongEvaluator, settings, tasks, jobs)
