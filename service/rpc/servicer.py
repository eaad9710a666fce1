"""The gRPC servicer: translates messages to EnhanceService calls and back, nothing more.

Requests are parsed here (not by grpc), so that a garbage message is INVALID_ARGUMENT rather
than INTERNAL. On a stream every frame gets exactly one StreamResult, in the order sent (the
flow control is ``nightowl.service.serving.streams``): frames that cannot be taken (stream or
server queue full, rate limit, camera limit, shutting down) come back SKIPPED, unusable ones
ERROR, each with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import grpc
import numpy as np
from google.protobuf.message import DecodeError

from nightowl.service.errors import BadRequest, FrameSkipped, NotReady, ServiceError
from nightowl.service.frames.exposure import check_gain
from nightowl.service.frames.mono import luma, replicate
from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.serving.access import access
from nightowl.service.serving.auth import check_bearer
from nightowl.service.serving.enhance_service import (
    EnhanceService,
    FrameRequest,
    Result,
    Submission,
)
from nightowl.service.serving.images import check_size, decode, encode, from_raw, read_header
from nightowl.service.serving.metrics import Metrics
from nightowl.service.serving.streams import FrameStream
from nightowl.service.settings import Settings

log = logging.getLogger("nightowl.rpc")
SERVICE = "nightowl.v1.Enhancer"
_FORMATS = {pb.OUTPUT_FORMAT_UNSPECIFIED: "png", pb.OUTPUT_FORMAT_PNG: "png",
            pb.OUTPUT_FORMAT_JPEG: "jpeg"}
_KNOWN_FORMATS = frozenset(pb.OutputFormat.values())
_RAW = {"rgb8": 3, "grey8": 1}  # raw Image fields and their channels
_GAIN_SOURCES = {"request": pb.GAIN_SOURCE_REQUEST, "setting": pb.GAIN_SOURCE_SETTING,
                 "estimated": pb.GAIN_SOURCE_ESTIMATED, "unused": pb.GAIN_SOURCE_UNUSED}
_STATUS = {"ok": pb.StreamResult.STATUS_OK, "warming_up": pb.StreamResult.STATUS_WARMING_UP,
           "skipped": pb.StreamResult.STATUS_SKIPPED}


@dataclass
class _Call:
    """What the access log says of one call, filled in by its handler."""

    camera: str = ""
    frames: int = 0  # Enhance: the frames behind the image; Stream: frames received


_CALL: contextvars.ContextVar[_Call] = contextvars.ContextVar("call")


class EnhancerServicer:
    """Serves ``service`` once it is attached; until then every call is UNAVAILABLE."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self.service: EnhanceService | None = None

    def handler(self) -> grpc.GenericRpcHandler:
        """The rpc handlers, taking raw bytes so that parsing errors are ours to report."""
        return grpc.method_handlers_generic_handler(SERVICE, {
            "Enhance": grpc.unary_unary_rpc_method_handler(
                self._logged("Enhance", self.enhance),
                response_serializer=pb.EnhanceResponse.SerializeToString),
            "Stream": grpc.stream_stream_rpc_method_handler(
                self._logged("Stream", self.stream),
                response_serializer=pb.StreamResult.SerializeToString)})

    def _logged(self, method: str, handler: Callable[..., Awaitable]) -> Callable[..., Awaitable]:
        """``handler`` with one access-log line when its call ends, however it ends."""
        if not self.settings.access_log:
            return handler

        async def run(request, context: grpc.aio.ServicerContext):
            call, started, status = _Call(), time.perf_counter(), "OK"
            _CALL.set(call)
            call.camera = dict(context.invocation_metadata() or ()).get("x-camera-id", "")
            try:
                return await handler(request, context)
            except asyncio.CancelledError:
                status = "CANCELLED"
                raise
            except BaseException:
                code = context.code()
                status = code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"
                raise
            finally:
                access("RPC", f"/{SERVICE}/{method}", call.camera, status, call.frames,
                       time.perf_counter() - started)

        return run

    # --- unary -----------------------------------------------------------------------------------
    async def enhance(self, data: bytes, context: grpc.aio.ServicerContext) -> pb.EnhanceResponse:
        try:
            self._authenticate(context)
            service = self._loaded()
            request = _parse(pb.EnhanceRequest, data)
            gain = check_gain(request.gain if request.HasField("gain") else None,
                              "EnhanceRequest.gain")
            sequence = request.sequence if request.HasField("sequence") else None
            _check_format(request.format, "EnhanceRequest.format")
            started = time.perf_counter()
            with service.admit() as admission:  # before decoding: a refusal costs no pixels
                service.reserve(admission, self._declared(request.frames),
                                bool(request.camera_id))
                frames = await service.run_cpu(self._frames, list(request.frames))
                decoded = time.perf_counter()
                result = await service.submit(FrameRequest(frames, request.camera_id or None,
                                                           sequence, gain=gain))
            if result.status == "skipped":
                raise FrameSkipped(result.reason)
            image, encode_s = await service.run_cpu(_image, result.image, request.format)
        except Exception as error:  # every failure is one status, never UNKNOWN
            error = _as_service_error(error, "Enhance")
            self.metrics.failed("grpc", error.kind.slug)
            await _abort(context, error)
        service.metrics.frames.labels("grpc", result.status).inc()
        if (call := _CALL.get(None)) is not None:
            call.camera, call.frames = request.camera_id or call.camera, result.frames_used
        return pb.EnhanceResponse(image=image, frames_used=result.frames_used,
                                  timings=_timings(result, decoded - started, encode_s, started),
                                  replica=service.settings.replica_id, sequence=result.sequence,
                                  reason=result.reason, **_gain(result))

    # --- stream ----------------------------------------------------------------------------------
    async def stream(self, requests: AsyncIterator[bytes],
                     context: grpc.aio.ServicerContext) -> None:
        """A coroutine writing each answer itself (not an async generator): a cancelled,
        timed-out or disconnected call cancels this coroutine, whose ``finally`` frees the
        stream's cameras and stops its reader at once, and a write to a call that has ended
        stops the stream quietly instead of ending it with a logged traceback."""
        try:
            self._authenticate(context)
            service = self._loaded()
            if service.draining:  # a new stream belongs on another replica
                raise NotReady("the server is shutting down; retry on another replica",
                               retry_after=service.settings.retry_after_s)
        except ServiceError as error:
            await _abort(context, error)
        camera = dict(context.invocation_metadata() or ()).get("x-camera-id", "")
        owner = object()  # holds the stream's cameras in the buffers
        flow: FrameStream[bytes, pb.StreamResult] = FrameStream(self.settings.stream_queue_limit)
        service.metrics.streams.inc()
        try:
            answers = flow.answers(requests, lambda data: self._take(data, flow, camera, owner))
            async with contextlib.aclosing(answers):
                async for message in answers:
                    if not await _write(context, message):  # the caller is gone: end as
                        raise asyncio.CancelledError  # cancelled, no status left to send
            if flow.ended is not None:  # shutting down: the caller moves to another replica
                await _abort(context, _as_service_error(flow.ended, "Stream"))
            if flow.received == 0:
                await _abort(context, BadRequest("the stream carried no frames; send "
                                                 "StreamFrame messages, one per camera frame"))
        finally:
            service.release_owner(owner)
            service.metrics.streams.dec()

    async def _take(self, data: bytes, flow: FrameStream[bytes, pb.StreamResult],
                    default_camera: str, owner: object) -> asyncio.Future[pb.StreamResult]:
        """Stage one frame into its camera's buffer now; its answer is finished in a task that
        holds the frame's admission."""
        service = self.service
        started = time.perf_counter()
        echo = {}
        try:
            frame = _parse(pb.StreamFrame, data)
            echo = dict(camera_id=frame.camera_id or default_camera, sequence=frame.sequence,
                        capture_time_us=frame.capture_time_us)
            if (call := _CALL.get(None)) is not None:
                call.frames += 1
                call.camera = call.camera or echo["camera_id"]
            gain = check_gain(frame.gain if frame.HasField("gain") else None,
                              "StreamFrame.gain")
            _check_format(frame.format, "StreamFrame.format")
            if (refusal := flow.refusal) is not None:
                return flow.answer(_message(Result("skipped", reason=refusal), echo, service))
            with service.admit() as admission:
                service.reserve(admission, self._declared([frame.image]), camera=True)
                if frame.image.WhichOneof("data") in _RAW:  # a view of the bytes: no work
                    frames = self._frames([frame.image])
                else:  # decoding takes milliseconds: off the event loop
                    frames = await service.run_cpu(self._frames, [frame.image])
                sequence = frame.sequence if frame.HasField("sequence") else None
                submission = service.submit(FrameRequest(frames, echo["camera_id"], sequence,
                                                         owner, gain))
                echo["sequence"] = submission.staged.sequence
                decode_s = time.perf_counter() - started
                finishing = flow.start(self._finish(submission, echo, frame.format, decode_s,
                                                    started))
                admission.hold_until(finishing)
                return finishing
        except Exception as error:  # one bad frame never ends the stream; a drain does
            failure = _as_service_error(error, "Stream")
            if isinstance(failure, NotReady) and service.draining:
                flow.end(failure)  # answered SKIPPED, then the call ends UNAVAILABLE
            return flow.answer(_failure(failure, echo, service))

    async def _finish(self, submission: Submission, echo: dict, output: int, decode_s: float,
                      started: float) -> pb.StreamResult:
        service = self.service
        try:
            result = await submission
            image, encode_s = (None, 0.0) if result.image is None else await service.run_cpu(
                _image, result.image, output)
        except Exception as error:  # one bad frame never ends the stream
            return _failure(_as_service_error(error, "Stream"), echo, service)
        message = _message(result, echo, service, image)
        message.timings.CopyFrom(_timings(result, decode_s, encode_s, started))
        service.metrics.latency.labels("grpc").observe(message.timings.total_s)
        return message

    # --- helpers ---------------------------------------------------------------------------------
    def _declared(self, images: list[pb.Image]) -> list[int]:
        """Each Image's pixel count as its header or width and height declare it (checked
        against max_pixels), before any decoding."""
        sizes = []
        for i, image in enumerate(images):
            name = f"frames[{i}]"
            kind = image.WhichOneof("data")
            if kind == "encoded":
                header = read_header(image.encoded, name)
                width, height = header.width, header.height
            elif kind in _RAW:
                width, height = image.width, image.height
            else:
                continue  # no data: _frames says what is missing
            check_size(width, height, self.settings.max_pixels, name)
            sizes.append(width * height)
        return sizes

    def _frames(self, images: list[pb.Image]) -> list[np.ndarray]:
        """Decode Image messages (runs in the cpu executor)."""
        limit = self.settings.max_pixels
        if not images:
            raise BadRequest("no frames; send 1 to 4 frames, oldest first")
        frames = []
        for i, image in enumerate(images):
            name = f"frames[{i}]"
            kind = image.WhichOneof("data")
            if kind == "encoded":
                frames.append(decode(image.encoded, limit, name))
            elif kind in _RAW:
                frames.append(from_raw(getattr(image, kind), image.width, image.height, limit,
                                       name, _RAW[kind]))
            else:
                raise BadRequest(f"{name} has no data; set Image.encoded (PNG/JPEG), or "
                                 "Image.rgb8 or Image.grey8 with width and height")
        return frames

    def _authenticate(self, context: grpc.aio.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata() or ())
        check_bearer(metadata.get("authorization"), self.settings.api_keys)

    def _loaded(self) -> EnhanceService:
        if self.service is None:
            raise NotReady("starting: the model is still loading", retry_after=1)
        return self.service


