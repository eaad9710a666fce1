"""Native TensorRT: build a serialised fp16 plan from the ONNX file, and run it.

``nightowl export --tensorrt`` calls :func:`build_plan`; the server loads the plan with
:func:`load`. Both need only the ``tensorrt`` and ``cuda-python`` packages (the tensorrt and
gpu extras), never torch. A plan is valid for one model file, TensorRT version and GPU model:
it lives in a folder named by :func:`plan_folder` (model sha256, TensorRT version, GPU name,
precision, profile), next to the timing cache that makes a rebuild fast and a ``key.json``
saying what the key is made of.
"""

from __future__ import annotations

import json
import logging
import threading
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
from nightowl.service.errors import BackendUnavailable, BatchError, EngineError
from nightowl.service.modelrepo.files import ModelFile

log = logging.getLogger("nightowl.engines")

PLAN = "model.plan"
TIMING_CACHE = "timing.cache"
WORKSPACE = 4 << 30  # bytes TensorRT may use for tactics while building


def plan_folder(model: ModelFile, profile: ShapeProfile, cache_dir: Path | None = None,
                device_id: int = 0) -> Path:
    """Where the plan for ``model`` on this host's GPU and TensorRT lives (not created)."""
    trt_version = tensorrt_version()
    if trt_version is None:
        raise BackendUnavailable("the tensorrt package is not installed (pip install "
                                 "'nightowl[gpu,tensorrt]')")
    gpu = gpu_name(device_id)
    if gpu is None:
        raise BackendUnavailable(f"no CUDA GPU {device_id} found (neither cuda-python nor "
                                 f"nvidia-smi reports one)")
    key = cache_key(model.sha256, gpu, trt_version, "native", profile)
    return (cache_dir or DEFAULT_CACHE_DIR) / key


