"""Prometheus metrics of one server instance (its own registry, so instances never clash)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from nightowl.service.engines.base import Engine, precision

_LATENCY = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


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

    def show_engines(self, engines: Mapping[str, Engine]) -> None:
        """nightowl_engine_info of each role ("multi", "single") as it is served."""
        for role, engine in engines.items():
            self.engine.labels(role=role).info(engine_info(engine))


def engine_info(engine: Engine) -> dict[str, str]:
    """What runs, as /readyz and nightowl_engine_info both say it: model file, backend,
    precision."""
    return {"model": engine.name, "backend": engine.backend, "precision": precision(engine)}
