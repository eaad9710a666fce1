"""The bad-input catalogue over both protocols: each gets a clear 4xx or INVALID_ARGUMENT, a
camera streaming meanwhile is not disturbed, and the server stays ready."""

from __future__ import annotations

import struct
import threading
import zlib

import cv2
import grpc
import httpx
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from tests.serving import png, running, sequence

FRAMES = sequence(31, 0)
GOOD = png(FRAMES[0])


def bomb(width: int = 100_000, height: int = 100_000, colour: int = 2) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
            + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + b"\x00" * 100)


def encoded(image: np.ndarray) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


# name -> list of frame files (each bytes); all are refused
CATALOGUE = {
    "not an image": [b"this is plain text, not a picture"],
    "truncated PNG": [GOOD[: len(GOOD) // 2]],
    "header-only PNG": [GOOD[:40]],
    "zero bytes": [b""],
    "zero size": [bomb(0, 48)],
    "huge declared size": [bomb()],
    "mismatched sizes": [GOOD, png(np.ascontiguousarray(FRAMES[1][:40, :56]))],
    "five frames": [GOOD] * 5,
    "grey and colour frames": [GOOD, encoded(cv2.cvtColor(FRAMES[1], cv2.COLOR_RGB2GRAY))],
    "grey + alpha frame": [bomb(64, 48, colour=4)],
    "RGBA frame": [encoded(np.zeros((48, 64, 4), np.uint8))],
    "too small": [png(np.zeros((16, 16, 3), np.uint8))],
}


@pytest.fixture(scope="module")
def server(engines):
    with running(engines, max_pixels=4096 * 4096, stream_queue_limit=32) as run:
        yield run


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(server.target) as channel:
        yield channel


@pytest.fixture(scope="module")
def steady(server, channel):
    """A camera streaming good frames for the whole module; its results are checked at the end."""
    stub = enhance_pb2_grpc.EnhancerStub(channel)
    stop = threading.Event()

    def frames():
        t = 0
        while not stop.is_set() or t < 8:
            yield pb.StreamFrame(camera_id="steady", sequence=t,
                                 image=pb.Image(encoded=png(FRAMES[min(t, 3)])))
            t += 1
            stop.wait(0.05)

    results: list = []
    reader = threading.Thread(target=lambda: results.extend(stub.Stream(frames())))
    reader.start()
    yield
    stop.set()
    reader.join(60)
    assert len(results) >= 8
    assert not [r.reason for r in results if r.reason], [r.reason for r in results if r.reason]
    assert [r.sequence for r in results] == list(range(len(results)))
    assert [r.frames_used for r in results] == [min(t + 1, 4) for t in range(len(results))]
    assert all(r.status in (pb.StreamResult.STATUS_OK, pb.StreamResult.STATUS_WARMING_UP)
               for r in results)
    assert httpx.get(server.url + "/readyz").status_code == 200
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize("case", sorted(CATALOGUE))
def test_rest_refuses_with_a_problem(server, steady, case):
    files = [("frames", (f"{i}.png", data, "image/png")) for i, data in enumerate(CATALOGUE[case])]
    reply = httpx.post(server.url + "/enhance", files=files, timeout=30)
    assert 400 <= reply.status_code < 500, (case, reply.status_code, reply.text)
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["status"] == reply.status_code and len(problem["detail"]) > 20
    assert any(w in problem["detail"] for w in ("send", "must", "at most", "accepted")), problem


@pytest.mark.parametrize("case", sorted(CATALOGUE))
def test_grpc_refuses_with_invalid_argument(channel, steady, case):
    stub = enhance_pb2_grpc.EnhancerStub(channel)
    request = pb.EnhanceRequest(frames=[pb.Image(encoded=data) for data in CATALOGUE[case]])
    with pytest.raises(grpc.RpcError) as caught:
        stub.Enhance(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert len(caught.value.details()) > 20


@pytest.mark.parametrize("case", sorted(set(CATALOGUE) - {"five frames", "mismatched sizes",
                                                         "grey and colour frames"}))
def test_stream_reports_an_error_result_and_goes_on(channel, steady, case):
    stub = enhance_pb2_grpc.EnhancerStub(channel)
    bad = pb.StreamFrame(camera_id="catalogue", sequence=0,
                         image=pb.Image(encoded=CATALOGUE[case][0]))
    good = pb.StreamFrame(camera_id="catalogue", sequence=1, image=pb.Image(encoded=GOOD))
    first, second = list(stub.Stream(iter([bad, good])))
    assert first.status == pb.StreamResult.STATUS_ERROR and first.sequence == 0
    assert first.reason.startswith("INVALID_ARGUMENT: ")
    assert second.status == pb.StreamResult.STATUS_WARMING_UP


@pytest.mark.parametrize("body, content_type, status", [
    (b'{"frames": []}', "application/json", 415),
    (b"frames=abc", "application/x-www-form-urlencoded", 415),
    (b"", None, 415),
    (b"--xyz\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n1\r\n--xyz--\r\n",
     "multipart/form-data; boundary=xyz", 400),  # missing 'frames'
    (b"--xyz\r\nContent-Disposition: form-data; name=\"frames\"\r\n\r\ntext\r\n--xyz--\r\n",
     "multipart/form-data; boundary=xyz", 400),  # 'frames' as text, not a file
    (b"garbage without boundaries", "multipart/form-data", 400),
])
def test_rest_wrong_content_type_and_missing_field(server, steady, body, content_type, status):
    headers = {"content-type": content_type} if content_type else {}
    reply = httpx.post(server.url + "/enhance", content=body, headers=headers)
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"


def test_grpc_garbage_protobuf_missing_data_and_empty_stream(channel, steady):
    unary = channel.unary_unary("/nightowl.v1.Enhancer/Enhance")
    with pytest.raises(grpc.RpcError) as caught:
        unary(b"\x0a\xff\xff\xff\xff\x0f garbage", timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "nightowl.v1.EnhanceRequest" in caught.value.details()
    stub = enhance_pb2_grpc.EnhancerStub(channel)
    for request in (pb.EnhanceRequest(), pb.EnhanceRequest(frames=[pb.Image()]),
                    pb.EnhanceRequest(frames=[pb.Image(rgb8=b"\0" * 10, width=64, height=48)])):
        with pytest.raises(grpc.RpcError) as caught:
            stub.Enhance(request, timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, request
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.Stream(iter([]), timeout=30))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no frames" in caught.value.details()
    stream = channel.stream_stream("/nightowl.v1.Enhancer/Stream")
    good = pb.StreamFrame(camera_id="garbage-cam", image=pb.Image(encoded=GOOD))
    replies = [pb.StreamResult.FromString(r) for r in stream(
        iter([b"\x0a\xff\xff\xff\xff\x0f", good.SerializeToString()]), timeout=30)]
    assert replies[0].status == pb.StreamResult.STATUS_ERROR
    assert "not a valid nightowl.v1.StreamFrame" in replies[0].reason
    assert replies[1].status == pb.StreamResult.STATUS_WARMING_UP


def with_trns(data: bytes, payload: bytes = b"\x00" * 6) -> bytes:
    """A PNG with a tRNS chunk (one colour marked transparent) after its IHDR."""
    chunk = (struct.pack(">I", len(payload)) + b"tRNS" + payload
             + struct.pack(">I", zlib.crc32(b"tRNS" + payload)))
    return data[:33] + chunk + data[33:]


def test_png_with_a_transparent_colour_is_decoded_as_the_rgb_it_holds(server, channel, steady):
    frames = [with_trns(png(f)) for f in FRAMES]
    files = [("frames", (f"{i}.png", data, "image/png")) for i, data in enumerate(frames)]
    reply = httpx.post(server.url + "/enhance", files=files, timeout=30)
    assert reply.status_code == 200, reply.text
    plain = httpx.post(server.url + "/enhance", timeout=30, files=[
        ("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(FRAMES)])
    assert reply.content == plain.content  # the transparent colour changes nothing
    stub = enhance_pb2_grpc.EnhancerStub(channel)
    unary = stub.Enhance(pb.EnhanceRequest(frames=[pb.Image(encoded=d) for d in frames]),
                         timeout=30)
    assert unary.frames_used == 4
    grey = with_trns(encoded(cv2.cvtColor(FRAMES[0], cv2.COLOR_RGB2GRAY)), b"\x00\x00")
    assert stub.Enhance(pb.EnhanceRequest(frames=[pb.Image(encoded=grey)]),
                        timeout=30).image.height == 48


@pytest.mark.parametrize("value", ["²", "١٢", "-1", "1e3", " 7"])
def test_rest_sequence_that_is_not_ascii_digits_is_refused(server, steady, value):
    files = [("frames", ("0.png", GOOD, "image/png"))]
    reply = httpx.post(server.url + "/enhance", files=files, timeout=30,
                       data={"camera_id": "seq-cam", "sequence": value})
    assert reply.status_code == 400, reply.text
    assert "sequence" in reply.json()["detail"]


def test_grpc_sequence_beyond_the_range_and_unknown_format_are_invalid(channel, steady):
    stub = enhance_pb2_grpc.EnhancerStub(channel)
    for request in (pb.EnhanceRequest(frames=[pb.Image(encoded=GOOD)] * 4, camera_id="big-seq",
                                      sequence=2**64 - 2),
                    pb.EnhanceRequest(frames=[pb.Image(encoded=GOOD)], format=99)):
        with pytest.raises(grpc.RpcError) as caught:
            stub.Enhance(request, timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        assert any(w in caught.value.details() for w in ("sequence", "format"))


def test_bad_frames_on_a_stream_touch_neither_the_stream_nor_another_camera(channel, steady):
    """Camera a's bad frames (huge sequence, unknown format) are answered ERROR one by one and
    its transparent-colour PNG is served; camera b, interleaved on the same stream, gets all
    four of its frames answered in order, its buffer growing 1, 2, 3, 4."""
    def good(camera: str, t: int, **kwargs) -> pb.StreamFrame:
        return pb.StreamFrame(camera_id=camera, sequence=t,
                              image=pb.Image(encoded=png(FRAMES[min(t, 3)])), **kwargs)

    a = [good("a", 0), pb.StreamFrame(camera_id="a", sequence=1,
                                      image=pb.Image(encoded=with_trns(png(FRAMES[1])))),
         good("a", 2**64 - 1), good("a", 2, format=99), good("a", 2)]
    b = [good("b", t) for t in range(4)]
    messages = [a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3], a[4]]
    results = list(enhance_pb2_grpc.EnhancerStub(channel).Stream(iter(messages), timeout=60))
    assert len(results) == len(messages)
    by_camera = {"a": [r for r in results if r.camera_id == "a"],
                 "b": [r for r in results if r.camera_id == "b"]}
    assert [r.frames_used for r in by_camera["b"]] == [1, 2, 3, 4]
    assert [r.status for r in by_camera["b"]][-1] == pb.StreamResult.STATUS_OK
    statuses = [r.status for r in by_camera["a"]]
    error = pb.StreamResult.STATUS_ERROR
    assert statuses[2:4] == [error, error], [r.reason for r in by_camera["a"]]
    assert all(r.reason.startswith("INVALID_ARGUMENT: ") for r in by_camera["a"][2:4])
    assert [r.frames_used for r in by_camera["a"]] == [1, 2, 0, 0, 3]
