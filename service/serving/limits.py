"""Admission limits: frames in flight, the place one frame holds among them, and per-camera
request rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nightowl.service.errors import Overloaded, RateLimited


@dataclass
class InFlight:
    """Counts frames admitted and not yet answered; refuses beyond ``limit``; knows when the
    count last moved, so that frames held without progress show (:meth:`still_s`)."""

    limit: int
    retry_after: int = 1
    what: str = "the server"
    count: int = 0
    clock: Callable[[], float] = time.monotonic
    moved: float = field(default_factory=time.monotonic)  # clock of the last answer, or of
    #   the first admission after an idle spell

    def acquire(self) -> None:
        if self.count >= self.limit:
            raise Overloaded(f"{self.what} already has {self.limit} frames in flight (its "
                             "limit); retry later", retry_after=self.retry_after)
        if self.count == 0:
            self.moved = self.clock()
        self.count += 1

    def release(self) -> None:
        self.count -= 1
        self.moved = self.clock()

    def still_s(self) -> float:
        """Seconds frames have been in flight with none answered (0 when none is in flight)."""
        return self.clock() - self.moved if self.count else 0.0


class Admission:
    """One frame's place among those in flight, given back exactly once: when its ``with`` block
    ends, or, when handed to a task with :meth:`hold_until`, when that task ends, however it
    ends (result, error, cancellation). What else the frame takes while admitted (its memory
    reservation) is given back with it (:meth:`also`)."""

    def __init__(self, give_back: Callable[[], None]) -> None:
        self._give_back: Callable[[], None] | None = give_back
        self._also: list[Callable[[], None]] = []
        self._handed = False

    def also(self, give_back: Callable[[], None]) -> None:
        """Call ``give_back`` too when the place is given back (at once if it already was)."""
        if self._give_back is None:
            give_back()
        else:
            self._also.append(give_back)

    def __enter__(self) -> Admission:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._handed:
            self._release()

    def hold_until(self, task: asyncio.Future) -> None:
        """Keep the place until ``task`` is done rather than until the ``with`` block ends:
        for a frame staged now and finished by a task."""
        self._handed = True
        task.add_done_callback(lambda _: self._release())

    def _release(self) -> None:
        give_back, self._give_back = self._give_back, None
        if give_back is not None:
            for extra in self._also:
                extra()
            give_back()


@dataclass
class RateLimiter:
    """A token bucket per key: ``rate`` requests per second with bursts of ``burst``."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> tokens, t

    def check(self, key: str) -> None:
        now = self.clock()
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens < 1.0:
            wait = (1.0 - tokens) / self.rate
            raise RateLimited(f"camera {key!r} sends more than {self.rate:g} frames per second "
                              f"(burst {self.burst}); retry in {wait:.2f} s",
                              retry_after=max(1, round(wait + 0.5)))
        self._buckets[key] = (tokens - 1.0, now)

    def prune(self) -> int:
        """Drop buckets that have filled up again (their keys went quiet); returns how many.
        Keeps the table bounded by the keys active in the last ``burst / rate`` seconds."""
        now = self.clock()
        full = [k for k, (tokens, then) in self._buckets.items()
                if tokens + (now - then) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        return len(full)

    def __len__(self) -> int:
        return len(self._buckets)

    def forget(self, keys: list[str]) -> None:
        for key in keys:
            self._buckets.pop(key, None)
