"""The engines a Settings names, loaded as it says: one loader for the server and for
``nightowl enhance``, so both read models_dir, threads, backend, cpu_precision and require_gpu
alike.

With require_gpu an engine that ends on the CPU is an error, raised before the server attaches
it: ``nightowl serve`` then exits (status 2, one line) rather than staying up unready. A
container that exits is restarted by Compose and shown as CrashLoopBackOff by Kubernetes, where
one that is up and unready is only marked unhealthy by plain Docker and left alone; and the
start-up already treats an engine that cannot load this way.
"""

from __future__ import annotations

from nightowl.service.engines.base import Engine
from nightowl.service.engines.loading import load_engine
from nightowl.service.errors import BackendUnavailable, ModelFileError
from nightowl.service.settings import Settings

CPU = "onnxruntime-cpu"


def load_engines(settings: Settings) -> dict[str, Engine]:
    """{"multi": settings.model, "single": settings.single_model (unless few_frames is
    "repeat"), "flow": settings.flow_model (with alignment "network")}, each from
    settings.models_dir on settings.backend with its threads and cpu_precision, warmed up on
    warmup_sizes (blocking; EngineError when one cannot load, and BackendUnavailable when
    require_gpu is set and one ended on the CPU)."""
    names = {"multi": settings.model}
    if settings.few_frames != "repeat":
        names["single"] = settings.single_model
    if settings.alignment == "network":
        names["flow"] = settings.flow_model
    engines = {}
    for key, name in names.items():
        try:
            engine = load_engine(name, settings.backend, models_dir=settings.models_dir,
                                 threads=settings.threads, cpu_precision=settings.cpu_precision,
                                 warmup_shapes=settings.warmup_sizes)
        except ModelFileError as error:
            if key != "flow":
                raise
            raise ModelFileError(f"{error}; alignment 'network' (NIGHTOWL_ALIGNMENT) needs a "
                                 f"trained flow network: `nightowl train "
                                 f"training/configs/flow.toml` then `nightowl export --only "
                                 f"flow`, or use alignment 'dis'") from None
        if settings.require_gpu and engine.backend == CPU:
            raise BackendUnavailable(
                f"require_gpu is set (NIGHTOWL_REQUIRE_GPU=true) but {engine.name} got backend "
                f"{engine.backend}: no GPU backend could start (the log says why each was "
                f"passed over); fix the GPU, or set NIGHTOWL_REQUIRE_GPU=false to serve on "
                f"the CPU")
        engines[key] = engine
    return engines
