"""Grey frames through POST /enhance on a real server: answered grey, in the kind they came."""

from __future__ import annotations

import cv2
import httpx
import numpy as np
import pytest

from nightowl.service.serving.images import read_header
from tests.serving import png, sequence


def grey(frames: np.ndarray, dtype: type = np.uint8) -> list[np.ndarray]:
    """(4, H, W, 3) uint8 RGB -> four (H, W) grey frames of ``dtype``."""
    out = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    return [f.astype(np.uint16) * 257 if dtype == np.uint16 else f for f in out]


def post(server, files: list[bytes], **kwargs) -> httpx.Response:
    parts = [("frames", (f"{i}.img", data, "application/octet-stream"))
             for i, data in enumerate(files)]
    return httpx.post(server.url + "/enhance", files=parts, timeout=30, **kwargs)


def decoded(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_grey_png_in_grey_png_out_at_its_depth(server, dtype):
    frames = grey(sequence(11, 0), dtype)
    reply = post(server, [cv2.imencode(".png", f)[1].tobytes() for f in frames])
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "image/png"
    header = read_header(reply.content)
    assert header.channels == 1 and header.depth == 8 * np.dtype(dtype).itemsize
    image = decoded(reply.content)
    assert image.shape == frames[-1].shape and image.dtype == dtype
    assert image.mean() > 3 * frames[-1].mean()  # brighter than the dark input


def test_grey_jpeg_in_grey_jpeg_out(server):
    frames = grey(sequence(11, 1))
    files = [cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
             for f in frames]
    reply = post(server, files, params={"format": "jpeg"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "image/jpeg"
    assert read_header(reply.content).channels == 1
    image = decoded(reply.content)
    assert image.shape == frames[-1].shape
    assert image.mean() > 3 * frames[-1].mean()


def test_a_window_of_grey_and_colour_frames_is_refused(server):
    colour = sequence(11, 2)
    files = [png(f) for f in colour[:3]] + [cv2.imencode(".png", grey(colour)[3])[1].tobytes()]
    reply = post(server, files)
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    detail = reply.json()["detail"]
    assert "frames[3] is grey but frames[0] is colour" in detail and "must" in detail
