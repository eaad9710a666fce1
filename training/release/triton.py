"""A Triton Inference Server model repository for one shipped model (no torch).

Layout, as Triton expects it::

    DIR/<model>/config.pbtxt      # I/O, dynamic batching, TensorRT fp16 hints, warm-up
    DIR/<model>/1/model.onnx      # the checked ONNX file, byte for byte

The config is the text form of Triton's ``ModelConfig`` protobuf; the tests parse it with the
schema that ships in the ``tritonclient`` package. Triton's ONNX Runtime backend runs the model
with the TensorRT execution provider in fp16 over the same min/opt/max profile that nightowl's
own engines use, and falls back to CUDA for anything TensorRT cannot take.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from nightowl.service.engines.profiles import ShapeProfile
from nightowl.service.modelrepo.entries import sha256
from nightowl.service.modelrepo.files import ModelFile

VERSION = "1"  # the repository holds one version: the release in models/


@dataclass(frozen=True)
class TritonOptions:
    """How Triton should serve the model."""

    profile: ShapeProfile = field(default_factory=ShapeProfile)  # max batch: max_batch_size
    instance: str = "gpu"  # "gpu": TensorRT fp16 on one GPU; "cpu": ONNX Runtime on the CPU
    queue_delay_us: int = 5000  # longest a request waits for others to batch with (15 fps: 66 ms)
    engine_cache: str = "/tmp/nightowl-triton-trt"  # where Triton's TensorRT EP caches engines
    warmup: tuple[int, int] | None = (720, 1280)  # (H, W) run once at load; None: no warm-up

    def __post_init__(self) -> None:
        if self.instance not in ("gpu", "cpu"):
            raise ValueError(f"instance must be 'gpu' or 'cpu', got {self.instance!r}")
        if self.queue_delay_us < 0:
            raise ValueError(f"queue_delay_us must be >= 0, got {self.queue_delay_us}")


def write_repository(model: ModelFile, out: Path, options: TritonOptions = TritonOptions()
                     ) -> Path:
    """Write ``out/<model stem>/`` for ``model``; returns that folder."""
    folder = out / model.path.stem
    version = folder / VERSION
    version.mkdir(parents=True, exist_ok=True)
    target = version / "model.onnx"
    shutil.copyfile(model.path, target)
    if sha256(target) != model.sha256:
        raise OSError(f"copy of {model.path} to {target} does not match its sha256")
    (folder / "config.pbtxt").write_text(config_text(model, options))
    return folder


def config_text(model: ModelFile, options: TritonOptions) -> str:
    """Triton's config.pbtxt for ``model``."""
    profile, channels = options.profile, model.input_channels
    out_channels = model.output_channels
    max_batch = profile.max[0]
    # not 1: a preferred size of 1 would send every lone request at once, never batching
    preferred = sorted({b for b in (max_batch // 2, max_batch) if b > 1})
    lines = [
        f"# {model.path.name} (sha256 {model.sha256}), written by `nightowl export --triton`",
        f'name: "{model.path.stem}"',
        'backend: "onnxruntime"',
        f"max_batch_size: {max_batch}",
        "version_policy: { latest: { num_versions: 1 } }",
        _tensor("input", model.input_name, channels),
        _tensor("output", model.output_name, out_channels),
        "dynamic_batching {",
        *([f"  preferred_batch_size: [ {', '.join(map(str, preferred))} ]"] if preferred else []),
        f"  max_queue_delay_microseconds: {options.queue_delay_us}",
        "}",
        f"instance_group [ {{ count: 1 kind: KIND_{options.instance.upper()} }} ]",
    ]
    if options.instance == "gpu":
        lines += _tensorrt(model, options)
    if options.warmup is not None:
        height, width = options.warmup
        lines += [
            "model_warmup [ {",
            f'  name: "{height}x{width}"',
            "  batch_size: 1",
            f'  inputs {{ key: "{model.input_name}" value: {{ data_type: TYPE_FP32 '
            f"dims: [ {channels}, {height}, {width} ] zero_data: true }} }}",
            "} ]",
        ]
    lines.append(f'parameters {{ key: "sha256" value: {{ string_value: "{model.sha256}" }} }}')
    return "\n".join(lines) + "\n"


def _tensor(kind: str, name: str, channels: int) -> str:
    """An input or output block: (C, H, W) per request, any height and width."""
    return (f"{kind} [ {{\n  name: \"{name}\"\n  data_type: TYPE_FP32\n"
            f"  dims: [ {channels}, -1, -1 ]\n}} ]")


def _tensorrt(model: ModelFile, options: TritonOptions) -> list[str]:
    profile, channels = options.profile, model.input_channels
    parameters = {
        "precision_mode": "FP16",
        "max_workspace_size_bytes": str(4 << 30),
        "trt_engine_cache_enable": "1",
        "trt_engine_cache_path": options.engine_cache,
        "trt_timing_cache_enable": "1",
        "trt_timing_cache_path": options.engine_cache,
        **{f"trt_profile_{which}_shapes": profile.ort_option(model.input_name, channels, which)
           for which in ("min", "opt", "max")},
    }
    body = "\n".join(f'      parameters {{ key: "{key}" value: "{value}" }}'
                     for key, value in parameters.items())
    return ["optimization {", "  execution_accelerators {",
            "    gpu_execution_accelerator: [ {", '      name: "tensorrt"', body, "    } ]",
            "  }", "}"]
