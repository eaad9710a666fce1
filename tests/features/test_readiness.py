"""Readiness that tells the truth, on a real server: /readyz and gRPC health go not-ready
while work is stuck or an engine's worker is dead, and come back when work moves again."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.serving import png, running, sequence

FILES = [("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(sequence(43, 0))]
SERVING, NOT_SERVING = (health_pb2.HealthCheckResponse.SERVING,
                        health_pb2.HealthCheckResponse.NOT_SERVING)


def readiness(server, channel) -> tuple[int, str, int]:
    """/readyz's status and detail, and gRPC health's status."""
    reply = httpx.get(server.url + "/readyz", timeout=10)
    detail = reply.json().get("detail", "") if reply.status_code != 200 else ""
    health = health_pb2_grpc.HealthStub(channel).Check(
        health_pb2.HealthCheckRequest(service="nightowl.v1.Enhancer"), timeout=10)
    return reply.status_code, detail, health.status


def wait_for(server, channel, status: int, health: int) -> str:
    deadline = time.monotonic() + 15
    while (now := readiness(server, channel))[::2] != (status, health):
        assert time.monotonic() < deadline, now
        time.sleep(0.05)
    return now[1]


def test_stuck_engine_is_not_ready_until_work_moves_again(engines):
    """The engine threads are held (a hung GPU call): frames in flight stop moving, so the
    server says it is not ready; released, it serves the frame and is ready again."""
    gate = threading.Event()
    with running(engines, stall_s=0.5) as server, \
            grpc.insecure_channel(server.target) as channel, ThreadPoolExecutor(1) as pool:
        assert readiness(server, channel) == (200, "", SERVING)
        for batcher in server.service.batchers.values():
            batcher.executor.submit(gate.wait)
        pending = pool.submit(httpx.post, server.url + "/enhance", files=FILES, timeout=60)
        try:
            detail = wait_for(server, channel, 503, NOT_SERVING)
            assert "none answered" in detail or "not moved" in detail, detail
            refused = httpx.post(server.url + "/enhance", files=FILES, timeout=10)
            assert refused.status_code == 503 and "retry-after" in refused.headers
        finally:
            gate.set()
        assert pending.result().status_code == 200
        wait_for(server, channel, 200, SERVING)


def test_dead_engine_worker_is_not_ready_and_refuses_at_once(engines):
    with running(engines, stall_s=30.0) as server, \
            grpc.insecure_channel(server.target) as channel:
        assert readiness(server, channel) == (200, "", SERVING)

        async def kill() -> None:  # the multi-image engine's worker dies
            server.service.batchers["multi"]._task.cancel()

        server.call(kill())
        detail = wait_for(server, channel, 503, NOT_SERVING)
        assert "multi engine" in detail and "worker stopped" in detail, detail
        refused = httpx.post(server.url + "/enhance", files=FILES, timeout=10)
        assert refused.status_code == 503, refused.text
        assert "worker stopped" in refused.json()["detail"]
