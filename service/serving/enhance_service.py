"""The enhancement service behind both protocols: admission, buffers, pipeline, batching.

It knows nothing of HTTP or gRPC. A frame's life has one way through, whoever calls:

    with service.admit() as admission:  # a place in flight, before any pixel work
        frames = await service.decode(files, admission, camera_id is not None)
        result = await service.submit(FrameRequest(frames, camera_id, sequence, gain=gain))

``decode`` reserves the frames' memory from their headers before decoding them (MemoryExhausted
beyond the budget); the reservation is given back with the admission (``reserve`` for frames
decoded elsewhere).

``submit`` stages the frames at once (a camera's buffer takes them in call order) and the
Submission it returns runs the pipeline when awaited, so a stream can stage each frame as it
arrives and finish it in a task that holds the admission (``admission.hold_until(task)``).
Everything here runs on the server's event loop; CPU work goes to the ``cpu`` executor and
inference to each batcher's own thread. A camera with a background memory (setting
``background_memory``) has its frames remembered, and its answers leant on the memory, one at
a time in staging order (``_Turn``, one queue for each), whatever order the cpu threads and
the batches finish them in, so that its answers do not depend on timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, TypeVar

import numpy as np

from nightowl.service.engines import Engine, EngineError
from nightowl.service.engines.served import load_engines
from nightowl.service.errors import BadImage, BadRequest, EngineFailed, NotReady
from nightowl.service.frames import memory_kernels
from nightowl.service.frames.alignment import AlignmentConfig
from nightowl.service.frames.background import BackgroundMemory
from nightowl.service.frames.exposure import Gain, gain_features, told_gain
from nightowl.service.frames.gain_tracker import GainTracker
from nightowl.service.frames.mono import kind, luma, replicate
from nightowl.service.frames.pipeline import Pipeline
from nightowl.service.serving.batcher import Batcher, BatcherStoppedError
from nightowl.service.serving.buffers import MAX_SEQUENCE, CameraBuffers, background_config
from nightowl.service.serving.images import check_size, decode, read_header
from nightowl.service.serving.limits import Admission, InFlight, RateLimiter
from nightowl.service.serving.memory import MemoryBudget, in_flight_bytes, trim
from nightowl.service.serving.metrics import Metrics
from nightowl.service.serving.previews import Previews
from nightowl.service.settings import Settings

log = logging.getLogger("nightowl.service")
Status = Literal["ok", "warming_up", "skipped"]
T = TypeVar("T")


@dataclass(frozen=True)
class FrameRequest:
    """One request's frames and what the caller says about them (the one way in: submit)."""

    frames: list[np.ndarray]  # 1..max_frames (H, W, 3) RGB or (H, W) grey, uint8/uint16, one
    #   size, depth and kind, oldest first; grey frames are answered grey (frames.mono)
    camera_id: str | None = None  # append to this camera's buffer and enhance from it; None:
    #   self-contained, the last frame enhanced from these frames alone
    sequence: int | None = None  # the first frame's sequence number (camera only; None: next)
    owner: object | None = None  # the stream holding the camera; None: not a stream
    gain: float | None = None  # the darkening factor S the caller told (check_gain); None: not


@dataclass(frozen=True)
class Staged:
    """A request's frames taken in: the window to enhance, or why there is none."""

    window: np.ndarray | None  # (n, H, W, 3) oldest first, n <= T; None: skipped
    sequence: int  # the newest frame's sequence number (0 without a camera)
    status: Status  # ok; warming_up: fewer than T camera frames so far; skipped: the newest
    #   frame was a duplicate or late, nothing to enhance
    reason: str = ""  # why skipped, or why the camera's buffer restarted
    told: Gain | None = None  # the gain told by the request, else by the setting
    estimate: asyncio.Future[float] | None = None  # the camera's estimated gain, smoothed over
    #   its frames in sequence order (GainTracker, ``_smoothed_gain``); None: told, or no camera
    #   (estimated from the frames alone)
    camera_id: str | None = None  # the camera whose buffer holds the window; None: no camera
    newest: np.ndarray | None = None  # (H, W, 3) frame T as the buffer holds it (a reference,
    #   not window[-1], which would keep the whole stacked window alive in the preview)
    grey: bool = False  # the frames came grey (replicated to RGB): the answer goes back grey
    background: _Turn | None = None  # the camera's background memory and this frame's turn
    #   in it; None: memory off, or no camera
    blend: _Turn | None = None  # this frame's turn to lean its answer on the memory


