"""A thousand gRPC calls cancelled, timed out or hung up at random points, on a real server:
afterwards nothing they took is still held, and a good request is served at once."""

from __future__ import annotations

import asyncio
import gc
import random
import time

import grpc
import numpy as np

from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from tests.serving import png, running, sequence

CALLS = 1000
FRAMES = sequence(41, 0, (32, 32))


def image(t: int, raw: bool) -> pb.Image:
    frame = FRAMES[t % 4]
    if raw:
        return pb.Image(rgb8=frame.tobytes(), width=32, height=32)
    return pb.Image(encoded=png(frame))


async def one_call(channel: grpc.aio.Channel, rng: random.Random, i: int) -> None:
    """A stream of 12 frames (PNG or raw) cut after 0-3 answers and a random pause: by
    cancel(), by its deadline, or by its channel closing; every tenth call is unary."""
    stub = enhance_pb2_grpc.EnhancerStub(channel)
    raw, how = rng.random() < 0.5, rng.choice(["cancel", "cancel", "deadline"])
    if i % 10 == 0:
        call = stub.Enhance(pb.EnhanceRequest(frames=[image(t, raw) for t in range(4)]))
        await asyncio.sleep(rng.random() * 0.02)
        call.cancel()
        return
    frames = (pb.StreamFrame(camera_id=f"cam-{i}", sequence=t, image=image(t, raw))
              for t in range(12))
    call = stub.Stream(frames, timeout=rng.uniform(0.01, 0.08) if how == "deadline" else None)
    answers, wanted = 0, rng.randint(0, 3)
    try:
        async for _ in call:
            answers += 1
            if answers >= wanted:
                break
        await asyncio.sleep(rng.random() * 0.01)
    except (grpc.aio.AioRpcError, asyncio.CancelledError):  # its deadline passed; the client
        pass  # may report that as either
    call.cancel()


async def storm(target: str) -> None:
    rng = random.Random(1)
    channels = [grpc.aio.insecure_channel(target) for _ in range(4)]
    gate = asyncio.Semaphore(48)

    async def guarded(i: int) -> None:
        async with gate:
            await one_call(channels[i % 4], rng, i)

    await asyncio.gather(*(guarded(i) for i in range(CALLS)))
    for channel in channels:  # hang up whatever is still open
        await channel.close(grace=None)


def held(server) -> dict[str, object]:
    """What the server holds for callers: slots, gauges, buffers, queued frames, and the tasks
    of our own code beyond the long-lived ones."""
    service = server.service
    metrics = service.metrics

    async def tasks() -> list[str]:
        return sorted(t.get_coro().__qualname__ for t in asyncio.all_tasks()
                      if "/service/" in t.get_coro().cr_code.co_filename)

    return {"slots": service.in_flight.count, "in_flight": metrics.in_flight._value.get(),
            "streams": metrics.streams._value.get(), "cameras": len(service.buffers),
            "waiting": sum(b.waiting for b in service.batchers.values()),
            "tasks": server.call(tasks())}


def test_a_thousand_cut_calls_leave_nothing_held(engines):
    with running(engines, queue_limit=32, stream_queue_limit=2) as server:
        idle = held(server)
        gc.disable()  # what is given back must not wait for the garbage collector
        try:
            asyncio.run(storm(server.target))
            deadline = time.monotonic() + 10
            while (now := held(server)) != idle and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            gc.enable()
        assert now == idle == {**idle, "slots": 0, "in_flight": 0, "streams": 0, "cameras": 0,
                               "waiting": 0}
        with grpc.insecure_channel(server.target) as channel:
            stub = enhance_pb2_grpc.EnhancerStub(channel)
            reply = stub.Enhance(pb.EnhanceRequest(frames=[image(t, True) for t in range(4)],
                                                   format=pb.OUTPUT_FORMAT_RGB8), timeout=30)
            assert reply.frames_used == 4
            assert np.frombuffer(reply.image.rgb8, np.uint8).size == 32 * 32 * 3
