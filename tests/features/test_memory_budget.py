"""The memory budget on a real server: a small PNG declaring a 4K frame is refused from its
header before it costs gigabytes, and requests beyond the budget get 503 / RESOURCE_EXHAUSTED
naming it, while those within it are served."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import grpc
import httpx
import numpy as np
import pytest

from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from nightowl.service.serving.memory import MIB, in_flight_bytes
from tests.serving import png, running

VGA = [png(np.full((480, 640, 3), 8 + t, np.uint8)) for t in range(4)]
ONE = in_flight_bytes(640 * 480, 4)  # what one 4-frame VGA request reserves


def files(frames: list[bytes]) -> list:
    return [("frames", (f"{i}.png", data, "image/png")) for i, data in enumerate(frames)]


def test_a_small_png_declaring_4k_is_refused_from_its_header(engines):
    black = cv2.imencode(".png", np.zeros((2160, 3840, 3), np.uint8))[1].tobytes()
    assert len(black) < 100_000  # tens of kilobytes on the wire
    with running(engines, memory_budget_bytes=1024 * MIB) as server:
        reply = httpx.post(server.url + "/enhance", files=files([black]), timeout=120)
        assert reply.status_code == 413, reply.status_code
        assert "memory_budget_bytes" in reply.json()["detail"]
        assert server.service.memory.reserved == 0


def test_requests_beyond_the_budget_are_refused_naming_it_until_memory_is_free(engines):
    gate = threading.Event()
    budget = ONE + ONE // 2  # one request fits, two do not
    with running(engines, memory_budget_bytes=budget) as server, \
            grpc.insecure_channel(server.target) as channel, ThreadPoolExecutor(1) as pool:
        for batcher in server.service.batchers.values():
            batcher.executor.submit(gate.wait)  # the first request stays in flight
        first = pool.submit(httpx.post, server.url + "/enhance", files=files(VGA), timeout=60)
        try:
            deadline = time.monotonic() + 15
            while server.service.in_flight.count < 1:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            refused = httpx.post(server.url + "/enhance", files=files(VGA), timeout=10)
            assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
            assert "memory_budget_bytes" in refused.json()["detail"]
            stub = enhance_pb2_grpc.EnhancerStub(channel)
            request = pb.EnhanceRequest(frames=[pb.Image(encoded=d) for d in VGA])
            with pytest.raises(grpc.RpcError) as caught:
                stub.Enhance(request, timeout=30)
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert "memory_budget_bytes" in caught.value.details()
            frame = pb.StreamFrame(camera_id="vga", image=request.frames[0])
            (skipped,) = stub.Stream(iter([frame]), timeout=30)
            assert skipped.status == pb.StreamResult.STATUS_SKIPPED
            assert skipped.reason.startswith("RESOURCE_EXHAUSTED: ")
        finally:
            gate.set()
        assert first.result().status_code == 200
        assert server.service.memory.reserved == 0
        again = httpx.post(server.url + "/enhance", files=files(VGA), timeout=60)
        assert again.status_code == 200


def resident() -> int:
    """This process's resident memory, bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_memory_goes_back_to_the_system_after_a_peak(engines):
    """A window of four 960x720 frames peaks at hundreds of MiB (the engine's activations);
    once it is answered, the process holds little more than before it."""
    frames = files([png(np.full((720, 960, 3), 8 + t, np.uint8)) for t in range(4)])
    with running(engines) as server:
        before = resident()
        assert httpx.post(server.url + "/enhance", files=frames, timeout=120).status_code == 200
        time.sleep(0.5)  # the trim runs in the cpu executor once the work has drained
        assert server.service.memory.reserved == 0
        grown = resident() - before
    peak = in_flight_bytes(960 * 720, 4)
    assert grown < peak // 3, (grown // MIB, peak // MIB)  # unfixed: ~80% of it stays
