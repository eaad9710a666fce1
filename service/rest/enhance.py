"""POST /enhance: 1-4 frames (multipart) -> the enhanced last frame as PNG or JPEG."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from nightowl.service.errors import BadRequest, FrameSkipped, UnsupportedMediaType
from nightowl.service.frames.exposure import MAX_GAIN, check_gain
from nightowl.service.rest import problems
from nightowl.service.rest.deps import Authorised, Service
from nightowl.service.serving.enhance_service import FrameRequest, Result
from nightowl.service.serving.images import MEDIA_TYPES, encode

router = APIRouter()

_FORM = {"type": "object", "required": ["frames"], "properties": {
    "frames": {"type": "array", "items": {"type": "string", "format": "binary"}, "minItems": 1,
               "maxItems": 4, "description": "1 to 4 PNG (8/16-bit RGB or grey) or JPEG (8-bit "
               "RGB or grey) files of one size and kind, oldest first; grey is answered grey"},
    "camera_id": {"type": "string", "description": "append the frames to this camera's "
                  "buffer and enhance from it (also as query parameter or X-Camera-Id)"},
    "sequence": {"type": "integer", "description": "sequence number of the first frame "
                 "(camera_id only; default: the next one)"},
    "gain": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_GAIN,
             "description": "the darkening factor S: how many times brighter the output should "
             "be than the input (also as query parameter); default: the server's setting, else "
             "estimated from the frame by models trained on exposure-normalised inputs "
             "(telling it is better); X-Gain-Used and X-Gain-Source say what was used"}}}
_DOC = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": _FORM}}}}


_STAGE = r"\w+;dur=\d+\.\d\d"  # one Server-Timing entry
_HEADERS = {
    "X-Frames-Used": {"description": "distinct frames behind the image (1 to 4)",
                      "required": True, "schema": {"type": "integer", "minimum": 1,
                                                   "maximum": 4}},
    "X-Status": {"description": "ok, or warming_up: the camera has sent fewer than 4 frames "
                 "so far", "required": True,
                 "schema": {"type": "string", "enum": ["ok", "warming_up"]}},
    "X-Gain-Source": {"description": "where the gain came from: the request, the server's "
                      "setting, estimated from the frames, or unused (the model takes frames "
                      "as captured)", "required": True,
                      "schema": {"type": "string",
                                 "enum": ["request", "setting", "estimated", "unused"]}},
    "X-Gain-Used": {"description": "the darkening factor S behind the image (absent when "
                    "unused and none was told)",
                    "schema": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_GAIN}},
    "Server-Timing": {"description": "milliseconds per stage: decode, align, queue, engine "
                      "(this frame's share), engine_call (the whole batch), finish, encode, "
                      "total", "required": True,
                      "schema": {"type": "string", "pattern": rf"^{_STAGE}(, {_STAGE})*$"}},
    "X-Camera-Id": {"description": "the camera, when one was named", "schema": {"type": "string"}},
    "X-Sequence": {"description": "the enhanced frame's sequence number (with a camera)",
                   "schema": {"type": "integer", "minimum": 0}},
    "X-Buffer-Reset": {"description": "why the camera's buffer restarted with these frames "
                       "(sequence gap, scene change, ...)", "schema": {"type": "string"}}}
_ANSWERS = {200: {"content": {"image/png": {}, "image/jpeg": {}}, "headers": _HEADERS,
                  "description": "the enhanced last frame, at the input size and kind (grey "
                  "in, grey out)"},
            **problems.responses(400, 401, 408, 409, 413, 415, 422, 429, 500, 503)}


@router.post("/enhance", dependencies=[Authorised], response_class=Response, openapi_extra=_DOC,
             summary="Enhance the last of 1-4 dark frames (or of a camera's buffer)",
             responses=_ANSWERS)
async def enhance(request: Request, service: Service,
                  camera_id: Annotated[str | None, Query()] = None,
                  x_camera_id: Annotated[str | None, Header()] = None,
                  format: Annotated[Literal["png", "jpeg"] | None, Query()] = None,
                  accept: Annotated[str | None, Header()] = None) -> Response:
    started = time.perf_counter()
    files, fields = await _read_form(request, service.settings.max_frames)
    camera = fields.get("camera_id") or camera_id or x_camera_id
    sequence = _sequence(fields.get("sequence") or request.query_params.get("sequence"))
    gain = check_gain(fields.get("gain") or request.query_params.get("gain"))
    with service.admit() as admission:  # before decoding: a refusal costs no pixel work
        frames = await service.decode(files, admission, camera is not None)
        decoded = time.perf_counter()
        result = await service.submit(FrameRequest(frames, camera, sequence, gain=gain))
    if result.status == "skipped":
        raise FrameSkipped(result.reason)
    kind = format or ("jpeg" if "image/jpeg" in (accept or "") and "image/png" not in accept
                      else "png")
    encoding = time.perf_counter()
    body = await service.run_cpu(encode, result.image, kind)
    timings = {"decode": decoded - started, **result.timings,
               "encode": time.perf_counter() - encoding}
    timings["total"] = time.perf_counter() - started
    service.metrics.frames.labels("rest", result.status).inc()
    service.metrics.latency.labels("rest").observe(timings["total"])
    return Response(body, media_type=MEDIA_TYPES[kind], headers=_headers(result, camera, timings))


async def _read_form(request: Request, most: int) -> tuple[list[bytes], dict[str, str]]:
    """The frames' bytes and the text fields of a multipart/form-data body."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise UnsupportedMediaType(f"content type {content_type or 'none'!r} is not accepted; "
                                   "send multipart/form-data with 1 to 4 'frames' files")
    try:
        form = await request.form(max_files=most + 1, max_fields=8)
    except MultiPartException as error:
        raise BadRequest(f"unreadable multipart body ({error.message}); send 1 to {most} "
                         "'frames' files and optionally camera_id, sequence and gain") from None
    try:
        parts = form.getlist("frames")
        if not parts:
            raise BadRequest(f"the 'frames' field is missing; send 1 to {most} image files "
                             "in repeated 'frames' fields, oldest first")
        if len(parts) > most:
            raise BadRequest(f"got {len(parts)} frames; send 1 to {most} frames, oldest first")
        if not all(isinstance(part, UploadFile) for part in parts):
            raise BadRequest("every 'frames' field must be a file upload (PNG or JPEG), not text")
        files = [await part.read() for part in parts]
        fields = {k: v for k, v in form.items() if k != "frames" and isinstance(v, str)}
    finally:
        await form.close()
    return files, fields


def _sequence(value: str | None) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 18:  # not "²", "١٢"
        raise BadRequest(f"sequence must be a non-negative integer, got {value[:40]!r}")
    return int(value)


def _headers(result: Result, camera: str | None, timings: dict[str, float]) -> dict[str, str]:
    headers = {"X-Frames-Used": str(result.frames_used), "X-Status": result.status,
               "Server-Timing": ", ".join(f"{stage};dur={seconds * 1000:.2f}"
                                          for stage, seconds in timings.items())}
    if camera is not None:
        headers["X-Camera-Id"] = camera.encode("ascii", "replace").decode()
        headers["X-Sequence"] = str(result.sequence)
    if result.gain is not None:
        headers["X-Gain-Source"] = result.gain.source
        if result.gain.value is not None:
            headers["X-Gain-Used"] = f"{result.gain.value:.6g}"
    if result.reason:
        headers["X-Buffer-Reset"] = result.reason.encode("ascii", "replace").decode()
    return headers
