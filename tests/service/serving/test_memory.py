"""The memory budget on its own: reservations, refusals naming the budget, the end of a peak,
and handing memory back to the system."""

from __future__ import annotations

import ctypes.util

import pytest

from nightowl.service.errors import MemoryExhausted, TooLarge
from nightowl.service.serving.memory import (
    MIB,
    TRIM_AFTER_BYTES,
    MemoryBudget,
    in_flight_bytes,
    trim,
)


def test_a_window_costs_more_than_a_single_frame():
    assert in_flight_bytes(1000, 4) > in_flight_bytes(1000, 1) > 1000 * 3


def test_a_network_that_takes_the_memory_costs_more_per_pixel():
    assert in_flight_bytes(1000, 4, memory_input=True) - in_flight_bytes(1000, 4) == 110_000


def test_reservations_and_buffers_share_the_budget():
    held = [0]
    budget = MemoryBudget(100 * MIB, lambda: held[0], retry_after=2)
    budget.reserve(60 * MIB, "first")
    held[0] = 30 * MIB
    with pytest.raises(MemoryExhausted, match="memory_budget_bytes") as caught:
        budget.reserve(20 * MIB, "second")
    assert caught.value.retry_after == 2 and caught.value.kind.grpc_code == "RESOURCE_EXHAUSTED"
    assert "60 MiB reserved" in caught.value.detail and "30 MiB held" in caught.value.detail
    budget.release(60 * MIB)
    budget.reserve(20 * MIB, "second")
    assert budget.reserved == 20 * MIB


def test_a_request_larger_than_the_whole_budget_is_too_large_not_retryable():
    with pytest.raises(TooLarge, match="more than the whole memory budget"):
        MemoryBudget(100 * MIB).reserve(101 * MIB, "a 4K frame")


def test_the_end_of_a_large_peak_is_told_once():
    budget = MemoryBudget(4 * TRIM_AFTER_BYTES)
    budget.reserve(TRIM_AFTER_BYTES, "a")
    budget.reserve(MIB, "b")
    assert budget.release(MIB) is False  # still in flight
    assert budget.release(TRIM_AFTER_BYTES) is True  # drained after a large peak
    budget.reserve(MIB, "c")
    assert budget.release(MIB) is False  # a small peak is not worth a trim


@pytest.mark.skipif(ctypes.util.find_library("c") is None, reason="no C library found")
def test_trim_hands_memory_back_on_glibc():
    import platform

    assert trim() is (platform.libc_ver()[0] == "glibc")
