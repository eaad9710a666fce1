"""Many cameras at once, overload, cancellation and graceful shutdown, on a real server."""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from nightowl.service.server import Server
from nightowl.service.serving.enhance_service import EnhanceService
from tests.serving import png, running, sequence, service_settings

pytestmark = pytest.mark.slow  # spawns processes or servers; CI runs it

OK, WARMING, SKIPPED = (pb.StreamResult.STATUS_OK, pb.StreamResult.STATUS_WARMING_UP,
                        pb.StreamResult.STATUS_SKIPPED)
CAMERAS = 32


def raw(frame: np.ndarray) -> pb.Image:
    return pb.Image(rgb8=frame.tobytes(), width=frame.shape[1], height=frame.shape[0])


def message(camera: str, t: int, frame: np.ndarray) -> pb.StreamFrame:
    return pb.StreamFrame(camera_id=camera, sequence=t, image=raw(frame),
                          format=pb.OUTPUT_FORMAT_RGB8)


class OpenStream:
    """A Stream call whose frames are sent one by one from the test."""

    def __init__(self, stub, metadata=()):
        self._queue: queue.Queue = queue.Queue()
        self.call = stub.Stream(iter(self._queue.get, None), metadata=metadata)

    def send(self, frame: pb.StreamFrame) -> None:
        self._queue.put(frame)

    def close(self) -> None:
        self._queue.put(None)


@pytest.fixture(scope="module")
def cameras():
    """32 cameras with distinct content: one generator sequence each."""
    return {f"cam-{i:02d}": sequence(21, i) for i in range(CAMERAS)}


def test_interleaved_cameras_equal_their_single_stream_results(engines, cameras):
    with running(engines, max_batch=8, max_wait_ms=5.0, queue_limit=256,
                 stream_queue_limit=64) as server, \
            grpc.insecure_channel(server.target) as channel:
        stub = enhance_pb2_grpc.EnhancerStub(channel)
        alone = {name: [r.image.rgb8 for r in stub.Stream(iter(
            message(name, t, f) for t, f in enumerate(frames)))]
            for name, frames in cameras.items()}
        names = list(cameras)
        # four streams of eight cameras each, every camera's frames interleaved with the
        # others'; the streams run at once, so batches mix cameras of different streams
        groups = [names[i::4] for i in range(4)]

        def run(group):
            frames = [message(n, t, cameras[n][t]) for t in range(4) for n in group]
            return list(stub.Stream(iter(frames)))

        with ThreadPoolExecutor(4) as pool:
            results = [r for rs in pool.map(run, groups) for r in rs]
        assert server.service.batchers["multi"].frames > server.service.batchers[
            "multi"].batches  # batches really held several frames
    assert len(results) == CAMERAS * 4
    for result in results:
        assert result.status in (OK, WARMING), result.reason
        assert result.image.rgb8 == alone[result.camera_id][result.sequence], result.camera_id


