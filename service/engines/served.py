"""The engines a Settings names, loaded as it says: one loader for the server and for
``nightowl enhance``, so both read models_dir, threads, backend and cpu_precision alike."""

from __future__ import annotations

from nightowl.service.engines.base import Engine
from nightowl.service.engines.loading import load_engine
from nightowl.service.settings import Settings


def load_engines(settings: Settings) -> dict[str, Engine]:
    """{"multi": settings.model, "single": settings.single_model (unless few_frames is
    "repeat")}, each from settings.models_dir on settings.backend with its threads and
    cpu_precision, warmed up on warmup_sizes (blocking; EngineError when one cannot load)."""
    names = {"multi": settings.model}
    if settings.few_frames != "repeat":
        names["single"] = settings.single_model
    return {key: load_engine(name, settings.backend, models_dir=settings.models_dir,
                             threads=settings.threads, cpu_precision=settings.cpu_precision,
                             warmup_shapes=settings.warmup_sizes)
            for key, name in names.items()}