@dataclass
class _Turn:
    """A frame's place in its camera memory's queue: the frame staged before it is remembered
    first (``previous`` is done), and ``done`` is set once this one is, however it ends."""

    memory: BackgroundMemory
    previous: asyncio.Future | None
    done: asyncio.Future
    submitted: bool = False  # its work went to the cpu executor (``done`` follows that work)

    def finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)

    def release(self) -> None:
        """Give the turn up unremembered (a failure or a cancellation before its work went
        out): passed on once the frame before is done."""
        if self.submitted or self.done.done():
            return
        if self.previous is None or self.previous.done():
            self.finish()
        else:
            self.previous.add_done_callback(lambda _: self.finish())


@dataclass(frozen=True)
class Result:
    """The answer for one frame."""

    status: Status  # ok; warming_up: fewer than T frames so far; skipped
    sequence: int = 0  # the frame's sequence number (camera frames)
    image: np.ndarray | None = None  # (H, W, 3) enhanced frame, the input's dtype and kind
    #   ((H, W) luma for grey input); or None
    frames_used: int = 0  # distinct frames behind the image
    reason: str = ""  # why skipped, or why the buffer restarted
    timings: dict[str, float] = field(default_factory=dict)  # seconds: align, queue, engine
    #   (this frame's share of the batch), engine_call (the whole batch), finish, total
    gain: Gain | None = None  # the gain behind the image, and its source; None: no image


