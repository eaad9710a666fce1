"""Pure ASGI middleware: the replica header on every response, the request body's size and
time limits, and the access log."""

from __future__ import annotations

import asyncio
import json
import time

from nightowl.service.errors import RequestTimeout, TooLarge, problem
from nightowl.service.serving.access import access
from nightowl.service.serving.metrics import Metrics


class ReplicaAndBodyLimit:
    """Adds ``X-Nightowl-Replica`` to every HTTP response and refuses bodies over ``limit``
    bytes (from Content-Length up front, or while a chunked body streams in) or not whole within
    ``timeout_s`` of the request's head (408: a slow or stalled client is not held)."""

    def __init__(self, app, replica: str, limit: int, timeout_s: float = 60.0,
                 metrics: Metrics | None = None) -> None:
        self.app = app
        self.replica = replica.encode()
        self.limit = limit
        self.timeout_s = timeout_s
        self.metrics = metrics  # counts the refusals made here, before the app sees them

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_replica(message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []),
                                      (b"x-nightowl-replica", self.replica)]
            await send(message)

        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(scope, send_with_replica, f"{int(declared)} bytes")
        seen, more = 0, True
        deadline = time.monotonic() + self.timeout_s

        async def counted_receive():
            nonlocal seen, more
            if not more:  # the body is in: waiting for a disconnect is not bounded
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), deadline - time.monotonic())
            except TimeoutError:
                raise RequestTimeout(f"the request body did not arrive within "
                                     f"{self.timeout_s:g} s ({seen} bytes came); send it "
                                     "whole, promptly") from None
            more = message["type"] == "http.request" and message.get("more_body", False)
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise TooLarge(self._detail(f"more than {self.limit} bytes"))
            return message

        await self.app(scope, counted_receive, send_with_replica)

    def _detail(self, size: str) -> str:
        return f"the request body is {size}; at most {self.limit} bytes are accepted"

    async def _refuse(self, scope, send, size: str) -> None:
        if self.metrics is not None:
            self.metrics.failed("rest", TooLarge.kind.slug)
        body = json.dumps(problem(TooLarge(self._detail(size)), scope["path"])).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class AccessLog:
    """One access-log line per HTTP request (serving.access): method, path, camera (the
    response's X-Camera-Id, else the request's), status, frames used, milliseconds."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        seen = {"status": 0, "camera": dict(scope["headers"]).get(b"x-camera-id", b""),
                "frames": b"0"}

        async def watched_send(message) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                seen["status"] = message["status"]
                seen["camera"] = headers.get(b"x-camera-id", seen["camera"])
                seen["frames"] = headers.get(b"x-frames-used", b"0")
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        finally:
            frames = seen["frames"].decode("latin-1")
            access(scope["method"], scope["path"], seen["camera"].decode("latin-1") or None,
                   seen["status"] or 499, int(frames) if frames.isdigit() else 0,
                   time.perf_counter() - started)
