"""One structured access-log line per REST request or gRPC call: method, path, camera,
status, frames, milliseconds; as text, and as the record's ``access`` attribute for a
structured handler. The ``access_log`` setting turns it off (the callers check it)."""

from __future__ import annotations

import logging

log = logging.getLogger("nightowl.access")


def access(method: str, path: str, camera: str | None, status: int | str, frames: int,
           seconds: float) -> None:
    """Log one finished request (``frames``: frames answered with an image)."""
    fields = {"method": method, "path": path, "camera": camera or "-", "status": status,
              "frames": frames, "ms": round(seconds * 1000, 1)}
    log.info("%(method)s %(path)s camera=%(camera)s status=%(status)s frames=%(frames)d "
             "ms=%(ms).1f", fields, extra={"access": fields})
