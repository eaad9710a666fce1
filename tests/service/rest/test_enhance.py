"""POST /enhance against a real uvicorn on 127.0.0.1: frames in, the enhanced frame and its
headers out."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from nightowl.service.frames.gain_tracker import GainTracker
from nightowl.service.frames.pipeline import Pipeline
from tests.serving import png, sequence, unpng


def post(server, frames, **kwargs):
    files = [("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(frames)]
    return httpx.post(server.url + "/enhance", files=files, timeout=30, **kwargs)


def test_enhance_four_frames_returns_the_enhanced_last_frame(server):
    frames = sequence(7, 0)
    reply = post(server, frames)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "image/png"
    assert reply.headers["x-frames-used"] == "4"
    assert reply.headers["x-nightowl-replica"] == "replica-under-test"
    stages = dict(part.split(";dur=") for part in reply.headers["server-timing"].split(", "))
    assert {"decode", "align", "queue", "engine", "engine_call", "encode", "total"} <= set(stages)
    image = unpng(reply.content)
    assert image.shape == frames[-1].shape and image.dtype == np.uint8
    assert image.mean() > 3 * frames[-1].mean()  # brighter than the dark input


def test_enhance_is_deterministic_and_matches_the_pipeline(server):
    frames = sequence(7, 1)
    first, second = post(server, frames), post(server, frames)
    assert first.content == second.content


@pytest.mark.parametrize("count", [1, 2, 3])
def test_fewer_than_four_frames_still_answer_and_say_how_many(server, engines, count):
    frames = sequence(7, 2)[-count:]
    reply = post(server, frames)
    assert reply.status_code == 200, reply.text
    assert reply.headers["x-frames-used"] == str(count)
    # the measured policy: the single-image model for one frame, else the multi-image model
    # with the oldest frame repeated in front
    pipeline = Pipeline.for_engines(engines, few_frames="auto")
    prepared = pipeline.prepare(frames)
    assert prepared.model == ("single" if count == 1 else "multi")
    if count > 1:
        assert np.array_equal(prepared.input[:3], prepared.input[3:6])
    expected = pipeline.finish(engines[prepared.model].run(prepared.input[None])[0], np.uint8)
    assert np.array_equal(unpng(reply.content), expected)


def test_jpeg_when_asked(server):
    frames = sequence(7, 3)
    by_query = post(server, frames, params={"format": "jpeg"})
    by_accept = post(server, frames, headers={"Accept": "image/jpeg"})
    for reply in (by_query, by_accept):
        assert reply.status_code == 200 and reply.headers["content-type"] == "image/jpeg"
        assert reply.content[:3] == b"\xff\xd8\xff"


def test_sixteen_bit_png_comes_back_sixteen_bit(server):
    frames = sequence(7, 4).astype(np.uint16) * 257
    told = {"gain": "25"}  # the same gain for both: only the precision differs
    reply = post(server, frames, data=told)
    assert reply.status_code == 200, reply.text
    image = unpng(reply.content)
    assert image.dtype == np.uint16 and image.shape == frames[-1].shape
    eight = unpng(post(server, sequence(7, 4), data=told).content)
    # the same input at higher precision: warps keep fractions the 8-bit path rounds away
    difference = np.abs(image / 257.0 - eight)
    assert difference.mean() < 1.5 and difference.max() <= 16


def test_camera_id_buffers_one_frame_at_a_time(server):
    frames = sequence(7, 5)
    used = []
    told = {"gain": "25"}  # told: the camera's smoothed estimate would differ from the window's
    for t, frame in enumerate(frames):
        reply = post(server, [frame], data=told, params={"camera_id": "rest-cam"})
        assert reply.status_code == 200, reply.text
        used.append(reply.headers["x-frames-used"])
        assert reply.headers["x-sequence"] == str(t)
        assert reply.headers["x-status"] == ("ok" if t == 3 else "warming_up")
    assert used == ["1", "2", "3", "4"]
    whole = post(server, frames, data=told)
    assert reply.content == whole.content  # the buffer's window is the four frames


def test_a_camera_estimated_gain_is_smoothed_over_its_frames(server):
    frames = sequence(7, 5)
    tracker = GainTracker()
    for frame in frames:
        reply = post(server, [frame], params={"camera_id": "rest-cam-estimated"})
        assert reply.headers["x-gain-source"] == "estimated"
        assert float(reply.headers["x-gain-used"]) == pytest.approx(tracker.push(frame),
                                                                    rel=1e-5)


def test_camera_id_as_form_field_or_header(server):
    frames = sequence(7, 6)
    files = [("frames", ("0.png", png(frames[0]), "image/png"))]
    by_form = httpx.post(server.url + "/enhance", files=files, data={"camera_id": "form-cam"})
    by_header = post(server, frames[:1], headers={"X-Camera-Id": "header-cam"})
    assert by_form.headers["x-camera-id"] == "form-cam"
    assert by_header.headers["x-camera-id"] == "header-cam"
    assert "form-cam" in server.service.buffers and "header-cam" in server.service.buffers


def test_duplicate_sequence_is_a_conflict(server):
    frame = sequence(7, 7)[0]
    params = {"camera_id": "dup-cam", "sequence": "5"}
    assert post(server, [frame], params=params).status_code == 200
    again = post(server, [frame], params=params)
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert "duplicate" in again.json()["detail"]
