"""Shutdown on a real server: frames still running when the grace period ends are answered
with a retryable 503 (Retry-After) or UNAVAILABLE, never 500 or a dropped connection."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx

from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from tests.serving import png, running, sequence

FRAMES = sequence(47, 0)
FILES = [("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(FRAMES)]


def unary(target: str) -> grpc.RpcError | pb.EnhanceResponse:
    with grpc.insecure_channel(target) as channel:
        stub = enhance_pb2_grpc.EnhancerStub(channel)
        try:
            return stub.Enhance(pb.EnhanceRequest(frames=[pb.Image(encoded=png(f))
                                                          for f in FRAMES]), timeout=60)
        except grpc.RpcError as error:
            return error


def test_frames_running_at_the_end_of_the_grace_period_get_a_retryable_answer(engines):
    """The engine threads are held, so that one frame is in the engine call and two wait behind
    it when the 0.3 s grace period ends."""
    gate = threading.Event()
    with running(engines, shutdown_grace_s=0.3, max_batch=1) as server, \
            ThreadPoolExecutor(3) as pool:
        for batcher in server.service.batchers.values():
            batcher.executor.submit(gate.wait)
        rest = [pool.submit(httpx.post, server.url + "/enhance", files=FILES, timeout=60)
                for _ in range(2)]
        grpc_reply = pool.submit(unary, server.target)
        deadline = time.monotonic() + 15
        while server.service.in_flight.count < 3:
            assert time.monotonic() < deadline, server.service.in_flight.count
            time.sleep(0.01)
        stopping = threading.Thread(target=server.call, args=(server.server.stop(), 60))
        stopping.start()
        try:
            replies = [r.result(timeout=20) for r in rest]
            error = grpc_reply.result(timeout=20)
        finally:
            gate.set()
            stopping.join(60)
        for reply in replies:
            assert reply.status_code == 503, reply.text
            assert reply.headers["retry-after"] == "1"
            assert reply.headers["content-type"] == "application/problem+json"
            assert "retry on another replica" in reply.json()["detail"]
        assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.UNAVAILABLE
        assert ("retry-after", "1") in error.trailing_metadata()
