"""Shutdown on a real server: frames still running when the grace period ends are answered
with a retryable 503 (Retry-After) or UNAVAILABLE, never 500 or a dropped connection."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
import pytest

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


def stream(target: str, opened: threading.Event) -> list:
    """One frame on a Stream, left open until the server ends it: its results, then the
    call's end (an RpcError, or None when it ended cleanly)."""
    results: list = []
    with grpc.insecure_channel(target) as channel:
        stub = enhance_pb2_grpc.EnhancerStub(channel)

        def frames():
            yield pb.StreamFrame(camera_id="late-cam", image=pb.Image(encoded=png(FRAMES[0])))
            opened.wait(60)  # the stream stays open while the server shuts down

        try:
            results.extend(stub.Stream(frames(), timeout=60))
            results.append(None)
        except grpc.RpcError as error:
            results.append(error)
    return results


def test_frames_running_at_the_end_of_the_grace_period_get_a_retryable_answer(engines):
    """The engine threads are held, so that one frame is in the engine call and three wait
    behind it when the 0.3 s grace period ends: two REST requests, a unary call and a frame
    on a stream."""
    gate, done = threading.Event(), threading.Event()
    with running(engines, shutdown_grace_s=0.3, max_batch=1) as server, \
            ThreadPoolExecutor(4) as pool:
        for batcher in server.service.batchers.values():
            batcher.executor.submit(gate.wait)
        rest = [pool.submit(httpx.post, server.url + "/enhance", files=FILES, timeout=60)
                for _ in range(2)]
        grpc_reply = pool.submit(unary, server.target)
        streamed = pool.submit(stream, server.target, done)
        deadline = time.monotonic() + 15
        while server.service.in_flight.count < 4:
            assert time.monotonic() < deadline, server.service.in_flight.count
            time.sleep(0.01)
        stopping = threading.Thread(target=server.call, args=(server.server.stop(), 60))
        stopping.start()
        try:
            replies = [r.result(timeout=20) for r in rest]
            error = grpc_reply.result(timeout=20)
            (skipped, end) = streamed.result(timeout=20)
        finally:
            gate.set()
            done.set()
            stopping.join(60)
        assert server.service.in_flight.count == 0 and server.service.memory.reserved == 0
        for reply in replies:
            assert reply.status_code == 503, reply.text
            assert reply.headers["retry-after"] == "1"
            assert reply.headers["content-type"] == "application/problem+json"
            assert "retry on another replica" in reply.json()["detail"]
        assert isinstance(error, grpc.RpcError) and error.code() == grpc.StatusCode.UNAVAILABLE
        assert ("retry-after", "1") in error.trailing_metadata()
        assert skipped.status == pb.StreamResult.STATUS_SKIPPED, skipped
        assert skipped.reason.startswith("UNAVAILABLE: ") and "retry" in skipped.reason
        assert end is None or end.code() in (grpc.StatusCode.UNAVAILABLE,
                                             grpc.StatusCode.CANCELLED)


def test_a_draining_server_ends_its_streams_and_refuses_new_ones(engines):
    """While shutting down, a stream's next frame is answered SKIPPED and then the call ends
    UNAVAILABLE (its client moves to another replica instead of sending into a server that
    skips everything), and a new stream is refused UNAVAILABLE at once."""
    sent, go_on = threading.Event(), threading.Event()
    with running(engines, shutdown_grace_s=5) as server:
        with grpc.insecure_channel(server.target) as channel:
            stub = enhance_pb2_grpc.EnhancerStub(channel)

            def frames():
                for i, frame in enumerate(FRAMES):
                    yield pb.StreamFrame(camera_id="drained", sequence=i,
                                         image=pb.Image(encoded=png(frame)))
                    if i == 0:
                        sent.set()
                        go_on.wait(30)  # the second frame arrives while draining
                time.sleep(30)  # more would follow: the server must end the call itself

            call = stub.Stream(frames(), timeout=60)
            first = next(call)
            assert first.status != pb.StreamResult.STATUS_SKIPPED, first
            # what EnhanceService.drain does first, without its wait (the servers stay up)
            server.service.ready, server.service.draining = False, True
            go_on.set()
            results, end = [], None
            try:
                results.extend(call)
            except grpc.RpcError as error:
                end = error
            assert [r.status for r in results] == [pb.StreamResult.STATUS_SKIPPED]
            assert "shutting down" in results[0].reason
            assert end is not None and end.code() == grpc.StatusCode.UNAVAILABLE, end
            assert "retry on another replica" in end.details()
            with pytest.raises(grpc.RpcError) as refused:
                list(stub.Stream(iter([pb.StreamFrame(camera_id="late", image=pb.Image(
                    encoded=png(FRAMES[0])))]), timeout=30))
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "shutting down" in refused.value.details()
        server.service.ready, server.service.draining = True, False
