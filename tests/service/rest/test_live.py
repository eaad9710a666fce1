"""The live view's endpoints against a real server: the page and its assets, the camera list,
MJPEG parts, and the 404 / 401 answers."""

from __future__ import annotations

import threading
import time

import grpc
import httpx
import pytest

from nightowl.service.rest.live import ASSETS, BOUNDARY
from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from tests.serving import png, running, sequence


def feed(url: str, camera: str, frames, headers: dict | None = None, first: int = 0) -> None:
    for index, frame in enumerate(frames, first):
        reply = httpx.post(url + "/enhance", params={"camera_id": camera},
                           data={"sequence": str(index)}, headers=headers, timeout=30,
                           files=[("frames", ("f.png", png(frame), "image/png"))])
        assert reply.status_code == 200, reply.text


def parts(url: str, count: int, **kwargs) -> tuple[httpx.Response, list[bytes]]:
    """The first ``count`` JPEG bodies of an MJPEG stream, read by their Content-Length."""
    found, buffer = [], b""
    with httpx.stream("GET", url, timeout=10, **kwargs) as reply:
        if reply.status_code != 200:
            reply.read()
            return reply, []
        for chunk in reply.iter_bytes():
            buffer += chunk
            while (end := buffer.find(b"\r\n\r\n")) >= 0:
                head = buffer[:end].decode()
                assert head.startswith(f"--{BOUNDARY}\r\n"), head
                size = int(head.lower().split("content-length: ")[1].split("\r\n")[0])
                if len(buffer) < end + 4 + size + 2:
                    break
                found.append(buffer[end + 4:end + 4 + size])
                buffer = buffer[end + 4 + size + 2:]
            if len(found) >= count:
                return reply, found
    return reply, found


def test_page_and_assets_are_served_from_the_package(server):
    page = httpx.get(server.url + "/live")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "http" not in page.text.replace("http-equiv", "")  # no CDN, nothing off the server
    for name, media in ASSETS.items():
        reply = httpx.get(server.url + f"/live/assets/{name}")
        assert reply.status_code == 200 and reply.headers["content-type"].startswith(media)
        assert f"/live/assets/{name}" in page.text
    assert httpx.get(server.url + "/live/assets/secret.py").status_code == 404


def test_cameras_lists_a_fed_camera_with_its_fps_and_gain(server):
    feed(server.url, "live-list", sequence(7, 20))
    [camera] = [c for c in httpx.get(server.url + "/live/cameras").json()
                if c["id"] == "live-list"]
    assert camera["sequence"] == 3 and camera["fps"] > 0 and camera["last_seen_s"] >= 0
    assert (camera["width"], camera["height"]) == (64, 48) and "gain" in camera


@pytest.mark.parametrize("side", ["input", "output"])
def test_stream_yields_jpeg_parts_as_frames_arrive(server, side):
    frames = sequence(7, 21)
    feed(server.url, f"live-{side}", frames[:2])
    url = server.url + f"/live/live-{side}/stream"
    with httpx.stream("GET", url, params={"side": side}, timeout=10) as reply:
        assert reply.status_code == 200
        assert reply.headers["content-type"] == (
            f"multipart/x-mixed-replace; boundary={BOUNDARY}")
    reply, [first] = parts(url, 1, params={"side": side})
    assert first[:3] == b"\xff\xd8\xff"


def test_stream_sends_a_new_part_for_a_new_frame(server):
    frames = sequence(7, 22)
    feed(server.url, "live-new", frames[:1])
    sender = threading.Timer(0.3, feed, (server.url, "live-new", frames[1:2]), {"first": 1})
    sender.start()
    _, found = parts(server.url + "/live/live-new/stream", 2)
    sender.join()
    assert len(found) == 2 and found[0] != found[1]


def test_a_grpc_stream_camera_is_shown_until_its_stream_ends(server):
    frames, done = sequence(7, 24), threading.Event()

    def messages():
        for number, frame in enumerate(frames[:2]):
            yield pb.StreamFrame(camera_id="live-grpc", sequence=number,
                                 image=pb.Image(encoded=png(frame)))
        done.wait(10)  # the stream stays open until the checks below are made

    with grpc.insecure_channel(server.target) as channel:
        replies = enhance_pb2_grpc.EnhancerStub(channel).Stream(messages())
        warming = pb.StreamResult.STATUS_WARMING_UP
        assert [next(replies).status, next(replies).status] == [warming, warming]
        listed = [c["id"] for c in httpx.get(server.url + "/live/cameras").json()]
        _, [part] = parts(server.url + "/live/live-grpc/stream", 1)
        done.set()
        assert list(replies) == []
    assert "live-grpc" in listed and part[:3] == b"\xff\xd8\xff"
    assert "live-grpc" not in [c["id"] for c in httpx.get(server.url + "/live/cameras").json()]


def test_unknown_camera_is_a_404_problem(server):
    reply = httpx.get(server.url + "/live/no-such-camera/stream")
    assert reply.status_code == 404
    assert reply.headers["content-type"] == "application/problem+json"
    assert "no-such-camera" in reply.json()["detail"]
    assert reply.json()["type"].endswith("/not-found")


def test_with_api_keys_the_page_and_its_streams_need_the_key(engines):
    with running(engines, api_keys=["live-key"]) as run:
        bearer = {"Authorization": "Bearer live-key"}
        feed(run.url, "locked", sequence(7, 23)[:1], headers=bearer)
        for path in ("/live", "/live/cameras", "/live/locked/stream"):
            refused = httpx.get(run.url + path)
            assert refused.status_code == 401, path
            assert refused.headers["content-type"] == "application/problem+json"
            assert httpx.get(run.url + path, params={"key": "wrong"}).status_code == 401
        assert httpx.get(run.url + "/live", params={"key": "live-key"}).status_code == 200
        assert httpx.get(run.url + "/live/cameras", headers=bearer).json()[0]["id"] == "locked"
        reply, found = parts(run.url + "/live/locked/stream", 1, params={"key": "live-key"})
        assert reply.status_code == 200 and found


def test_live_page_off_is_not_served(engines):
    with running(engines, live_page=False) as run:
        for path in ("/live", "/live/cameras", "/live/assets/live.js", "/live/cam/stream"):
            assert httpx.get(run.url + path).status_code == 404, path
        assert "/live" not in httpx.get(run.url + "/openapi.json").json()["paths"]


def test_an_open_stream_ends_when_the_server_shuts_down(engines):
    ended = threading.Event()

    def watch(url: str) -> None:
        with httpx.stream("GET", url, timeout=30) as reply:
            for _ in reply.iter_bytes():
                pass
        ended.set()

    with running(engines) as run:
        feed(run.url, "watched", sequence(7, 25)[:1])
        viewer = threading.Thread(target=watch, args=(run.url + "/live/watched/stream",),
                                  daemon=True)
        viewer.start()
        time.sleep(0.3)
        stopping = time.monotonic()
    assert ended.wait(5) and time.monotonic() - stopping < 5