def test_rest_overload_answers_503_with_retry_after(engines):
    frames = sequence(5, 0, (320, 240))
    files = [("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(frames)]
    with running(engines, queue_limit=2, max_batch=1, retry_after_s=3) as server:
        def post(_):
            return httpx.post(server.url + "/enhance", files=files, timeout=60)

        with ThreadPoolExecutor(12) as pool:
            replies = list(pool.map(post, range(12)))
        codes = sorted(r.status_code for r in replies)
        assert 200 in codes and 503 in codes, codes
        refused = [r for r in replies if r.status_code == 503]
        assert all(r.headers["retry-after"] == "3" for r in refused)
        assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
        assert "limit" in refused[0].json()["detail"]
        assert httpx.get(server.url + "/readyz").status_code == 200


def test_stream_overload_skips_in_band_with_one_result_per_frame(engines):
    frames = sequence(5, 1, (320, 240))
    with running(engines, stream_queue_limit=2, max_batch=1) as server, \
            grpc.insecure_channel(server.target) as channel:
        stub = enhance_pb2_grpc.EnhancerStub(channel)
        burst = [message("burst-cam", t, frames[t % 4]) for t in range(40)]
        results = list(stub.Stream(iter(burst)))
        assert [r.sequence for r in results] == list(range(40))
        statuses = [r.status for r in results]
        assert SKIPPED in statuses and (OK in statuses or WARMING in statuses)
        skipped = [r for r in results if r.status == SKIPPED]
        assert all("in flight" in r.reason and not r.HasField("image") for r in skipped)
        assert server.service.in_flight.count == 0


def test_cancelling_a_stream_frees_its_camera(engines):
    frames = sequence(5, 2)
    with running(engines) as server, grpc.insecure_channel(server.target) as channel:
        stub = enhance_pb2_grpc.EnhancerStub(channel)
        stream = OpenStream(stub)
        stream.send(message("gone-cam", 0, frames[0]))
        assert next(stream.call).status == WARMING
        assert "gone-cam" in server.service.buffers
        stream.call.cancel()
        deadline = time.monotonic() + 10
        while "gone-cam" in server.service.buffers and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "gone-cam" not in server.service.buffers
        stream.close()


def test_same_camera_on_two_streams(engines):
    frames = sequence(5, 3)
    with running(engines) as server, grpc.insecure_channel(server.target) as channel:
        stub = enhance_pb2_grpc.EnhancerStub(channel)
        first, second = OpenStream(stub), OpenStream(stub)
        first.send(message("shared-cam", 0, frames[0]))
        assert next(first.call).status == WARMING
        second.send(message("shared-cam", 1, frames[1]))
        refused = next(second.call)
        assert refused.status == pb.StreamResult.STATUS_ERROR
        assert refused.reason.startswith("ALREADY_EXISTS")
        assert "another connection" in refused.reason
        first.send(message("shared-cam", 1, frames[1]))
        assert next(first.call).frames_used == 2  # the owner's buffer is untouched
        first.close()
        list(first.call)
        second.send(message("shared-cam", 2, frames[2]))
        assert next(second.call).frames_used == 1  # freed, then taken by the second stream
        second.close()
        list(second.call)
        assert server.service.in_flight.count == 0


def test_graceful_shutdown_finishes_in_flight_frames(engines):
    frames = sequence(5, 4, (320, 240))
    files = [("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(frames)]
    with running(engines, max_batch=1, shutdown_grace_s=30.0) as server, \
            grpc.insecure_channel(server.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watch = health.Watch(health_pb2.HealthCheckRequest(service="nightowl.v1.Enhancer"))
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        with ThreadPoolExecutor(6) as pool:
            pending = [pool.submit(httpx.post, server.url + "/enhance", files=files, timeout=60)
                       for _ in range(6)]
            deadline = time.monotonic() + 30
            while server.service.in_flight.count < 2:
                assert time.monotonic() < deadline, "requests never overlapped"
                time.sleep(0.005)
            stopping = threading.Thread(target=server.call, args=(server.server.stop(),))
            stopping.start()
            assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
            late = httpx.post(server.url + "/enhance", files=files, timeout=60)
            assert late.status_code == 503 and "shutting down" in late.json()["detail"]
            assert httpx.get(server.url + "/readyz").status_code == 503
            replies = [p.result() for p in pending]
        stopping.join(60)
        # every request admitted before the shutdown finished; the rest were told to go away
        assert all(r.status_code in (200, 503) for r in replies)
        assert sum(r.status_code == 200 for r in replies) >= 2
        with pytest.raises(httpx.ConnectError):
            httpx.get(server.url + "/healthz", timeout=5)
        watch.cancel()


def test_listening_before_the_model_is_loaded_is_not_ready(engines):
    settings = service_settings()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = Server(settings)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    try:
        url, target = f"http://127.0.0.1:{server.port}", f"127.0.0.1:{server.grpc_port}"
        assert httpx.get(url + "/healthz").status_code == 200
        starting = httpx.get(url + "/readyz")
        assert starting.status_code == 503 and "starting" in starting.json()["detail"]
        files = [("frames", ("0.png", png(sequence(5, 5)[0]), "image/png"))]
        assert httpx.post(url + "/enhance", files=files).status_code == 503
        assert httpx.get(url + "/metrics").status_code == 200
        with grpc.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            check = health.Check(health_pb2.HealthCheckRequest(service="nightowl.v1.Enhancer"))
            assert check.status == health_pb2.HealthCheckResponse.NOT_SERVING
            stub = enhance_pb2_grpc.EnhancerStub(channel)
            request = pb.EnhanceRequest(frames=[raw(sequence(5, 5)[0])])
            with pytest.raises(grpc.RpcError) as caught:
                stub.Enhance(request)
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            service = EnhanceService(settings, engines, server.metrics)
            asyncio.run_coroutine_threadsafe(server.attach(service), loop).result(30)
            assert httpx.get(url + "/readyz").status_code == 200
            assert health.Check(health_pb2.HealthCheckRequest()).status == (
                health_pb2.HealthCheckResponse.SERVING)
            assert stub.Enhance(request).frames_used == 1
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
