"""ONNX Runtime engines: CPU, CUDA, and the TensorRT execution provider (fp16, cached engines).

onnxruntime is imported here, when an engine is made; a GPU provider is used only when the
installed build has it (onnxruntime-gpu), and a session that silently fell back to CPU is
refused, so that "cuda" never means "CPU, slowly".
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from nightowl.service.engines.base import check_batch
from nightowl.service.engines.profiles import (
    DEFAULT_CACHE_DIR,
    ShapeProfile,
    cache_key,
    gpu_name,
    tensorrt_version,
)
from nightowl.service.errors import BackendUnavailable, BatchError, ModelFileError
from nightowl.service.modelrepo.files import ModelFile

log = logging.getLogger("nightowl.engines")

PROVIDERS = {"onnxruntime-cpu": "CPUExecutionProvider",
             "onnxruntime-cuda": "CUDAExecutionProvider",
             "onnxruntime-tensorrt": "TensorrtExecutionProvider"}
TRT_WORKSPACE = 4 << 30  # bytes TensorRT may use for tactics while building


class OrtEngine:
    """A model in one ONNX Runtime session; see :class:`nightowl.service.engines.Engine`."""

    def __init__(self, model: ModelFile, backend: str, session, details: dict,
                 profile: ShapeProfile | None = None) -> None:
        self.model = model
        self.name = model.path.name
        self.backend = backend
        self.input_name = model.input_name
        self.frames = model.frames
        self.memory_input = model.memory_input
        self.reference_gain = model.reference_gain
        self._session = session
        self._output = model.output_name
        self._details = details
        self._profile = profile  # TensorRT's accepted shapes; None: any

    def run(self, batch: np.ndarray) -> np.ndarray:
        batch = check_batch(batch, self.model)
        if self._profile is not None and not self._profile.contains(
                batch.shape[0], batch.shape[2], batch.shape[3]):
            raise BatchError(f"{self.name} on {self.backend} accepts (batch, height, width) from "
                             f"{self._profile.min} to {self._profile.max}, got "
                             f"{(batch.shape[0], *batch.shape[2:])}")
        (out,) = self._session.run([self._output], {self.input_name: batch})
        return out

    def describe(self) -> dict:
        return {**self.model.entry, "backend": self.backend,
                "providers": self._session.get_providers(), **self._details}


def load(model: ModelFile, backend: str, *, threads: int | None = None, device_id: int = 0,
         cache_dir: Path | None = None, profile: ShapeProfile | None = None) -> OrtEngine:
    """An ONNX Runtime engine for ``model`` on ``backend`` (one of :data:`PROVIDERS`)."""
    try:
        import onnxruntime as ort
    except ImportError as error:
        raise BackendUnavailable(f"onnxruntime is not installed: {error}") from None
    provider = PROVIDERS[backend]
    if provider not in ort.get_available_providers():
        raise BackendUnavailable(
            f"this onnxruntime {ort.__version__} build has no {provider} (it has "
            f"{', '.join(ort.get_available_providers())}); install the gpu extra's "
            f"onnxruntime-gpu in place of onnxruntime")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    # no arena for host memory: a peak (a 4K frame) goes back to malloc when its run ends, and
    # from there to the system (serving.memory.trim), instead of staying with the session
    options.enable_cpu_mem_arena = False
    options.inter_op_num_threads = 1  # one chain of convolutions: no parallel branches to run
    options.intra_op_num_threads = threads or 0  # 0: one per physical core
    # Idle worker threads sleep instead of spinning: the server aligns frames (OpenCV) and
    # serves requests on the same cores, and spinning threads take their time (bench/README.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    details: dict = {"threads": threads or "onnxruntime default (physical cores)",
                     "spinning": False}
    if backend == "onnxruntime-cpu":
        providers: list = ["CPUExecutionProvider"]
        details["precision"] = model.precision
    else:
        providers, details, profile = _gpu_providers(model, backend, device_id, cache_dir,
                                                     profile, ort.__version__, details)
        preload = getattr(ort, "preload_dlls", None)  # onnxruntime-gpu >= 1.21
        if preload is not None:
            try:  # CUDA and cuDNN from the nvidia-* wheels, when that is where they are
                preload()
            except Exception as error:  # a failed preload only costs a fallback
                log.info("onnxruntime.preload_dlls failed (%s); relying on the system's", error)
    try:
        session = ort.InferenceSession(str(model.path), options, providers=providers)
    except Exception as error:  # onnxruntime raises its own exception types
        if backend == "onnxruntime-cpu":
            raise ModelFileError(f"model file {model.path} cannot be loaded by onnxruntime: "
                                 f"{error}") from None
        raise BackendUnavailable(f"{provider} could not load {model.path.name}: "
                                 f"{error}") from None
    active = session.get_providers()
    if active[0] != provider:
        raise BackendUnavailable(f"onnxruntime fell back to {active[0]} for {model.path.name}: "
                                 f"{provider} could not start (no CUDA device, or its CUDA, "
                                 f"cuDNN or TensorRT libraries are missing)")
    return OrtEngine(model, backend, session, details,
                     profile if backend == "onnxruntime-tensorrt" else None)


def _gpu_providers(model: ModelFile, backend: str, device_id: int, cache_dir: Path | None,
                   profile: ShapeProfile | None, ort_version: str,
                   details: dict) -> tuple[list, dict, ShapeProfile | None]:
    gpu = gpu_name(device_id)
    if gpu is None:
        raise BackendUnavailable(f"no CUDA GPU {device_id} found (neither cuda-python nor "
                                 f"nvidia-smi reports one)")
    cuda = {"device_id": device_id, "cudnn_conv_algo_search": "EXHAUSTIVE"}
    details = {**details, "gpu": gpu, "device_id": device_id}
    if backend == "onnxruntime-cuda":
        return [("CUDAExecutionProvider", cuda)], details, None
    trt = tensorrt_version()
    if trt is None:
        raise BackendUnavailable("TensorRT is not installed (the tensorrt extra provides the "
                                 "libraries the TensorRT execution provider loads)")

    profile = profile or ShapeProfile()
    folder = (cache_dir or DEFAULT_CACHE_DIR) / cache_key(
        model.sha256, gpu, trt, f"ort{ort_version}", profile)
    folder.mkdir(parents=True, exist_ok=True)
    channels = model.input_channels
    options = {
        "device_id": device_id,
        "trt_fp16_enable": True,
        "trt_max_workspace_size": TRT_WORKSPACE,
        "trt_engine_cache_enable": True,
        "trt_engine_cache_path": str(folder),
        "trt_timing_cache_enable": True,
        "trt_timing_cache_path": str(folder),
        "trt_profile_min_shapes": profile.ort_option(model.input_name, channels, "min"),
        "trt_profile_opt_shapes": profile.ort_option(model.input_name, channels, "opt"),
        "trt_profile_max_shapes": profile.ort_option(model.input_name, channels, "max"),
    }
    log.info("engine cache for %s on %s: %s", model.path.name, backend, folder)
    details = {**details, "tensorrt": trt, "precision": "fp16", "cache": str(folder),
               "profile": {"min": profile.min, "opt": profile.opt, "max": profile.max}}
    # CUDA runs whatever TensorRT cannot take; nothing falls through to the CPU
    return ([("TensorrtExecutionProvider", options), ("CUDAExecutionProvider", cuda)], details,
            profile)
