"""What a real server logs: one line, no traceback, for a client that hangs up mid-upload; one
structured access line per REST request and gRPC call, unless the setting turns it off."""

from __future__ import annotations

import logging
import socket
import time

import grpc
import httpx
import pytest

from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from tests.serving import png, running, sequence

FRAMES = sequence(53, 0)
GOOD = png(FRAMES[0])


def records(caplog, predicate, count: int = 1) -> list[logging.LogRecord]:
    """The captured records matching ``predicate``, once there are ``count`` (the server logs
    from its own thread)."""
    deadline = time.monotonic() + 10
    while len(found := [r for r in caplog.records if predicate(r)]) < count:
        assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
        time.sleep(0.02)
    return found


def test_a_client_hanging_up_mid_upload_is_one_line_without_a_traceback(engines, caplog):
    caplog.set_level(logging.INFO)
    with running(engines) as server:
        head = (b"POST /enhance HTTP/1.1\r\nHost: nightowl\r\nContent-Length: 100000\r\n"
                b"Content-Type: multipart/form-data; boundary=xyz\r\n\r\n")
        with socket.create_connection(("127.0.0.1", server.server.port)) as sock:
            sock.sendall(head + b"--xyz\r\nContent-Disposition: form-data; name=\"frames\"; "
                         b"filename=\"0.png\"\r\nContent-Type: image/png\r\n\r\n" + GOOD[:5000])
            time.sleep(0.2)  # the upload is being read
        (line,) = records(caplog, lambda r: "hung up" in r.getMessage())
        time.sleep(0.2)  # anything else it would log about it
    assert line.getMessage() == ("POST /enhance: the client hung up before its request was "
                                 "read whole")
    assert not [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= 40]


def test_one_access_line_per_request_and_call(engines, caplog):
    caplog.set_level(logging.INFO)
    files = [("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(FRAMES)]
    with running(engines) as server, grpc.insecure_channel(server.target) as channel:
        assert httpx.post(server.url + "/enhance", files=files, data={"camera_id": "cam-r"},
                          timeout=30).status_code == 200
        assert httpx.post(server.url + "/enhance", files=files[:1] * 5,
                          timeout=30).status_code == 400
        stub = enhance_pb2_grpc.EnhancerStub(channel)
        stub.Enhance(pb.EnhanceRequest(frames=[pb.Image(encoded=png(f)) for f in FRAMES[:2]],
                                       camera_id="cam-u"), timeout=30)
        list(stub.Stream(iter(pb.StreamFrame(camera_id="cam-s", sequence=t,
                                             image=pb.Image(encoded=png(f)))
                              for t, f in enumerate(FRAMES[:3])), timeout=30))
        lines = records(caplog, lambda r: r.name == "nightowl.access", 4)
    fields = [line.access for line in lines]
    assert [(f["method"], f["path"], f["camera"], f["status"], f["frames"]) for f in fields] == [
        ("POST", "/enhance", "cam-r", 200, 4), ("POST", "/enhance", "-", 400, 0),
        ("RPC", "/nightowl.v1.Enhancer/Enhance", "cam-u", "OK", 2),
        ("RPC", "/nightowl.v1.Enhancer/Stream", "cam-s", "OK", 3)]
    assert all(f["ms"] > 0 for f in fields)
    assert lines[0].getMessage().startswith("POST /enhance camera=cam-r status=200 frames=4 ms=")


@pytest.mark.parametrize("protocol", ["rest", "grpc"])
def test_the_access_log_can_be_turned_off(engines, caplog, protocol):
    caplog.set_level(logging.INFO)
    with running(engines, access_log=False) as server:
        if protocol == "rest":
            httpx.get(server.url + "/readyz", timeout=10)
        else:
            with grpc.insecure_channel(server.target) as channel:
                enhance_pb2_grpc.EnhancerStub(channel).Enhance(
                    pb.EnhanceRequest(frames=[pb.Image(encoded=png(FRAMES[0]))]), timeout=30)
        time.sleep(0.2)
    assert not [r for r in caplog.records if r.name == "nightowl.access"]
