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
import time
from collections.abc import AsyncIterator

import grpc
import numpy as np
from google.protobuf.message import DecodeError

from nightowl.service.errors import BadRequest, FrameSkipped, NotReady, ServiceError
from nightowl.service.frames.exposure import check_gain
from nightowl.service.frames.mono import luma, replicate
from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.serving.auth import check_bearer
from nightowl.service.serving.enhance_service import (
    EnhanceService,
    FrameRequest,
    Result,
    Submission,
)
from nightowl.service.serving.images import decode, encode, from_raw
from nightowl.service.serving.metrics import Metrics
from nightowl.service.serving.streams import FrameStream
from nightowl.service.settings import Settings

SERVICE = "nightowl.v1.Enhancer"
_FORMATS = {pb.OUTPUT_FORMAT_UNSPECIFIED: "png", pb.OUTPUT_FORMAT_PNG: "png",
            pb.OUTPUT_FORMAT_JPEG: "jpeg"}
_RAW = {"rgb8": 3, "grey8": 1}  # raw Image fields and their channels
_GAIN_SOURCES = {"request": pb.GAIN_SOURCE_REQUEST, "setting": pb.GAIN_SOURCE_SETTING,
                 "estimated": pb.GAIN_SOURCE_ESTIMATED, "unused": pb.GAIN_SOURCE_UNUSED}
_STATUS = {"ok": pb.StreamResult.STATUS_OK, "warming_up": pb.StreamResult.STATUS_WARMING_UP,
           "skipped": pb.StreamResult.STATUS_SKIPPED}


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
                self.enhance, response_serializer=pb.EnhanceResponse.SerializeToString),
            "Stream": grpc.stream_stream_rpc_method_handler(
                self.stream, response_serializer=pb.StreamResult.SerializeToString)})

    # --- unary -----------------------------------------------------------------------------------
    async def enhance(self, data: bytes, context: grpc.aio.ServicerContext) -> pb.EnhanceResponse:
        try:
            self._authenticate(context)
            service = self._loaded()
            request = _parse(pb.EnhanceRequest, data)
            gain = check_gain(request.gain if request.HasField("gain") else None,
                              "EnhanceRequest.gain")
            sequence = request.sequence if request.HasField("sequence") else None
            started = time.perf_counter()
            with service.admit():  # before decoding: a refused request costs no pixel work
                frames = await service.run_cpu(self._frames, list(request.frames))
                decoded = time.perf_counter()
                result = await service.submit(FrameRequest(frames, request.camera_id or None,
                                                           sequence, gain=gain))
            if result.status == "skipped":
                raise FrameSkipped(result.reason)
            image, encode_s = await service.run_cpu(_image, result.image, request.format)
        except ServiceError as error:
            self.metrics.failed("grpc", error.kind.slug)
            await _abort(context, error)
        service.metrics.frames.labels("grpc", result.status).inc()
        return pb.EnhanceResponse(image=image, frames_used=result.frames_used,
                                  timings=_timings(result, decoded - started, encode_s, started),
                                  replica=service.settings.replica_id, sequence=result.sequence,
                                  reason=result.reason, **_gain(result))

    # --- stream ----------------------------------------------------------------------------------
    async def stream(self, requests: AsyncIterator[bytes],
                     context: grpc.aio.ServicerContext) -> AsyncIterator[pb.StreamResult]:
        try:
            self._authenticate(context)
            service = self._loaded()
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
                    yield message
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
            gain = check_gain(frame.gain if frame.HasField("gain") else None,
                              "StreamFrame.gain")
            if (refusal := flow.refusal) is not None:
                return flow.answer(_message(Result("skipped", reason=refusal), echo, service))
            with service.admit() as admission:
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
        except ServiceError as error:
            return flow.answer(_failure(error, echo, service))

    async def _finish(self, submission: Submission, echo: dict, output: int, decode_s: float,
                      started: float) -> pb.StreamResult:
        service = self.service
        try:
            result = await submission
            image, encode_s = (None, 0.0) if result.image is None else await service.run_cpu(
                _image, result.image, output)
        except ServiceError as error:
            return _failure(error, echo, service)
        message = _message(result, echo, service, image)
        message.timings.CopyFrom(_timings(result, decode_s, encode_s, started))
        service.metrics.latency.labels("grpc").observe(message.timings.total_s)
        return message

    # --- helpers ---------------------------------------------------------------------------------
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


async def _abort(context: grpc.aio.ServicerContext, error: ServiceError) -> None:
    """End the call with ``error``'s status code, detail and Retry-After (trailing metadata)."""
    metadata = (("retry-after", str(error.retry_after)),) if error.retry_after else ()
    await context.abort(grpc.StatusCode[error.kind.grpc_code], error.detail,
                        trailing_metadata=metadata)
