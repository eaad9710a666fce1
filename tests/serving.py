"""A real server (uvicorn + grpc.aio on 127.0.0.1, free ports) in a background thread, and
small real frames from the generator, for the service tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import grpc
import numpy as np
from grpc_reflection.v1alpha import reflection_pb2

from nightowl.service.engines import Engine
from nightowl.service.modelrepo.files import DEFAULT_MODELS_DIR
from nightowl.service.modelrepo.manifest import MANIFEST
from nightowl.service.server import Server
from nightowl.service.serving.enhance_service import EnhanceService
from nightowl.service.settings import Settings
from nightowl.training.synth.samples import SampleConfig, make_sample
from nightowl.training.synth.scenes import SceneConfig

SIZE = (64, 48)  # (width, height) of test frames


def service_settings(**overrides) -> Settings:
    # scene_change off: at 64x48 a vehicle fills so much of the frame that consecutive frames
    # can look like a new scene (the test is tuned for >= 160x120; test_buffers covers it)
    # queues deep enough that tests sending a burst of frames on one stream see no skips
    # (test_load sets its own limits to see them)
    values = dict(port=0, grpc_port=0, replica_id="replica-under-test", warmup_sizes=[],
                  camera_rate=1000.0, camera_burst=1000, shutdown_grace_s=5.0,
                  scene_change=10.0, queue_limit=256, stream_queue_limit=64)
    return Settings(**{**values, **overrides})


@dataclass
class Running:
    server: Server
    loop: asyncio.AbstractEventLoop

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.grpc_port}"

    @property
    def service(self) -> EnhanceService:
        return self.server.service

    def call(self, coroutine, timeout: float = 30.0):
        """Run ``coroutine`` on the server's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


@contextlib.contextmanager
def running(engines: dict[str, Engine] | None, **overrides) -> Iterator[Running]:
    """Serve ``engines`` with test settings (+ overrides) until the block ends; None: listening
    with no service attached, as a server is while its model loads (503 but for the probes)."""
    settings = service_settings(**overrides)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = Server(settings)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(30)
    if engines is not None:
        service = EnhanceService(settings, engines, server.metrics)
        asyncio.run_coroutine_threadsafe(server.attach(service), loop).result(30)
    try:
        yield Running(server, loop)
    finally:
        with contextlib.suppress(RuntimeError):
            asyncio.run_coroutine_threadsafe(server.stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def reflect(channel: grpc.Channel, version: str, request: reflection_pb2.ServerReflectionRequest,
            metadata: tuple = ()) -> reflection_pb2.ServerReflectionResponse:
    """One request to grpc.reflection.<version>; v1's messages are v1alpha's, field for field
    (the v1 proto only renamed the package), so v1alpha's classes write and read them."""
    call = channel.stream_stream(
        f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
    (reply,) = list(call(iter([request]), metadata=metadata, timeout=10))
    return reply


def sequence(seed: int, index: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """(4, H, W, 3) uint8 dark frames of one generator sequence."""
    config = SampleConfig(scene=SceneConfig(width=size[0], height=size[1]))
    return make_sample(config, seed, index).low


def png(frame: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(frame[..., ::-1]))
    assert ok
    return data.tobytes()


def unpng(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert image is not None, data[:200]
    return image[..., ::-1]


def normalised_models(folder: Path, files: tuple[str, ...], reference_gain: float | None
                      ) -> Path:
    """``folder`` as a models folder: copies of the shipped ``files`` (sha256 unchanged) and a
    manifest whose entries for them set ``reference_gain`` in their model_config, as if they
    had been trained on exposure-normalised frames (None: on frames as captured)."""
    manifest = json.loads((DEFAULT_MODELS_DIR / MANIFEST).read_text())
    entries = [entry for entry in manifest["models"] if entry["file"] in files]
    for entry in entries:
        entry["model_config"]["reference_gain"] = reference_gain
        if reference_gain is None:
            del entry["model_config"]["reference_gain"]
        shutil.copy(DEFAULT_MODELS_DIR / entry["file"], folder / entry["file"])
    (folder / MANIFEST).write_text(json.dumps({**manifest, "models": entries}))
    return folder
