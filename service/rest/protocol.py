"""The HTTP/1.1 protocol uvicorn runs: its own, with a bound on the time a request's head (the
request line and headers) may take to arrive.

uvicorn bounds the idle time between requests (``timeout_keep_alive``) and the size of an
incomplete head (``h11_max_incomplete_event_size``) but not how long a head may take, so a client
that opens a connection and sends half a request would be held for ever.
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class HeadTimeoutH11(H11Protocol):
    """Closes a connection whose request head has not arrived within ``head_timeout_s`` of the
    connection opening, or of the first byte of the next request on it."""

    head_timeout_s: float = 10.0
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and self.conn.their_state is h11.IDLE:
            self._arm()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the head is in

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._expired)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _expired(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            peer = f"{self.client[0]}:{self.client[1]}" if self.client else "?"
            self.logger.info("closed a connection from %s: no complete request head within "
                             "%g s", peer, self.head_timeout_s)
            self.transport.close()


def with_head_timeout(seconds: float) -> type[HeadTimeoutH11]:
    """The protocol class for uvicorn's ``http`` option, bounding a head to ``seconds``."""
    return type("HeadTimeoutH11", (HeadTimeoutH11,), {"head_timeout_s": seconds})
