"""The memory budget for decoded pixels: what frames in flight are expected to cost, what the
camera buffers hold, refusal beyond the budget, and handing memory back after a peak.

A frame in flight costs far more than its decoded pixels: the float input of the engine, the
aligned window, the output and the engine's activations. Its reservation is estimated from its
declared size before any pixel is decoded (a small PNG declaring 3840x2160 is refused before
it costs gigabytes), with per-pixel costs measured on the CPU (mim_l1_cr int8, peak RSS of one
request: ~320 B per pixel with one frame, ~730 B with a window of four). A network that takes
the camera's memory as input costs more: its memory planes, the copy of its input they are
filled into, and its trust network (measured with a memory MIM int8 against the served one,
one 1280x720 request with the memory on: 720 against 613 B per pixel above the process's
resident size before it, so about 110 B more).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable
from dataclasses import dataclass

from nightowl.service.errors import MemoryExhausted, TooLarge

log = logging.getLogger("nightowl.service")
MIB = 1024 * 1024
REQUEST_BYTES_PER_PIXEL = 180  # one frame in flight: engine input, output, activations
WINDOW_BYTES_PER_PIXEL = 140  # ...and each frame of its window (decoded, aligned, float)
MEMORY_INPUT_BYTES_PER_PIXEL = 110  # ...and a network's memory input (planes, copy, trust)
TRIM_AFTER_BYTES = 64 * MIB  # a peak reservation this large is handed back once work drains


def in_flight_bytes(pixels: int, window: int, memory_input: bool = False) -> int:
    """Bytes one request is expected to hold at its peak: its newest frame has ``pixels`` px,
    it is enhanced from ``window`` frames, by a network that takes the camera's memory as
    input when ``memory_input``."""
    extra = MEMORY_INPUT_BYTES_PER_PIXEL if memory_input else 0
    return pixels * (REQUEST_BYTES_PER_PIXEL + WINDOW_BYTES_PER_PIXEL * window + extra)


@dataclass
class MemoryBudget:
    """Bytes of pixels the server may hold: ``held()`` in the camera buffers plus the
    reservations of frames in flight, at most ``limit``."""

    limit: int
    held: Callable[[], int] = lambda: 0
    retry_after: int = 1
    reserved: int = 0
    peak: int = 0  # the largest reservation total since the last trim

    def reserve(self, nbytes: int, what: str) -> None:
        """Reserve ``nbytes`` for ``what``; TooLarge if it could never fit, MemoryExhausted
        (retryable) if it does not fit now."""
        if nbytes > self.limit:
            raise TooLarge(f"{what} would need about {nbytes // MIB} MiB, more than the whole "
                           f"memory budget (memory_budget_bytes, {self.limit // MIB} MiB); "
                           "send smaller frames")
        held = self.held()
        if self.reserved + held + nbytes > self.limit:
            raise MemoryExhausted(
                f"{what} needs about {nbytes // MIB} MiB and the memory budget "
                f"(memory_budget_bytes, {self.limit // MIB} MiB) has "
                f"{self.reserved // MIB} MiB reserved by frames in flight and {held // MIB} MiB "
                "held in camera buffers; retry later", retry_after=self.retry_after)
        self.reserved += nbytes
        self.peak = max(self.peak, self.reserved)

    def release(self, nbytes: int) -> bool:
        """Give ``nbytes`` back; True when work has drained after a large peak (time to
        :func:`trim`)."""
        self.reserved -= nbytes
        if self.reserved == 0 and self.peak >= TRIM_AFTER_BYTES:
            self.peak = 0
            return True
        return False


def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to call
        return None


_TRIM = _malloc_trim()


def trim() -> bool:
    """Hand the heap's free memory back to the system (glibc's malloc_trim); False where the
    C library has no such call."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