def _parse(kind, data: bytes):
    try:
        return kind.FromString(data)
    except DecodeError:
        raise BadRequest(f"the message is not a valid {kind.DESCRIPTOR.full_name} "
                         f"({len(data)} bytes that do not parse)") from None


def _check_format(value: int, where: str) -> None:
    """BadRequest for an OutputFormat this server does not know (a newer client's value)."""
    if value not in _KNOWN_FORMATS:
        raise BadRequest(f"{where} is {value}, not an OutputFormat; use one of "
                         + ", ".join(f"{name} ({number})" for name, number
                                     in pb.OutputFormat.items()))


def _as_service_error(error: Exception, method: str) -> ServiceError:
    """``error`` as the client sees it: itself if it is a ServiceError, else an internal error
    (logged here, in one line with its traceback)."""
    if isinstance(error, ServiceError):
        return error
    log.error("%s: unexpected %s: %s", method, type(error).__name__, error, exc_info=error)
    return ServiceError(f"the server failed on this frame ({type(error).__name__}); it is "
                        "logged, and the frames around it are not affected")


def _image(image: np.ndarray, output: int) -> tuple[pb.Image, float]:
    start = time.perf_counter()
    height, width = image.shape[:2]
    if output in (pb.OUTPUT_FORMAT_RGB8, pb.OUTPUT_FORMAT_GREY8):
        raw = image if image.dtype == np.uint8 else (image >> 8).astype(np.uint8)
        if output == pb.OUTPUT_FORMAT_GREY8:
            message = pb.Image(grey8=(raw if raw.ndim == 2 else luma(raw)).tobytes(),
                               width=width, height=height)
        else:
            rgb = raw if raw.ndim == 3 else replicate(raw)
            message = pb.Image(rgb8=rgb.tobytes(), width=width, height=height)
    else:
        message = pb.Image(encoded=encode(image, _FORMATS.get(output, "png")), width=width,
                           height=height)
    return message, time.perf_counter() - start


