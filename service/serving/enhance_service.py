"""The enhancement service behind both protocols: admission, buffers, pipeline, batching.

It knows nothing of HTTP or gRPC: the REST routes and the gRPC servicer decode, call
:meth:`EnhanceService.enhance` (a self-contained request of 1-4 frames) or
:meth:`EnhanceService.push` (one frame into a camera's buffer) and encode what comes back.
Everything here runs on the server's event loop; CPU work goes to the ``cpu`` executor and
inference to each batcher's own thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np

from nightowl.service.engines import Engine, EngineError, load_engine
from nightowl.service.errors import BadImage, BadRequest, EngineFailed, NotReady
from nightowl.service.frames.alignment import AlignmentConfig
from nightowl.service.frames.exposure import Gain, told_gain
from nightowl.service.frames.pipeline import Pipeline
from nightowl.service.serving.batcher import Batcher
from nightowl.service.serving.buffers import CameraBuffers
from nightowl.service.serving.images import decode
from nightowl.service.serving.limits import InFlight, RateLimiter
from nightowl.service.serving.metrics import Metrics
from nightowl.service.settings import Settings

log = logging.getLogger("nightowl.service")
Status = Literal["ok", "warming_up", "skipped", "error"]
T = TypeVar("T")


@dataclass(frozen=True)
class Result:
    """The answer for one frame."""

    status: Status  # ok; warming_up: fewer than T frames so far; skipped; error
    sequence: int = 0  # the frame's sequence number (camera frames)
    image: np.ndarray | None = None  # (H, W, 3) enhanced frame, the input's dtype; or None
    frames_used: int = 0  # distinct frames behind the image
    reason: str = ""  # why skipped / error / buffer reset
    timings: dict[str, float] = field(default_factory=dict)  # seconds: align, queue, engine
    #   (this frame's share of the batch), engine_call (the whole batch), finish, total
    gain: Gain | None = None  # the gain behind the image, and its source; None: no image


class EnhanceService:
    """One loaded model and the state of every camera; see the module doc."""

    def __init__(self, settings: Settings, engines: dict[str, Engine],
                 metrics: Metrics | None = None, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.engines = engines
        self.metrics = metrics or Metrics()
        multi = engines["multi"]
        if settings.max_frames > multi.frames:
            raise ValueError(f"max_frames ({settings.max_frames}) exceeds the frames of "
                             f"{multi.name} ({multi.frames})")
        if settings.few_frames != "repeat" and "single" not in engines:
            raise ValueError(f"few_frames={settings.few_frames!r} needs a single-image "
                             "engine")
        self.pipeline = Pipeline.for_engines(engines, few_frames=settings.few_frames,
                                             alignment=AlignmentConfig())
        self.buffers = CameraBuffers(multi.frames, settings.max_cameras, settings.camera_idle_s,
                                     settings.max_sequence_gap, settings.scene_change, clock)
        self.rates = RateLimiter(settings.camera_rate, settings.camera_burst, clock)
        self.in_flight = InFlight(settings.queue_limit, settings.retry_after_s)
        self.cpu = ThreadPoolExecutor(settings.align_threads, thread_name_prefix="nightowl-cpu")
        self.batchers = {
            key: Batcher(engine, ThreadPoolExecutor(1, thread_name_prefix=f"nightowl-{key}"),
                         settings.max_batch, settings.max_wait_ms / 1000.0)
            for key, engine in engines.items()}
        self.ready = False  # model loaded, warmed up, accepting frames
        self.draining = False
        self._sweeper: asyncio.Task | None = None

    @classmethod
    def load(cls, settings: Settings, metrics: Metrics | None = None) -> EnhanceService:
        """Load and warm up the engines the settings name (blocking; EngineError if not)."""
        names = {"multi": settings.model}
        if settings.few_frames != "repeat":
            names["single"] = settings.single_model
        engines = {key: load_engine(name, settings.backend, models_dir=settings.models_dir,
                                    threads=settings.threads,
                                    cpu_precision=settings.cpu_precision,
                                    warmup_shapes=settings.warmup_sizes)
                   for key, name in names.items()}
        if engines["multi"].frames < 2:
            raise EngineError(f"model {settings.model} takes {engines['multi'].frames} frame; "
                              "serve a multi-image model")
        if "single" in engines and engines["single"].frames != 1:
            raise EngineError(f"single_model {settings.single_model} takes "
                              f"{engines['single'].frames} frames; it must take 1")
        return cls(settings, engines, metrics)

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        for batcher in self.batchers.values():
            batcher.start()
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep(), name="sweeper")
        self.ready = True

    async def drain(self, grace_s: float) -> bool:
        """Stop admitting frames, then wait up to ``grace_s`` for those in flight; True if all
        finished."""
        self.ready = False
        self.draining = True
        deadline = time.monotonic() + grace_s
        while self.in_flight.count and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.in_flight.count == 0

    async def close(self) -> None:
        self.ready = False
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for batcher in self.batchers.values():
            await batcher.stop()
            batcher.executor.shutdown(wait=True)
        self.cpu.shutdown(wait=True)

    def describe(self) -> dict:
        return {"model": self.engines["multi"].describe(),
                "single_model": (self.engines["single"].describe()
                                 if "single" in self.engines else None),
                "few_frames": self.settings.few_frames,
                "gain": self.settings.gain,
                "frames": self.pipeline.frames,
                "alignment": {"function": "nightowl.service.frames.alignment.align_to_last",
                              **vars(self.pipeline.alignment)},
                "replica": self.settings.replica_id}

    # --- work ----------------------------------------------------------------------------------
    async def run_cpu(self, fn: Callable[..., T], *args) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.cpu, fn, *args)

    async def decode(self, files: list[bytes]) -> list[np.ndarray]:
        """Decode image files in the cpu executor (headers are checked first)."""
        limit = self.settings.max_pixels
        return await self.run_cpu(
            lambda: [decode(data, limit, f"frames[{i}]") for i, data in enumerate(files)])

    def check_frames(self, frames: list[np.ndarray]) -> None:
        """1..max_frames frames of one size and depth, each side at least the minimum."""
        count, most = len(frames), self.settings.max_frames
        if not 1 <= count <= most:
            raise BadRequest(f"got {count} frames; send 1 to {most} frames, oldest first")
        first = frames[0]
        for i, frame in enumerate(frames):
            if frame.shape != first.shape or frame.dtype != first.dtype:
                raise BadImage(f"frames[{i}] is {_size(frame)} but frames[0] is {_size(first)}; "
                               "all frames must have the same size and depth")
        if min(first.shape[:2]) < self.pipeline.min_side:
            raise BadImage(f"frames are {_size(first)}; each side must be at least "
                           f"{self.pipeline.min_side} px")

    def admit(self) -> None:
        """Take a place among the frames in flight (NotReady / Overloaded when refused)."""
        if not self.ready:
            raise NotReady("the server is " + ("shutting down" if self.draining else
                                               "starting") + "; retry on another replica",
                           retry_after=self.settings.retry_after_s)
        self.in_flight.acquire()
        self.metrics.in_flight.set(self.in_flight.count)

    def release(self) -> None:
        self.in_flight.release()
        self.metrics.in_flight.set(self.in_flight.count)

    async def enhance(self, frames: list[np.ndarray], gain: float | None = None) -> Result:
        """A self-contained request: the enhanced last of ``frames`` (oldest first); ``gain``:
        the caller's darkening factor, if told. The caller must have admitted the request
        (:meth:`admit`) and releases it afterwards."""
        self.check_frames(frames)
        return await self._process(np.stack(frames), 0, "ok", "",
                                   told_gain(gain, self.settings.gain))

    async def push(self, camera_id: str, frames: list[np.ndarray], sequence: int | None = None,
                   owner: object | None = None, gain: float | None = None) -> Result:
        """Frames (oldest first) into ``camera_id``'s buffer; the enhanced newest frame from its
        window (:meth:`stage`, then the pipeline). The caller must have admitted the request
        (:meth:`admit`) and releases it afterwards."""
        staged = self.stage(camera_id, frames, sequence, owner)
        if isinstance(staged, Result):
            return staged
        return await self._process(*staged, told_gain(gain, self.settings.gain))

    def stage(self, camera_id: str, frames: list[np.ndarray], sequence: int | None = None,
              owner: object | None = None) -> Result | tuple[np.ndarray, int, Status, str]:
        """Append frames (oldest first) to ``camera_id``'s buffer, now and in call order.

        ``sequence`` numbers the first frame (None: the next after the newest). Returns a
        ``skipped`` Result for a duplicate or late newest frame, else the window to enhance (for
        :meth:`process`). Raises CameraBusy, TooManyCameras, RateLimited, BadRequest/BadImage.
        """
        if not camera_id or len(camera_id) > 128 or not camera_id.isprintable():
            raise BadRequest(f"camera_id must be 1 to 128 printable characters, got "
                             f"{camera_id[:140]!r}")
        self.check_frames(frames)
        self.rates.check(camera_id)
        for i, frame in enumerate(frames):
            pushed = self.buffers.push(camera_id, frame,
                                       None if sequence is None else sequence + i, owner)
        self.metrics.cameras.set(len(self.buffers))
        if pushed.window is None:
            return Result("skipped", pushed.sequence,
                          reason=f"{pushed.status}: camera {camera_id!r} already has sequence "
                                 f"{self.buffers.newest(camera_id)}; frames must arrive in "
                                 "order, once")
        status = "ok" if pushed.window.shape[0] == self.pipeline.frames else "warming_up"
        return pushed.window, pushed.sequence, status, pushed.reset

    async def process(self, staged: tuple[np.ndarray, int, Status, str],
                      gain: float | None = None) -> Result:
        """Enhance what :meth:`stage` returned; ``gain`` as in :meth:`enhance`."""
        return await self._process(*staged, told_gain(gain, self.settings.gain))

    async def _process(self, window: np.ndarray, sequence: int, status: Status,
                       reason: str, told: Gain | None) -> Result:
        start = time.perf_counter()
        prepared = await self.run_cpu(self.pipeline.prepare, window, told)
        aligned = time.perf_counter()
        try:
            batch = await self.batchers[prepared.model].run(prepared.input)
        except EngineError as error:
            raise EngineFailed(f"the engine failed on a {_size(window[-1])} frame: "
                               f"{error}") from error
        done = time.perf_counter()
        image = await self.run_cpu(self.pipeline.finish, batch.output, prepared.dtype)
        end = time.perf_counter()
        self.metrics.batch.observe(batch.batch)
        timings = {"align": aligned - start, "queue": batch.queue_s, "engine": batch.engine_s,
                   "engine_call": batch.call_s, "finish": end - done, "total": end - start}
        for stage in ("align", "queue", "engine", "finish"):
            self.metrics.stage.labels(stage).observe(timings[stage])
        return Result(status, sequence, image, prepared.frames_used, reason, timings,
                      prepared.gain)

    def release_owner(self, owner: object) -> None:
        """A stream ended: free every camera it held."""
        self.rates.forget(self.buffers.release(owner))
        self.metrics.cameras.set(len(self.buffers))

    async def _sweep(self) -> None:
        period = min(5.0, self.settings.camera_idle_s / 4)
        while True:
            await asyncio.sleep(period)
            self.rates.forget(self.buffers.evict_idle())
            self.rates.prune()  # also ids that never got a buffer (refused, or bad frames)
            self.metrics.cameras.set(len(self.buffers))


def _size(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}x{frame.shape[0]} {frame.dtype}"
