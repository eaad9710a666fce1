"""The service's errors: one hierarchy, mapped once to RFC 9457 problems and gRPC codes.

Each message says what was wrong and what is allowed; it is shown to the client as it is.
The model repository's and the engines' errors (EngineError and its kinds) live here too,
below both, so that neither package imports the other to raise them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class Kind:
    """How one class of error is reported over each protocol."""

    http_status: int
    grpc_code: str  # name of the grpc.StatusCode (this module does not import grpc)
    title: str
    slug: str  # last part of the problem type URI


class ServiceError(Exception):
    """Base of every error the client sees; ``kind`` says how it is reported."""

    kind = Kind(500, "INTERNAL", "Internal error", "internal")

    def __init__(self, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after = retry_after  # seconds, for Retry-After / gRPC trailing metadata


class BadRequest(ServiceError):
    kind = Kind(400, "INVALID_ARGUMENT", "Bad request", "bad-request")


class BadImage(BadRequest):
    kind = Kind(422, "INVALID_ARGUMENT", "Unusable image", "bad-image")


class UnsupportedMediaType(BadRequest):
    kind = Kind(415, "INVALID_ARGUMENT", "Unsupported media type",
                "unsupported-media-type")


class TooLarge(BadRequest):
    kind = Kind(413, "INVALID_ARGUMENT", "Too large", "too-large")


class RequestTimeout(BadRequest):
    kind = Kind(408, "DEADLINE_EXCEEDED", "Request timeout", "request-timeout")


class Unauthenticated(ServiceError):
    kind = Kind(401, "UNAUTHENTICATED", "Unauthenticated", "unauthenticated")


class CameraBusy(ServiceError):
    kind = Kind(409, "ALREADY_EXISTS", "Camera busy", "camera-busy")


class NotFound(ServiceError):
    kind = Kind(404, "NOT_FOUND", "Not found", "not-found")


class TooManyCameras(ServiceError):
    kind = Kind(429, "RESOURCE_EXHAUSTED", "Too many cameras", "too-many-cameras")


class RateLimited(ServiceError):
    kind = Kind(429, "RESOURCE_EXHAUSTED", "Too many requests", "rate-limited")


class Overloaded(ServiceError):
    kind = Kind(503, "UNAVAILABLE", "Overloaded", "overloaded")


class MemoryExhausted(ServiceError):
    kind = Kind(503, "RESOURCE_EXHAUSTED", "Memory budget exhausted", "memory-budget")


class NotReady(ServiceError):
    kind = Kind(503, "UNAVAILABLE", "Not ready", "not-ready")


class EngineFailed(ServiceError):
    kind = Kind(500, "INTERNAL", "Enhancement failed", "engine-failed")


PROBLEM_BASE = "https://nightowl.invalid/problems/"  # type URIs; not dereferenceable


class Problem(BaseModel):
    """The body of every REST error (RFC 9457, application/problem+json); /openapi.json
    publishes this model as its schema."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(pattern=f"^{PROBLEM_BASE}[a-z0-9-]+$", description="the kind of problem "
                      "(its last part: bad-request, bad-image, camera-busy, ...); the URI is "
                      "an identifier, not a page")
    title: str = Field(description="the kind of problem in words, the same for every instance")
    status: int = Field(ge=400, le=599, description="the HTTP status of the response")
    detail: str = Field(description="what was wrong in this request, and what is allowed")
    instance: str | None = Field(None, description="the path of the request")


def problem(error: ServiceError, instance: str | None = None) -> dict:
    """The RFC 9457 problem document of ``error``."""
    return Problem(type=PROBLEM_BASE + error.kind.slug, title=error.kind.title,
                   status=error.kind.http_status, detail=error.detail,
                   instance=instance or None).model_dump(exclude_none=True)


class FrameSkipped(ServiceError):
    kind = Kind(409, "ABORTED", "Frame skipped", "frame-skipped")


class EngineError(Exception):
    """Anything that stops an engine from loading or running."""


class ModelFileError(EngineError):
    """A model file that is missing, not in the manifest, altered or unreadable; names the file."""


class BackendUnavailable(EngineError):
    """A backend this host cannot run (no GPU, no CUDA or TensorRT libraries); says why."""


class BatchError(EngineError, ValueError):
    """A batch of the wrong shape or type for the model; says what is allowed."""
