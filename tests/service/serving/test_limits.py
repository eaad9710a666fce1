"""Admission limits, an admission's life, and the dynamic batcher, on their own (the batcher
with a real engine)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from nightowl.service.errors import Overloaded, RateLimited
from nightowl.service.serving.batcher import Batcher
from nightowl.service.serving.limits import Admission, InFlight, RateLimiter


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def test_in_flight_refuses_beyond_its_limit():
    limit = InFlight(2, retry_after=4)
    limit.acquire()
    limit.acquire()
    with pytest.raises(Overloaded, match="2 frames in flight") as caught:
        limit.acquire()
    assert caught.value.retry_after == 4
    limit.release()
    limit.acquire()


def test_admission_is_given_back_once_when_its_block_ends():
    limit = InFlight(1)
    limit.acquire()
    with Admission(limit.release) as admission:
        assert limit.count == 1
    assert limit.count == 0
    admission.__exit__(None, None, None)  # a second end gives nothing back twice
    assert limit.count == 0
    limit.acquire()
    with pytest.raises(ValueError, match="bad frame"), Admission(limit.release):
        raise ValueError("bad frame")
    assert limit.count == 0


@pytest.mark.parametrize("ending", ["result", "error", "cancelled before it ran",
                                    "cancelled while running"])
def test_admission_handed_to_a_task_is_held_until_the_task_ends(ending):
    async def run():
        limit = InFlight(1)
        gate = asyncio.Event()

        async def finish() -> str:
            await gate.wait()
            if ending == "error":
                raise RuntimeError("engine failed")
            return "enhanced"

        limit.acquire()
        with Admission(limit.release) as admission:
            task = asyncio.get_running_loop().create_task(finish())
            admission.hold_until(task)
        held = limit.count  # the block has ended, the task has not
        if ending == "cancelled before it ran":
            task.cancel()
        await asyncio.sleep(0)
        if ending == "cancelled while running":
            task.cancel()
        gate.set()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)  # the task's done callbacks
        return held, limit.count

    assert asyncio.run(run()) == (1, 0)


def test_rate_limiter_is_a_token_bucket_and_prunes_quiet_keys():
    clock = Clock()
    rates = RateLimiter(rate=2.0, burst=3, clock=clock)
    for _ in range(3):
        rates.check("cam")
    with pytest.raises(RateLimited, match="2 frames per second") as caught:
        rates.check("cam")
    assert caught.value.retry_after >= 1
    clock.now = 0.5  # one token back
    rates.check("cam")
    for i in range(100):  # many ids, each seen once (refused elsewhere, say)
        rates.check(f"once-{i}")
    assert len(rates) == 101
    clock.now = 2.0  # all buckets full again
    assert rates.prune() == 101 and len(rates) == 0


def test_batcher_groups_same_size_frames_up_to_max_batch(engines):
    engine = engines["multi"]
    inputs = [np.random.default_rng(i).random((12, 48, 64), dtype=np.float32) * 0.05
              for i in range(5)]
    other = np.random.default_rng(9).random((12, 32, 40), dtype=np.float32) * 0.05

    async def run():
        with ThreadPoolExecutor(1) as pool:
            batcher = Batcher(engine, pool, max_batch=4, max_wait_s=0.05)
            batcher.start()
            try:
                return await asyncio.gather(*(batcher.run(x) for x in [*inputs, other])), batcher
            finally:
                await batcher.stop()

    results, batcher = asyncio.run(run())
    assert [r.batch for r in results] == [4, 4, 4, 4, 1, 1]  # 4 + 1 of one size, 1 of another
    assert batcher.batches == 3 and batcher.frames == 6
    for x, result in zip([*inputs, other], results, strict=True):
        assert np.array_equal(result.output, engine.run(x[None])[0])  # batching changes nothing
        assert result.call_s >= result.engine_s > 0


def test_in_flight_says_how_long_frames_have_been_held_without_an_answer():
    clock = Clock()
    limit = InFlight(4, clock=clock)
    clock.now = 100.0
    assert limit.still_s() == 0.0  # nothing in flight: nothing is stuck
    limit.acquire()
    clock.now = 103.0
    limit.acquire()  # a second frame does not count as progress
    assert limit.still_s() == 3.0
    clock.now = 104.0
    limit.release()  # an answer does
    clock.now = 104.5
    assert limit.still_s() == 0.5
    limit.release()
    assert limit.still_s() == 0.0
