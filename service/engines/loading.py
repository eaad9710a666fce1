"""``load_engine``: check the model file, pick the backend, start it, warm it up.

``auto`` tries, best first: a native TensorRT plan built for this host, ONNX Runtime's TensorRT
execution provider, its CUDA provider, its CPU provider; it logs why each better one was passed
over and which one it chose. A named backend that cannot start raises BackendUnavailable.

On the CPU (named, or where auto ends) the int8 copy of the model runs when the manifest lists
one and ``cpu_precision`` is "int8": under half the time of fp32, each copy's distance from
the fp32 output in its manifest entry (bench/README.md, 'int8 on the CPU'). GPU backends
always take the fp32 file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from nightowl.service.engines import ort, tensorrt
from nightowl.service.engines.base import Engine, warm_up
from nightowl.service.engines.profiles import ShapeProfile, gpu_name
from nightowl.service.errors import BackendUnavailable, EngineError
from nightowl.service.modelrepo.files import ModelFile, listed_copy, resolve

log = logging.getLogger("nightowl.engines")

BACKENDS = ("onnxruntime-cpu", "onnxruntime-cuda", "onnxruntime-tensorrt", "tensorrt")
CPU_PRECISIONS = ("int8", "fp32")
AUTO_ORDER = ("tensorrt", "onnxruntime-tensorrt", "onnxruntime-cuda", "onnxruntime-cpu")
WHY = {"tensorrt": "a TensorRT plan built for this GPU (fastest: fp16, no runtime overhead)",
       "onnxruntime-tensorrt": "TensorRT through ONNX Runtime (fp16, engine cached on disk)",
       "onnxruntime-cuda": "a CUDA GPU through ONNX Runtime (fp32; TensorRT is not available)",
       "onnxruntime-cpu": "no usable GPU backend: ONNX Runtime on the CPU"}


def load_engine(model: str | Path, backend: str = "auto", *, models_dir: Path | None = None,
                threads: int | None = None, warmup_shapes: Sequence[tuple[int, int]] = (),
                cache_dir: Path | None = None, profile: ShapeProfile | None = None,
                device_id: int = 0, cpu_precision: str = "int8") -> Engine:
    """A ready engine for ``model`` (a file name in ``models_dir``, or a path).

    backend: "auto" or one of :data:`BACKENDS`. threads: CPU threads for onnxruntime-cpu (None:
    one per physical core). warmup_shapes: (height, width) frames run once before returning.
    cache_dir: where compiled TensorRT engines live (default ~/.cache/nightowl/engines).
    profile: TensorRT's min/opt/max (batch, height, width) (default :class:`ShapeProfile`).
    cpu_precision: "int8" runs the model's listed int8 copy on onnxruntime-cpu (fp32, with a
    log line, when none is listed); "fp32" the file itself.
    Raises ModelFileError for a missing, unlisted, altered or unreadable file (whatever the
    backend) and BackendUnavailable when the named backend cannot start.
    """
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(f"backend must be 'auto' or one of {', '.join(BACKENDS)}, got "
                         f"{backend!r}")
    if cpu_precision not in CPU_PRECISIONS:
        raise ValueError(f"cpu_precision must be one of {', '.join(CPU_PRECISIONS)}, got "
                         f"{cpu_precision!r}")
    checked = resolve(model, models_dir)
    options = dict(threads=threads, cache_dir=cache_dir, profile=profile, device_id=device_id,
                   warmup_shapes=list(warmup_shapes), cpu_precision=cpu_precision)
    return _auto(checked, options) if backend == "auto" else _start(checked, backend, options)


def _start(model: ModelFile, backend: str, options: dict) -> Engine:
    """Start ``backend`` and warm it up; a GPU backend whose first runs fail is unavailable
    (under auto the next one is tried)."""
    options = dict(options)
    shapes = options.pop("warmup_shapes")
    precision = options.pop("cpu_precision")
    if backend == "onnxruntime-cpu":
        model = cpu_model(model, precision)
    if backend == "tensorrt":
        engine: Engine = tensorrt.load(model, profile=options["profile"],
                                       cache_dir=options["cache_dir"],
                                       device_id=options["device_id"])
    else:
        engine = ort.load(model, backend, **options)
    if not shapes and backend != "onnxruntime-cpu":
        # a GPU engine builds or tunes on its first run: do that now, at the profile's opt
        shapes = [(options["profile"] or ShapeProfile()).opt[1:]]
    start = time.perf_counter()
    try:
        warm_up(engine, model.input_channels, shapes)
    except EngineError:
        raise
    except Exception as error:  # the runtimes raise their own types
        if backend == "onnxruntime-cpu":
            raise EngineError(f"{model.path.name} failed its warm-up run on the CPU: "
                              f"{error}") from error
        raise BackendUnavailable(f"{backend} failed its warm-up run of {model.path.name} "
                                 f"(building or running its engine): {error}") from None
    if shapes:
        log.info("engine %s on %s warmed up on %s in %.1f s", model.path.name, backend,
                 ", ".join(f"{h}x{w}" for h, w in shapes), time.perf_counter() - start)
    return engine


def cpu_model(model: ModelFile, precision: str) -> ModelFile:
    """The file onnxruntime-cpu runs for ``model``: its listed int8 copy when ``precision`` is
    "int8" and the manifest lists one, else ``model`` itself; logs which and why."""
    if precision == "int8" and model.precision == "fp32":
        copy = listed_copy(model, "int8")
        if copy is not None:
            log.info("engine %s on onnxruntime-cpu runs its int8 copy %s (cpu_precision int8)",
                     model.path.name, copy.path.name)
            return copy
        log.info("engine %s on onnxruntime-cpu runs in fp32: the manifest lists no int8 copy "
                 "of it (make one with `nightowl export --int8`)", model.path.name)
        return model
    log.info("engine %s on onnxruntime-cpu runs in %s (cpu_precision %s)", model.path.name,
             model.precision, precision)
    return model


def _auto(model: ModelFile, options: dict) -> Engine:
    passed: list[str] = []
    for backend in AUTO_ORDER:
        try:
            engine = _start(model, backend, options)
        except BackendUnavailable as reason:
            log.info("engine auto: %s is not available for %s: %s", backend, model.path.name,
                     reason)
            passed.append(f"{backend}: {reason}")
            continue
        log.info("engine auto: chose %s for %s: %s", backend, model.path.name, WHY[backend])
        if passed and backend == "onnxruntime-cpu" and gpu_name(options["device_id"]):
            # a GPU is there but unused: worth more than an info line
            log.warning("engine auto: a GPU is present but %s fell back to the CPU: %s",
                        model.path.name, "; ".join(passed))
        return engine
    raise BackendUnavailable("no backend could start: " + "; ".join(passed))
