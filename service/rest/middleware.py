"""Pure ASGI middleware: the replica header on every response, and the request body limit."""

from __future__ import annotations

import json

from nightowl.service.errors import TooLarge, problem
from nightowl.service.serving.metrics import Metrics


class ReplicaAndBodyLimit:
    """Adds ``X-Nightowl-Replica`` to every HTTP response and refuses bodies over ``limit``
    bytes (from Content-Length up front, or while a chunked body streams in)."""

    def __init__(self, app, replica: str, limit: int, metrics: Metrics | None = None) -> None:
        self.app = app
        self.replica = replica.encode()
        self.limit = limit
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
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
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
