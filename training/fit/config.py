"""Experiment configuration: one TOML file per experiment, read into frozen dataclasses.

Unknown keys are errors that name the key and the allowed ones, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Literal, get_type_hints

from nightowl.training.fit.examples import CropConfig
from nightowl.training.fit.losses import LossConfig
from nightowl.training.nets.enhancers import EnhancerConfig
from nightowl.training.nets.flow import FlowConfig
from nightowl.training.nets.recogniser import RecogniserConfig
from nightowl.training.synth.degrade import NoiseConfig
from nightowl.training.synth.memory_view import MemoryViewConfig
from nightowl.training.synth.samples import SampleConfig
from nightowl.training.synth.scenes import SceneConfig


@dataclass(frozen=True)
class DataConfig:
    train_seed: int = 1  # data set seed of the endless training stream
    val_seed: int = 900_001  # data set seed of the fixed validation set (never trained on)
    val_count: int = 64  # validation sequences
    scene: SceneConfig = field(default_factory=SceneConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    crop: CropConfig = field(default_factory=CropConfig)
    memory: MemoryViewConfig = field(default_factory=MemoryViewConfig)  # a memory network's
    #   simulated background memory (model.memory)

    def samples(self) -> SampleConfig:
        """The training stream's samples (photographs of ``scene.photo_split``)."""
        return SampleConfig(scene=self.scene, noise=self.noise)

    def val_samples(self) -> SampleConfig:
        """The validation set's samples: photographs of the "val" split, never trained on."""
        scene = replace(self.scene, photo_split="val") if self.scene.uses_photos else self.scene
        return SampleConfig(scene=scene, noise=self.noise)


@dataclass(frozen=True)
class TrainConfig:
    name: str  # the run's name, written into checkpoints and exports
    task: Literal["enhancer", "recogniser", "flow"] = "enhancer"
    seed: int = 0  # weights and dropout; the data has its own seeds
    steps: int = 5000  # optimiser steps (the stream is endless: there are no epochs)
    batch_size: int = 8  # per process
    lr: float = 1e-3  # Adam, as in the paper
    lr_schedule: Literal["constant", "cosine"] = "constant"
    workers: int = 1  # DataLoader worker processes per training process
    threads: int = 0  # torch intra-op threads (0: torch's default)
    val_every: int = 500  # steps between validations (and log lines)
    checkpoint_every: int = 500  # steps between checkpoints
    recogniser: str = ""  # frozen recogniser: final.pt or the released .onnx (L_CR, accuracy)
    init_from: str = ""  # start from these weights (a released .onnx or a final.pt); "": random
    max_minutes: float = 0.0  # stop after this much training time (0: run all the steps)
    model: EnhancerConfig = field(default_factory=EnhancerConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    recogniser_model: RecogniserConfig = field(default_factory=RecogniserConfig)
    flow_model: FlowConfig = field(default_factory=FlowConfig)
    moving_weight: float = 4.0  # flow: weight of moving pixels in the end-point error
    data: DataConfig = field(default_factory=DataConfig)


def load_config(path: Path | str) -> TrainConfig:
    """Read a TOML experiment file; relative ``recogniser`` paths are taken from the repo root
    (the current directory), as the shipped configs are."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML: {error}") from None
    return from_dict(TrainConfig, raw, str(path))


def from_dict(cls: type, raw: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from nested dicts, checking every key."""
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: "
                         f"{', '.join(sorted(known))}")
    values = {}
    for name, value in raw.items():
        kind = hints[name]
        if is_dataclass(kind):
            if not isinstance(value, dict):
                raise ValueError(f"{where}: [{name}] must be a table")
            values[name] = from_dict(kind, value, f"{where} [{name}]")
        elif isinstance(value, list):
            values[name] = tuple(value)
        else:
            values[name] = value
    try:
        return cls(**values)
    except TypeError as error:
        raise ValueError(f"{where}: {error}") from None