class Submission:
    """A request whose frames are staged (``staged``, in call order); awaiting it runs the
    pipeline and the engine on them and gives the Result."""

    def __init__(self, staged: Staged, enhance: Callable[[Staged], Awaitable[Result]]) -> None:
        self.staged = staged
        self._enhance = enhance

    def __await__(self) -> Generator[Any, None, Result]:
        return self._enhance(self.staged).__await__()


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
                                     settings.max_sequence_gap, settings.scene_change, clock,
                                     background=background_config(
                                         settings.background_memory,
                                         settings.background_memory_frames,
                                         settings.background_join_frames, multi.frames))
        if settings.background_memory:  # compiled now, not on a camera's first frame
            memory_kernels.warm_up()
        elif self.pipeline.memory_input:
            log.warning("%s takes each camera's background memory, which is off "
                        "(NIGHTOWL_BACKGROUND_MEMORY): it is answered as a camera without one",
                        multi.name)
        # each memory's newest turn to update it, and to blend an answer with it (weak: a
        # memory freed with its camera takes them along)
        self._memory_tails: weakref.WeakKeyDictionary[BackgroundMemory, asyncio.Future] = (
            weakref.WeakKeyDictionary())
        self._blend_tails: weakref.WeakKeyDictionary[BackgroundMemory, asyncio.Future] = (
            weakref.WeakKeyDictionary())
        # each camera's newest estimated gain (its frames' statistics are pushed in order)
        self._gain_tails: weakref.WeakKeyDictionary[GainTracker, asyncio.Future] = (
            weakref.WeakKeyDictionary())
        self.previews = Previews(clock)  # each camera's latest pair, for the live page
        self.rates = RateLimiter(settings.camera_rate, settings.camera_burst, clock)
        self.in_flight = InFlight(settings.queue_limit, settings.retry_after_s, clock=clock)
        self.memory = MemoryBudget(settings.memory_budget_bytes, lambda: self.buffers.nbytes,
                                   settings.retry_after_s)
        self.cpu = ThreadPoolExecutor(settings.align_threads, thread_name_prefix="nightowl-cpu")
        self.batchers = {
            key: Batcher(engine, ThreadPoolExecutor(1, thread_name_prefix=f"nightowl-{key}"),
                         settings.max_batch, settings.max_wait_ms / 1000.0,
                         partial(self.metrics.called, engine))
            for key, engine in engines.items() if key != "flow"}  # flow runs in align threads
        self.ready = False  # model loaded, warmed up, accepting frames
        self.draining = False
        self._sweeper: asyncio.Task | None = None

    @classmethod
    def load(cls, settings: Settings, metrics: Metrics | None = None) -> EnhanceService:
        """Load and warm up the engines the settings name (blocking; EngineError if not, or
        if a model does not fit its role)."""
        engines = load_engines(settings)
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

    def unready(self) -> str | None:
        """Why no frame can be admitted now, or None when one can: starting, shutting down,
        an engine's worker dead, or work stuck for longer than ``stall_s`` (frames in flight
        with none answered, an engine call or queue not moving)."""
        if not self.ready:
            return "the server is " + ("shutting down" if self.draining else "starting")
        for key, batcher in self.batchers.items():
            if batcher.failure:
                return f"the {key} engine cannot run frames: {batcher.failure}"
        bound = self.settings.stall_s
        if (still := self.in_flight.still_s()) > bound:
            return (f"{self.in_flight.count} frames in flight and none answered for "
                    f"{still:.1f} s (stall_s {bound:g})")
        for key, batcher in self.batchers.items():
            if (stuck := batcher.stuck_s()) > bound:
                return (f"the {key} engine's queue has not moved for {stuck:.1f} s "
                        f"(stall_s {bound:g})")
        return None

    async def abandon(self) -> None:
        """The grace period is over: every frame waiting for or in an engine call is answered
        NotReady (503 / UNAVAILABLE, retryable) now, and no frame enters one."""
        for batcher in self.batchers.values():
            await batcher.stop()

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
                "memory_input": self.pipeline.memory_input,
                "alignment": ({"function": "nightowl.service.frames.flow_network.network_flows",
                               "model": self.engines["flow"].describe()}
                              if "flow" in self.engines else
                              {"function": "nightowl.service.frames.alignment.align_to_last",
                               **vars(self.pipeline.alignment)}),
                "replica": self.settings.replica_id}

    # --- work ----------------------------------------------------------------------------------
    async def run_cpu(self, fn: Callable[..., T], *args) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.cpu, fn, *args)

    async def decode(self, files: list[bytes], admission: Admission,
                     camera: bool = False) -> list[np.ndarray]:
        """Decode image files in the cpu executor, once their headers are checked and their
        memory reserved on ``admission`` (see :meth:`reserve`)."""
        limit = self.settings.max_pixels
        sizes = []
        for i, data in enumerate(files):
            header = read_header(data, f"frames[{i}]")
            check_size(header.width, header.height, limit, f"frames[{i}]")
            sizes.append(header.width * header.height)
        self.reserve(admission, sizes, camera)
        return await self.run_cpu(
            lambda: [decode(data, limit, f"frames[{i}]") for i, data in enumerate(files)])

    def reserve(self, admission: Admission, pixels: list[int], camera: bool = False) -> None:
        """Reserve the expected peak memory of a request whose frames have ``pixels`` px each
        (from their headers), given back with ``admission``; a camera's request is costed at a
        whole window. MemoryExhausted (retryable) beyond the budget, TooLarge if it can never
        fit."""
        if not pixels:
            return
        window = self.pipeline.frames if camera else len(pixels)
        nbytes = in_flight_bytes(max(pixels), window, self.pipeline.memory_input)
        self.memory.reserve(nbytes, f"a request of {len(pixels)} frame(s) of up to "
                                    f"{max(pixels)} px")
        self.metrics.memory.set(self.memory.reserved)
        admission.also(lambda: self._unreserve(nbytes))

    def _unreserve(self, nbytes: int) -> None:
        drained = self.memory.release(nbytes)
        self.metrics.memory.set(self.memory.reserved)
        if drained:  # a peak is over: hand its memory back to the system, off the loop
            with contextlib.suppress(RuntimeError):  # the executor is shut down
                self.cpu.submit(trim)

    def admit(self) -> Admission:
        """A place among the frames in flight, for ``with``: held until the block ends (or the
        task it is handed to, :meth:`Admission.hold_until`). NotReady / Overloaded when refused.
        """
        if (reason := self.unready()) is not None:
            raise NotReady(reason + "; retry on another replica",
                           retry_after=self.settings.retry_after_s)
        self.in_flight.acquire()
        self.metrics.in_flight.set(self.in_flight.count)
        return Admission(self._release)

    def submit(self, request: FrameRequest) -> Submission:
        """Take ``request`` in now: its frames are checked and, with a camera id, appended to
        the camera's buffer in call order; await the Submission for the Result. The caller holds
        an admission (:meth:`admit`) until the Result is in. Raises BadRequest / BadImage, and
        for a camera also CameraBusy, TooManyCameras, RateLimited."""
        return Submission(self._stage(request), self._enhance)

    def _release(self) -> None:
        self.in_flight.release()
        self.metrics.in_flight.set(self.in_flight.count)

    def _stage(self, request: FrameRequest) -> Staged:
        told = told_gain(request.gain, self.settings.gain)
        camera_id = request.camera_id
        if camera_id is None:
            self._check_frames(request.frames)
            grey, frames = _as_rgb(request.frames)
            return Staged(np.stack(frames), 0, "ok", told=told, grey=grey)
        if not camera_id or len(camera_id) > 128 or not camera_id.isprintable():
            raise BadRequest(f"camera_id must be 1 to 128 printable characters, got "
                             f"{camera_id[:140]!r}")
        self._check_frames(request.frames)
        if request.sequence is not None and request.sequence + len(request.frames) - 1 > (
                MAX_SEQUENCE):
            raise BadRequest(f"sequence {request.sequence} is out of range: a frame's sequence "
                             f"number must be 0 to {MAX_SEQUENCE}")
        self.rates.check(camera_id)
        grey, frames = _as_rgb(request.frames)
        estimate = None
        for i, frame in enumerate(frames):
            sequence = None if request.sequence is None else request.sequence + i
            pushed = self.buffers.push(camera_id, frame, sequence, request.owner, grey)
            if told is None and pushed.gain is not None and self.pipeline.estimates:
                estimate = self._smoothed_gain(pushed.gain, frame)  # none when told
        self.metrics.cameras.set(len(self.buffers))
        if pushed.window is None:
            return Staged(None, pushed.sequence, "skipped", told=told, camera_id=camera_id,
                          reason=f"{pushed.status}: camera {camera_id!r} already has sequence "
                                 f"{self.buffers.newest(camera_id)}; frames must arrive in "
                                 "order, once")
        status = "ok" if pushed.window.shape[0] == self.pipeline.frames else "warming_up"
        return Staged(pushed.window, pushed.sequence, status, pushed.reset, told, estimate,
                      camera_id, frames[-1], grey, self._turn(pushed.background),
                      self._turn(pushed.background, self._blend_tails))

    def _smoothed_gain(self, tracker: GainTracker, frame: np.ndarray) -> asyncio.Future[float]:
        """``tracker``'s smoothed gain once ``frame`` is in: its statistics computed in a cpu
        thread (tens of ms for a large frame, kept off the event loop), pushed after those of
        the frame staged before it, so that the gains follow the staging order."""
        features = asyncio.wrap_future(self.cpu.submit(gain_features, frame))
        smoothed = asyncio.ensure_future(
            _push_in_order(tracker, features, self._gain_tails.get(tracker)))
        self._gain_tails[tracker] = smoothed
        return smoothed

    def _turn(self, memory: BackgroundMemory | None,
              tails: weakref.WeakKeyDictionary | None = None) -> _Turn | None:
        """The next place in ``memory``'s queue (staging order): the queue of its updates, or
        the one ``tails`` keeps (its blends)."""
        if memory is None:
            return None
        tails = self._memory_tails if tails is None else tails
        done = asyncio.get_running_loop().create_future()
        turn = _Turn(memory, tails.get(memory), done)
        tails[memory] = done
        return turn

    def _check_frames(self, frames: list[np.ndarray]) -> None:
        """1..max_frames frames of one size, depth and kind (grey or colour), each side at least
        the minimum."""
        count, most = len(frames), self.settings.max_frames
        if not 1 <= count <= most:
            raise BadRequest(f"got {count} frames; send 1 to {most} frames, oldest first")
        first = frames[0]
        for i, frame in enumerate(frames):
            if frame.ndim != first.ndim:
                raise BadImage(f"frames[{i}] is {kind(frame.ndim == 2)} but frames[0] is "
                               f"{kind(first.ndim == 2)}; all frames must be grey or all colour")
            if frame.shape != first.shape or frame.dtype != first.dtype:
                raise BadImage(f"frames[{i}] is {_size(frame)} but frames[0] is {_size(first)}; "
                               "all frames must have the same size and depth")
        if min(first.shape[:2]) < self.pipeline.min_side:
            raise BadImage(f"frames are {_size(first)}; each side must be at least "
                           f"{self.pipeline.min_side} px")

    async def _enhance(self, staged: Staged) -> Result:
        try:
            return await self._run(staged)
        finally:
            for turn in (staged.background, staged.blend):
                if turn is not None:
                    turn.release()  # a frame that failed never holds its camera up

    async def _run(self, staged: Staged) -> Result:
        if staged.window is None:
            return Result("skipped", staged.sequence, reason=staged.reason)
        window = staged.window
        start = time.perf_counter()
        turn = staged.background
        estimate = None if staged.estimate is None else await staged.estimate
        prepared = await self.run_cpu(self.pipeline.prepare, window, staged.told, estimate,
                                      turn is not None)
        if turn is not None:
            prepared = await self._in_turn(turn, self.pipeline.remember, prepared, turn.memory,
                                           staged.newest)
        aligned = time.perf_counter()
        try:
            batch = await self.batchers[prepared.model].run(prepared.input)
        except BatcherStoppedError as error:
            raise NotReady(f"this frame was not enhanced: {error}; retry on another replica",
                           retry_after=self.settings.retry_after_s) from error
        except EngineError as error:
            raise EngineFailed(f"the engine failed on a {_size(window[-1])} frame: "
                               f"{error}") from error
        done = time.perf_counter()
        self.metrics.enhanced(self.engines[prepared.model], batch.queue_s)
        output = batch.output
        if staged.blend is not None:
            output = await self._in_turn(staged.blend, self.pipeline.blend, output, prepared,
                                         staged.blend.memory.calibration)
        image, answer = await self.run_cpu(self._finish, output, prepared.dtype, staged.grey)
        end = time.perf_counter()
        self.metrics.batch.observe(batch.batch)
        timings = {"align": aligned - start, "queue": batch.queue_s, "engine": batch.engine_s,
                   "engine_call": batch.call_s, "finish": end - done, "total": end - start}
        for stage in ("align", "queue", "engine", "finish"):
            self.metrics.stage.labels(stage).observe(timings[stage])
        if staged.newest is not None and staged.camera_id in self.buffers:
            used = prepared.gain
            self.previews.put(staged.camera_id, staged.newest, image, staged.sequence,
                              used.value if used is not None and used.source != "unused"
                              else None)
        return Result(staged.status, staged.sequence, answer, prepared.frames_used,
                      staged.reason, timings, prepared.gain)

    async def _in_turn(self, turn: _Turn, work_of: Callable, *args):
        """``work_of(*args)`` (``Pipeline.remember`` or ``Pipeline.blend``) in the cpu executor
        once the frame before has had its turn; the turn passes on when the work is done, even
        if this frame is cancelled meanwhile (so that two frames never change one memory at
        once)."""
        if turn.previous is not None:
            await asyncio.shield(turn.previous)
        loop = asyncio.get_running_loop()
        work: Future = self.cpu.submit(work_of, *args)
        turn.submitted = True
        work.add_done_callback(lambda _: loop.call_soon_threadsafe(turn.finish))
        return await asyncio.shield(asyncio.wrap_future(work))

    def _finish(self, output: np.ndarray, dtype: type, grey: bool
                ) -> tuple[np.ndarray, np.ndarray]:
        """The engine's output as an image, and the answer: that image, or its luma for
        frames that came grey (one trip to the cpu executor for both)."""
        image = self.pipeline.finish(output, dtype)
        return image, luma(image) if grey else image

    def release_owner(self, owner: object) -> None:
        """A stream ended: free every camera it held."""
        self.rates.forget(self.buffers.release(owner))
        self.previews.retain(self.buffers)
        self.metrics.cameras.set(len(self.buffers))

    async def _sweep(self) -> None:
        period = min(5.0, self.settings.camera_idle_s / 4)
        while True:
            await asyncio.sleep(period)
            self.rates.forget(self.buffers.evict_idle())
            self.rates.prune()  # also ids that never got a buffer (refused, or bad frames)
            self.previews.retain(self.buffers)
            self.metrics.cameras.set(len(self.buffers))


def _as_rgb(frames: list[np.ndarray]) -> tuple[bool, list[np.ndarray]]:
    """Whether the frames (checked: all one kind) are grey, and them as (H, W, 3) RGB."""
    if frames[0].ndim == 2:
        return True, [replicate(frame) for frame in frames]
    return False, frames


def _size(frame: np.ndarray) -> str:
    return f"{frame.shape[1]}x{frame.shape[0]} {frame.dtype}"


async def _push_in_order(tracker: GainTracker, features: Awaitable[np.ndarray],
                         previous: asyncio.Future | None) -> float:
    """Push ``features`` into ``tracker`` once ``previous`` (the frame before's) is done,
    however that ended: only its place in the order counts."""
    if previous is not None:
        await asyncio.wait([previous])
    return tracker.push_features(await features)