def build_plan(model: ModelFile, profile: ShapeProfile | None = None,
               cache_dir: Path | None = None, *, fp16: bool = True,
               device_id: int = 0) -> Path:
    """Compile ``model`` into a TensorRT plan for this GPU; returns the plan's path.

    Reuses the folder's timing cache, so rebuilding after a model change is quicker, and writes
    the plan atomically (a half-written plan is never loaded).
    """
    profile = profile or ShapeProfile()
    trt = _import_tensorrt()
    _cuda_runtime()  # fail early, with the reason, when CUDA cannot run
    folder = plan_folder(model, profile, cache_dir, device_id)
    folder.mkdir(parents=True, exist_ok=True)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(model.path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"TensorRT cannot parse {model.path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE)
    if fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    timing_path = folder / TIMING_CACHE
    timing = config.create_timing_cache(timing_path.read_bytes() if timing_path.exists()
                                        else b"")
    config.set_timing_cache(timing, False)  # False: refuse a cache from another GPU
    optimisation = builder.create_optimization_profile()
    shapes = profile.shapes(model.input_channels)
    optimisation.set_shape(model.input_name, shapes["min"], shapes["opt"], shapes["max"])
    config.add_optimization_profile(optimisation)
    log.info("building TensorRT plan for %s (fp16=%s, profile %s..%s) in %s", model.path.name,
             fp16, profile.min, profile.max, folder)
    serialised = builder.build_serialized_network(network, config)
    if serialised is None:
        raise EngineError(f"TensorRT failed to build a plan for {model.path} (see its log)")
    _write_atomically(timing_path, memoryview(config.get_timing_cache().serialize()))
    plan = folder / PLAN
    _write_atomically(plan, memoryview(serialised))
    key = {"model": model.path.name, "sha256": model.sha256, "tensorrt": trt.__version__,
           "gpu": gpu_name(device_id), "precision": "fp16" if fp16 else "fp32",
           "profile": {"min": profile.min, "opt": profile.opt, "max": profile.max}}
    _write_atomically(folder / "key.json", memoryview(json.dumps(key, indent=1).encode()))
    return plan


class TensorRTEngine:
    """A deserialised plan with one execution context; see
    :class:`nightowl.service.engines.Engine`. Calls are serialised by a lock (one context)."""

    backend = "tensorrt"

    def __init__(self, model: ModelFile, plan: Path, profile: ShapeProfile,
                 device_id: int = 0) -> None:
        trt = _import_tensorrt()
        self._cudart = _cuda_runtime()
        _check(self._cudart.cudaSetDevice(device_id), "cudaSetDevice")
        self.model = model
        self.name = model.path.name
        self.input_name = model.input_name
        self.frames = model.frames
        self.memory_input = model.memory_input
        self.reference_gain = model.reference_gain
        self._output = model.output_name
        self._profile = profile
        self._plan = plan
        self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self._engine = self._runtime.deserialize_cuda_engine(plan.read_bytes())
        if self._engine is None:
            raise BackendUnavailable(f"TensorRT could not deserialise {plan} (built by another "
                                     f"TensorRT version or GPU?); rebuild it with "
                                     f"`nightowl export --tensorrt`")
        self._context = self._engine.create_execution_context()
        self._stream = _check(self._cudart.cudaStreamCreate(), "cudaStreamCreate")
        self._buffers: dict[str, tuple[int, int]] = {}  # tensor -> (device pointer, bytes)
        self._lock = threading.Lock()
        self._gpu = gpu_name(device_id)

    def run(self, batch: np.ndarray) -> np.ndarray:
        batch = check_batch(batch, self.model)
        b, _, h, w = batch.shape
        if not self._profile.contains(b, h, w):
            raise BatchError(f"{self.name} on tensorrt accepts (batch, height, width) from "
                             f"{self._profile.min} to {self._profile.max}, got {(b, h, w)}")
        cudart = self._cudart
        with self._lock:
            self._context.set_input_shape(self.input_name, batch.shape)
            out = np.empty(tuple(self._context.get_tensor_shape(self._output)), np.float32)
            source = self._buffer(self.input_name, batch.nbytes)
            target = self._buffer(self._output, out.nbytes)
            self._context.set_tensor_address(self.input_name, source)
            self._context.set_tensor_address(self._output, target)
            _check(cudart.cudaMemcpyAsync(source, batch.ctypes.data, batch.nbytes,
                                          cudart.cudaMemcpyKind.cudaMemcpyHostToDevice,
                                          self._stream), "cudaMemcpyAsync")
            if not self._context.execute_async_v3(int(self._stream)):
                raise EngineError(f"TensorRT failed to run {self.name} on {batch.shape}")
            _check(cudart.cudaMemcpyAsync(out.ctypes.data, target, out.nbytes,
                                          cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                                          self._stream), "cudaMemcpyAsync")
            _check(cudart.cudaStreamSynchronize(self._stream), "cudaStreamSynchronize")
        return out

    def describe(self) -> dict:
        return {**self.model.entry, "backend": self.backend, "providers": ["TensorRT (native)"],
                "plan": str(self._plan), "gpu": self._gpu, "precision": "fp16",
                "profile": {"min": self._profile.min, "opt": self._profile.opt,
                            "max": self._profile.max}}

    def _buffer(self, tensor: str, nbytes: int) -> int:
        """A device buffer of at least ``nbytes`` for ``tensor``, grown when needed."""
        pointer, size = self._buffers.get(tensor, (0, 0))
        if size < nbytes:
            if pointer:
                _check(self._cudart.cudaFree(pointer), "cudaFree")
            pointer = _check(self._cudart.cudaMalloc(nbytes), "cudaMalloc")
            self._buffers[tensor] = (pointer, nbytes)
        return pointer

    def __del__(self) -> None:
        cudart = getattr(self, "_cudart", None)
        if cudart is None:
            return
        for pointer, _ in getattr(self, "_buffers", {}).values():
            cudart.cudaFree(pointer)
        if getattr(self, "_stream", None) is not None:
            cudart.cudaStreamDestroy(self._stream)


def load(model: ModelFile, *, profile: ShapeProfile | None = None,
         cache_dir: Path | None = None, device_id: int = 0) -> TensorRTEngine:
    """The plan that ``nightowl export --tensorrt`` built for ``model`` on this host."""
    _import_tensorrt()
    _cuda_runtime()
    profile = profile or ShapeProfile()
    plan = plan_folder(model, profile, cache_dir, device_id) / PLAN
    if not plan.is_file():
        raise BackendUnavailable(f"no TensorRT plan for {model.path.name} with this GPU, "
                                 f"TensorRT version and profile at {plan}; build it with "
                                 f"`nightowl export --tensorrt` on this host")
    return TensorRTEngine(model, plan, profile, device_id)


def _import_tensorrt():
    try:
        import tensorrt
    except ImportError as error:
        raise BackendUnavailable(f"the tensorrt package is not installed (pip install "
                                 f"'nightowl[gpu,tensorrt]'): {error}") from None
    return tensorrt


def _cuda_runtime():
    """cuda-python's runtime module, after checking that a CUDA device is there."""
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError as error:
            raise BackendUnavailable(f"cuda-python is not installed (pip install "
                                     f"'nightowl[gpu]'): {error}") from None
    error, count = cudart.cudaGetDeviceCount()
    if int(error) != 0 or count < 1:
        raise BackendUnavailable(f"no CUDA device (cudaGetDeviceCount: {error}, {count})")
    return cudart


def _check(result, what: str):
    """cuda-python returns (error, *values): raise on an error, return the value(s)."""
    error, *values = result
    if int(error) != 0:
        raise EngineError(f"{what} failed: {error}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def _write_atomically(path: Path, data: memoryview) -> None:
    staging = path.with_suffix(path.suffix + ".partial")
    staging.write_bytes(data)
    staging.replace(path)
