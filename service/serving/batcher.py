"""Dynamic batching: frames of several cameras with the same size share one engine call.

One worker task per engine takes the oldest waiting frame, waits at most ``max_wait`` for
others of its size (up to ``max_batch``), and runs them in the engine's own executor thread, so
inference never blocks the event loop. While a batch runs, new frames queue up and form the
next one. Admission (how many frames may wait) is the caller's job.

Every frame handed to :meth:`Batcher.run` gets an answer, whatever happens to the worker: when
it is stopped (shutdown) or dies, the frames waiting and those in the engine call get
BatcherStoppedError at once rather than waiting for ever. :meth:`Batcher.stuck_s` says how long the
queue has not moved, for readiness.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np

from nightowl.service.engines import Engine


class BatcherStoppedError(RuntimeError):
    """The batcher's worker is gone (stopped at shutdown, or died): the frame was not run."""


@dataclass
class _Item:
    input: np.ndarray  # (C, H, W) float32
    future: asyncio.Future
    queued: float  # perf_counter seconds


@dataclass(frozen=True)
class BatchResult:
    output: np.ndarray  # (3, H, W) float32
    engine_s: float  # the engine call's seconds divided by the batch size (its cost)
    call_s: float  # the whole engine call's seconds (what this frame waited through)
    queue_s: float  # seconds between submit and the engine call
    batch: int  # frames in the engine call


@dataclass
class Batcher:
    engine: Engine
    executor: Executor  # one thread: engine calls run one at a time, off the event loop
    max_batch: int = 8
    max_wait_s: float = 0.004
    on_call: Callable[[int, float], None] | None = None  # (frames, seconds) of each engine call
    batches: int = 0  # engine calls made
    frames: int = 0  # frames through them
    _groups: dict[tuple[int, ...], list[_Item]] = field(default_factory=dict)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task | None = None
    _calling: float | None = None  # perf_counter seconds when the running engine call began
    _stopped: str = ""  # why the worker is gone; "" while it runs

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._work(), name="batcher")
        self._task.add_done_callback(self._ended)

    async def stop(self) -> None:
        """Stop the worker; frames waiting or in the engine call get BatcherStoppedError."""
        self._stopped = self._stopped or "the server is shutting down"
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._fail_waiting()

    @property
    def failure(self) -> str:
        """Why the worker is not running ("" while it runs)."""
        return self._stopped

    def stuck_s(self) -> float:
        """Seconds the queue has not moved: the running engine call's age, else the oldest
        waiting frame's beyond ``max_wait_s``; 0 when idle."""
        now = time.perf_counter()
        if self._calling is not None:
            return now - self._calling
        oldest = min((items[0].queued for items in self._groups.values() if items),
                     default=now)
        return max(0.0, now - oldest - self.max_wait_s)

    @property
    def waiting(self) -> int:
        return sum(len(items) for items in self._groups.values())

    async def run(self, frame: np.ndarray) -> BatchResult:
        """Enhance one input (C, H, W) float32 together with whatever else is waiting;
        BatcherStoppedError when the worker is gone."""
        if self.failure:
            raise BatcherStoppedError(self._stopped)
        future = asyncio.get_running_loop().create_future()
        self._groups.setdefault(frame.shape, []).append(
            _Item(frame, future, time.perf_counter()))
        self._wake.set()
        return await future

    async def _work(self) -> None:
        while True:
            items = await self._next_batch()
            if items:
                await self._run(items)

    async def _next_batch(self) -> list[_Item]:
        while not self._groups:
            self._wake.clear()
            await self._wake.wait()
        shape = min(self._groups, key=lambda s: self._groups[s][0].queued)
        deadline = self._groups[shape][0].queued + self.max_wait_s
        while len(self._groups[shape]) < self.max_batch:
            left = deadline - time.perf_counter()
            if left <= 0:
                break
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), left)
            except TimeoutError:
                break
        group = self._groups[shape]
        items, rest = group[:self.max_batch], group[self.max_batch:]
        if rest:
            self._groups[shape] = rest
        else:
            del self._groups[shape]
        return [item for item in items if not item.future.done()]  # drop cancelled callers

    async def _run(self, items: list[_Item]) -> None:
        start = self._calling = time.perf_counter()
        batch = np.stack([item.input for item in items])
        loop = asyncio.get_running_loop()
        try:
            outputs = await loop.run_in_executor(self.executor, self.engine.run, batch)
        except asyncio.CancelledError:  # stopped during the call: its frames are not lost
            _fail(items, BatcherStoppedError(self._stopped or "the engine worker was cancelled"))
            raise
        except Exception as error:  # every waiting caller gets the failure
            _fail(items, error)
            return
        finally:
            self._calling = None
        seconds = time.perf_counter() - start
        self.batches += 1
        self.frames += len(items)
        if self.on_call is not None:
            self.on_call(len(items), seconds)
        for item, output in zip(items, outputs, strict=True):
            if not item.future.done():
                item.future.set_result(BatchResult(output, seconds / len(items), seconds,
                                                   start - item.queued, len(items)))

    def _ended(self, task: asyncio.Task) -> None:
        """The worker ended: say why, and answer every frame it would have run."""
        if not self._stopped:
            error = None if task.cancelled() else task.exception()
            self._stopped = (f"the {self.engine.name} engine's worker stopped"
                             + (f" ({type(error).__name__}: {error})" if error else ""))
        self._fail_waiting()

    def _fail_waiting(self) -> None:
        for items in self._groups.values():
            _fail(items, BatcherStoppedError(self._stopped))
        self._groups.clear()


def _fail(items: list[_Item], error: BaseException) -> None:
    for item in items:
        if not item.future.done():
            item.future.set_exception(error)
