"""Dynamic batching on a real engine: frames of one size share one engine call, other sizes and
frames beyond max_batch wait for the next, and a failed call fails every frame in it."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from nightowl.service.engines import BatchError
from nightowl.service.serving.batcher import Batcher, BatcherStoppedError


class CountingEngine:
    """A real engine that records the batch shape of every call."""

    def __init__(self, engine) -> None:
        self.engine, self.calls = engine, []

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(batch.shape)
        return self.engine.run(batch)


def frames(count: int, height: int = 32, width: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(count)
    return [rng.random((3, height, width), dtype=np.float32) / 20 for _ in range(count)]


def run_together(engine, inputs: list[np.ndarray], **options):
    """Submit every input at once to a started Batcher; its results and the engine calls."""
    counting = CountingEngine(engine)

    async def main():
        with ThreadPoolExecutor(1) as executor:
            batcher = Batcher(counting, executor, **options)
            batcher.start()
            try:
                return await asyncio.gather(*(batcher.run(x) for x in inputs),
                                            return_exceptions=True), batcher
            finally:
                await batcher.stop()

    results, batcher = asyncio.run(main())
    return results, counting.calls, batcher


def test_frames_of_one_size_run_as_one_call_and_match_running_alone(engines):
    inputs = frames(3)
    results, calls, batcher = run_together(engines["single"], inputs, max_wait_s=0.05)
    assert calls == [(3, 3, 32, 48)] and (batcher.batches, batcher.frames) == (1, 3)
    for x, result in zip(inputs, results, strict=True):
        assert result.batch == 3 and result.output.shape == (3, 32, 48)
        np.testing.assert_allclose(result.output, engines["single"].run(x[None])[0], atol=1e-5)
        assert result.call_s >= result.engine_s > 0 and result.queue_s >= 0


def test_sizes_are_batched_apart_and_max_batch_splits_a_group(engines):
    inputs = frames(3) + frames(2, 40, 40)
    _, calls, _ = run_together(engines["single"], inputs, max_batch=2, max_wait_s=0.05)
    assert sorted(calls) == [(1, 3, 32, 48), (2, 3, 32, 48), (2, 3, 40, 40)]


def test_a_failed_call_fails_every_frame_in_it(engines):
    bad = [np.zeros((12, 32, 48), np.float32)] * 2  # 12 channels: not the single-image model
    results, calls, batcher = run_together(engines["single"], bad, max_wait_s=0.05)
    assert len(calls) == 1 and batcher.batches == 0
    assert all(isinstance(r, BatchError) for r in results)


def test_stopping_fails_the_frames_still_waiting(engines):
    async def main():
        with ThreadPoolExecutor(1) as executor:
            batcher = Batcher(engines["single"], executor)  # never started
            waiting = asyncio.ensure_future(batcher.run(frames(1)[0]))
            await asyncio.sleep(0)
            assert batcher.waiting == 1
            await batcher.stop()
            return await asyncio.gather(waiting, return_exceptions=True)

    (result,) = asyncio.run(main())
    with pytest.raises(BatcherStoppedError, match="shutting down"):
        raise result


def test_frames_in_a_stuck_call_are_answered_when_the_worker_stops_or_dies(engines):
    """An engine call that never returns (its thread held here): the queue shows as stuck, and
    the frames in the call and behind it get BatcherStoppedError when the worker is stopped or
    dies, instead of waiting for ever."""
    async def main(kill: bool):
        gate = threading.Event()
        with ThreadPoolExecutor(1) as executor:
            batcher = Batcher(engines["single"], executor, max_batch=1)
            batcher.start()
            executor.submit(gate.wait)  # the engine thread is busy for good
            calls = [asyncio.ensure_future(batcher.run(x)) for x in frames(2)]
            await asyncio.sleep(0.2)
            stuck = batcher.stuck_s()
            if kill:
                batcher._task.cancel()  # the worker dies
                await asyncio.sleep(0)
            else:
                await batcher.stop()
            results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
            failure = batcher.failure
            gate.set()
            return stuck, results, failure

    for kill in (False, True):
        stuck, results, failure = asyncio.run(main(kill))
        assert stuck > 0.1
        assert all(isinstance(r, BatcherStoppedError) for r in results), results
        assert ("worker stopped" if kill else "shutting down") in failure
