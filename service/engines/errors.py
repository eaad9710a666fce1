"""The engine layer's exceptions: one base, so the server maps them to responses in one place."""

from __future__ import annotations


class EngineError(Exception):
    """Anything that stops an engine from loading or running."""


class ModelFileError(EngineError):
    """A model file that is missing, not in the manifest, altered or unreadable; names the file."""


class BackendUnavailable(EngineError):  # noqa: N818 (the agreed interface's name)
    """A backend this host cannot run (no GPU, no CUDA or TensorRT libraries); says why."""


class BatchError(EngineError, ValueError):
    """A batch of the wrong shape or type for the model; says what is allowed."""