def _timings(result: Result, decode_s: float, encode_s: float, started: float) -> pb.Timings:
    t = result.timings
    return pb.Timings(decode_s=decode_s, align_s=t.get("align", 0.0), queue_s=t.get("queue", 0.0),
                      engine_s=t.get("engine", 0.0), engine_call_s=t.get("engine_call", 0.0),
                      encode_s=encode_s,
                      total_s=time.perf_counter() - started)


def _message(result: Result, echo: dict, service: EnhanceService,
             image: pb.Image | None = None) -> pb.StreamResult:
    service.metrics.frames.labels("grpc", result.status).inc()
    return pb.StreamResult(**echo, status=_STATUS[result.status], reason=result.reason,
                           image=image, frames_used=result.frames_used,
                           replica=service.settings.replica_id, **_gain(result))


def _gain(result: Result) -> dict:
    """gain_used and gain_source of a result message (both unset without an image)."""
    if result.gain is None:
        return {}
    return {"gain_used": result.gain.value or 0.0,
            "gain_source": _GAIN_SOURCES[result.gain.source]}


def _failure(error: ServiceError, echo: dict, service: EnhanceService) -> pb.StreamResult:
    """A refused frame: SKIPPED when the server could not take it, ERROR when it was bad."""
    service.metrics.failed("grpc", error.kind.slug)
    status = (pb.StreamResult.STATUS_SKIPPED if error.kind.http_status in (429, 503) else
              pb.StreamResult.STATUS_ERROR)
    service.metrics.frames.labels("grpc", pb.StreamResult.Status.Name(status)[7:].lower()).inc()
    return pb.StreamResult(**echo, status=status, reason=f"{error.kind.grpc_code}: {error.detail}",
                           replica=service.settings.replica_id)


async def _write(context: grpc.aio.ServicerContext, message: pb.StreamResult) -> bool:
    """Send one answer; False when the call has ended meanwhile (cancelled, past its deadline,
    hung up), which is the caller's choice and not an error of ours."""
    try:
        await context.write(message)
    except grpc.aio.InternalError:  # the core refused the write: the call is over
        return False
    return True


async def _abort(context: grpc.aio.ServicerContext, error: ServiceError) -> None:
    """End the call with ``error``'s status code, detail and Retry-After (trailing metadata)."""
    metadata = (("retry-after", str(error.retry_after)),) if error.retry_after else ()
    await context.abort(grpc.StatusCode[error.kind.grpc_code], error.detail,
                        trailing_metadata=metadata)
