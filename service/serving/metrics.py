"""Prometheus metrics of one server instance (its own registry, so instances never clash).

Beside nightowl's own, the families an operator of Triton looks for, named after Triton's:
per model (labels model, version, backend) frames that succeeded, failures by reason, frames
and engine calls, and queue and compute time apart; the process (``process_*``); and the GPUs
where NVML finds one (``nightowl_gpu_*``, gpu_metrics.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
)

from nightowl.service.engines.base import Engine, precision
from nightowl.service.serving.gpu_metrics import GpuCollector

_LATENCY = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
MODEL = ["model", "version", "backend"]  # the file that ran, its sha256[:12], the backend


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.frames = Counter("nightowl_frames", "Frames answered, by protocol and status",
                              ["protocol", "status"], registry=r)
        self.errors = Counter("nightowl_errors", "Requests refused, by protocol and problem type",
                              ["protocol", "type"], registry=r)
        self.latency = Histogram("nightowl_frame_seconds", "Seconds from a frame's arrival to "
                                 "its result", ["protocol"], buckets=_LATENCY, registry=r)
        self.stage = Histogram("nightowl_stage_seconds", "Seconds per pipeline stage",
                               ["stage"], buckets=_LATENCY, registry=r)
        self.batch = Histogram("nightowl_batch_frames", "Frames per engine call",
                               buckets=(1, 2, 4, 8, 16, 32), registry=r)
        self.in_flight = Gauge("nightowl_frames_in_flight", "Frames admitted and not yet "
                               "answered", registry=r)
        self.cameras = Gauge("nightowl_cameras", "Cameras with a buffer", registry=r)
        self.streams = Gauge("nightowl_streams", "Open gRPC streams", registry=r)
        self.memory = Gauge("nightowl_memory_reserved_bytes", "Bytes of the memory budget "
                            "reserved by frames in flight (estimated peak)", registry=r)
        # nightowl_engine_info{role,model,backend,precision} 1: which backend serves, so a GPU
        # host serving on the CPU shows on a dashboard
        self.engine = Info("nightowl_engine", "The engine of each role (multi, single): model "
                           "file, backend and precision", ["role"], registry=r)
        # --- per model, as Triton counts them (nv_inference_*)
        self.success = Counter("nightowl_inference_request_success", "Frames the engine "
                               "enhanced", MODEL, registry=r)
        self.failure = Counter("nightowl_inference_request_failure", "Frames refused or "
                               "failed, by reason (the problem type: bad-image, overloaded, "
                               "not-ready, engine-failed, ...); the model is the served one, "
                               "empty before it is loaded", [*MODEL, "reason"], registry=r)
        self.inferences = Counter("nightowl_inference_count", "Frames through engine calls",
                                  MODEL, registry=r)
        self.executions = Counter("nightowl_inference_exec_count", "Engine calls (one per "
                                  "batch): inference_count / exec_count is the mean batch",
                                  MODEL, registry=r)
        self.queue = Histogram("nightowl_inference_queue_seconds", "Seconds a frame waited "
                               "for its engine call (batching, the engine busy)", MODEL,
                               buckets=_LATENCY, registry=r)
        self.compute = Histogram("nightowl_inference_compute_seconds", "Seconds of each engine "
                                 "call (a whole batch)", MODEL, buckets=_LATENCY, registry=r)
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_...
        r.register(PLATFORM_COLLECTOR)
        r.register(GC_COLLECTOR)
        if (gpus := GpuCollector.load()) is not None:
            r.register(gpus)
        self._served: dict[str, str] = dict.fromkeys(MODEL, "")
        self._labels: dict[int, dict[str, str]] = {}  # id(engine) -> its model labels

    def show_engines(self, engines: Mapping[str, Engine]) -> None:
        """nightowl_engine_info of each role ("multi", "single") as it is served."""
        for role, engine in engines.items():
            self.engine.labels(role=role).info(engine_info(engine))
        self._served = model_labels(engines["multi"])

    def failed(self, protocol: str, reason: str) -> None:
        """A frame or request refused or failed: ``reason`` is its problem type (slug)."""
        self.errors.labels(protocol, reason).inc()
        self.failure.labels(**self._served, reason=reason).inc()

    def called(self, engine: Engine, frames: int, seconds: float) -> None:
        """One engine call of ``frames`` frames that took ``seconds``."""
        labels = self._model(engine)
        self.executions.labels(**labels).inc()
        self.inferences.labels(**labels).inc(frames)
        self.compute.labels(**labels).observe(seconds)

    def enhanced(self, engine: Engine, queue_s: float) -> None:
        """One frame enhanced by ``engine`` after waiting ``queue_s`` for its call."""
        labels = self._model(engine)
        self.success.labels(**labels).inc()
        self.queue.labels(**labels).observe(queue_s)

    def _model(self, engine: Engine) -> dict[str, str]:
        if id(engine) not in self._labels:
            self._labels[id(engine)] = model_labels(engine)
        return self._labels[id(engine)]


def engine_info(engine: Engine) -> dict[str, str]:
    """What runs, as /readyz and nightowl_engine_info both say it: model file, backend,
    precision."""
    return {"model": engine.name, "backend": engine.backend, "precision": precision(engine)}


def model_labels(engine: Engine) -> dict[str, str]:
    """model, version (the file's sha256, first 12 digits) and backend of ``engine``."""
    return {"model": engine.name, "version": str(engine.describe().get("sha256", ""))[:12],
            "backend": engine.backend}
