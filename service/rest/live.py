"""GET /live: a page showing a camera's dark input (brightened) and enhanced output side by
side, fed by MJPEG streams of each camera's latest pair (EnhanceService.previews)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, StreamingResponse

from nightowl.service.errors import NotFound
from nightowl.service.rest import problems
from nightowl.service.rest.deps import Service, Viewer
from nightowl.service.serving.enhance_service import EnhanceService
from nightowl.service.serving.previews import Side, jpeg

STATIC = Path(__file__).parent / "static"
ASSETS = {"live.css": "text/css", "live.js": "text/javascript"}  # all the page loads
BOUNDARY = "nightowl-frame"
_WAIT_S = 1.0  # a stream with no new pair checks this often whether to end

router = APIRouter()


@router.get("/live", summary="The live view: a camera's input and output, updating",
            dependencies=[Viewer], response_class=FileResponse,
            responses={200: {"content": {"text/html": {}}, "description": "the page"},
                       **problems.responses(401)})
async def page() -> FileResponse:
    return FileResponse(STATIC / "live.html", media_type="text/html")


@router.get("/live/assets/{name}", summary="The live view's CSS and JS (no data, no key)",
            include_in_schema=False)
async def asset(name: str) -> FileResponse:
    if name not in ASSETS:
        raise NotFound(f"no live-view asset {name!r}; there are {', '.join(ASSETS)}")
    return FileResponse(STATIC / name, media_type=ASSETS[name])


@router.get("/live/cameras", summary="Cameras with a frame to show: id, fps, gain, last seen",
            dependencies=[Viewer], responses=problems.responses(401, 503))
async def cameras(service: Service) -> list[dict]:
    return service.previews.cameras()


@router.get("/live/{camera:path}/stream", dependencies=[Viewer], response_class=StreamingResponse,
            summary="MJPEG (multipart/x-mixed-replace) of a camera's latest input or output",
            responses={200: {"content": {f"multipart/x-mixed-replace; boundary={BOUNDARY}": {}},
                             "description": "one JPEG part per new frame, until the camera's "
                             "buffer is dropped or the server shuts down"},
                       **problems.responses(400, 401, 404, 503)})
async def stream(camera: str, request: Request, service: Service,
                 side: Annotated[Side, Query()] = "output") -> StreamingResponse:
    if camera not in service.previews:
        known = ", ".join(repr(c["id"]) for c in service.previews.cameras()[:10]) or "none"
        raise NotFound(f"camera {camera!r} has no frame to show (known: {known}); send it "
                            "frames with a camera_id, or see GET /live/cameras")
    return StreamingResponse(_parts(service, camera, side),
                             media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
                             headers={"Cache-Control": "no-store"})


async def _parts(service: EnhanceService, camera: str, side: Side) -> AsyncIterator[bytes]:
    """One multipart part per new pair, at most live_max_fps a second."""
    period, version = 1.0 / service.settings.live_max_fps, -1
    while not service.draining:
        preview = await service.previews.newer(camera, version, _WAIT_S)
        if preview is None:
            return  # the camera's buffer was dropped
        if preview.version == version:
            continue
        version = preview.version
        body = await service.run_cpu(jpeg, preview, side)
        yield (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(body)}\r\n"
               f"X-Sequence: {preview.sequence}\r\n\r\n").encode() + body + b"\r\n"
        await asyncio.sleep(period)

