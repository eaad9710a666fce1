"""Shape profiles and the on-disk cache key of compiled GPU engines.

TensorRT compiles an engine for a range of input shapes (one optimisation profile: min, opt,
max of batch, height and width) on one GPU model with one TensorRT version. A compiled engine
is reused only when all of these, and the model's bytes, are the same: the cache folder's name
is the key, so a changed model or upgraded library lands in a fresh folder and is rebuilt.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

Shape = tuple[int, int, int]  # (batch, height, width)

DEFAULT_CACHE_DIR = Path.home() / ".cache" / "nightowl" / "engines"


@dataclass(frozen=True)
class ShapeProfile:
    """Input shapes a TensorRT engine accepts, as (batch, height, width); channels come from the
    model. ``opt`` is the shape TensorRT tunes its kernels for: the cameras' usual frame."""

    min: Shape = (1, 32, 32)
    opt: Shape = (1, 720, 1280)
    max: Shape = (8, 1080, 1920)

    def __post_init__(self) -> None:
        for name in ("min", "opt", "max"):
            shape = getattr(self, name)
            if len(shape) != 3 or any(int(v) < 1 for v in shape):
                raise ValueError(f"profile {name} must be (batch, height, width) of positive "
                                 f"ints, got {shape}")
        if not all(a <= b <= c for a, b, c in zip(self.min, self.opt, self.max, strict=True)):
            raise ValueError(f"profile needs min <= opt <= max in every dimension, got "
                             f"min {self.min}, opt {self.opt}, max {self.max}")

    def contains(self, batch: int, height: int, width: int) -> bool:
        return all(lo <= v <= hi for lo, v, hi in
                   zip(self.min, (batch, height, width), self.max, strict=True))

    def shapes(self, channels: int) -> dict[str, tuple[int, int, int, int]]:
        """{"min"|"opt"|"max": (B, C, H, W)} for a model input of ``channels``."""
        return {name: (b, channels, h, w) for name, (b, h, w) in
                (("min", self.min), ("opt", self.opt), ("max", self.max))}

    def ort_option(self, input_name: str, channels: int, which: str) -> str:
        """ONNX Runtime TensorRT EP's shape string, e.g. ``frames:1x12x720x1280``."""
        return f"{input_name}:" + "x".join(str(v) for v in self.shapes(channels)[which])

    def tag(self) -> str:
        text = "-".join("x".join(map(str, s)) for s in (self.min, self.opt, self.max))
        return hashlib.sha256(text.encode()).hexdigest()[:8]


def cache_key(model_sha256: str, gpu: str, tensorrt: str, runtime: str, profile: ShapeProfile,
              precision: str = "fp16") -> str:
    """Folder name of a compiled engine: model sha256, the runtime (``ort1.20.1`` or
    ``native``), TensorRT version, GPU name, precision and the profile's hash."""
    parts = [model_sha256[:16], runtime, f"trt{tensorrt}", _slug(gpu), precision,
             f"profile{profile.tag()}"]
    return "-".join(parts)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", text).strip("_") or "unknown"


def gpu_name(device_id: int = 0) -> str | None:
    """Name of CUDA device ``device_id`` (as CUDA numbers it), or None without a usable GPU.

    Asks the CUDA runtime through cuda-python when installed (it honours CUDA_VISIBLE_DEVICES),
    else nvidia-smi (which numbers all of the host's GPUs)."""
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError:
            cudart = None
    if cudart is not None:
        error, properties = cudart.cudaGetDeviceProperties(device_id)
        if int(error) == 0:
            name = properties.name
            return (name.split(b"\0", 1)[0].decode() if isinstance(name, bytes) else str(name))
        return None
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        result = subprocess.run([smi, "-i", str(device_id), "--query-gpu=name",
                                 "--format=csv,noheader"], capture_output=True, text=True,
                                timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    name = result.stdout.strip()
    return name if result.returncode == 0 and name else None


def tensorrt_version() -> str | None:
    """The TensorRT Python package's version, or None when it is not installed."""
    try:
        import tensorrt
    except ImportError:
        return None
    return str(tensorrt.__version__)
