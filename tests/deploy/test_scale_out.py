"""Scale-out on one machine: two `nightowl serve` replicas behind the real router (Debian's nginx,
rendered from docker/nginx/), many cameras over REST and gRPC, one replica stopped half-way and
started again.

Every camera's frames must land on one replica, the cameras of the stopped replica must move to
the other and warm up there again with no status but warming_up and ok, the others must go on
undisturbed, and every image must be the one a direct call to a single replica gives."""

from __future__ import annotations

import http.client
import os
import queue
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import grpc
import numpy as np
import pytest

from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc as pb_grpc
from tests.deploy.router_harness import free_port

SIZE = (48, 64)  # (H, W) of every frame
CAMERAS = 12  # per protocol
FRAMES = 5  # per camera and phase: 3 warming up and 2 full windows after a (re)start
WORKERS = 8  # cameras sent at once


@dataclass
class Replica:
    """One `nightowl serve` process on 127.0.0.1; start() again reuses its name and ports."""

    name: str
    folder: Path
    port: int = field(default_factory=free_port)  # REST
    grpc_port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "NIGHTOWL_REPLICA_ID": self.name, "NIGHTOWL_HOST": "127.0.0.1",
               "NIGHTOWL_PORT": str(self.port), "NIGHTOWL_GRPC_PORT": str(self.grpc_port),
               "NIGHTOWL_BACKEND": "onnxruntime-cpu", "NIGHTOWL_THREADS": "1",
               "NIGHTOWL_WARMUP_SIZES": f"[[{SIZE[0]}, {SIZE[1]}]]",
               "NIGHTOWL_SHUTDOWN_GRACE_S": "2"}
        with self.log.open("a") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "nightowl.service.cli", "serve"], env=env, stdout=out,
                stderr=subprocess.STDOUT)

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.log"

    def wait_until_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                connection.close()
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout} s: "
                           f"{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


@dataclass
class Answer:
    """What one frame got back."""

    replica: str
    status: str  # ok, warming_up, skipped, error
    frames_used: int
    image: np.ndarray | None = field(repr=False)


@pytest.fixture
def replicas(tmp_path) -> Iterator[list[Replica]]:
    started = [Replica("replica-a", tmp_path), Replica("replica-b", tmp_path)]
    for replica in started:
        replica.start()
    try:
        for replica in started:
            replica.wait_until_ready()
        yield started
    finally:
        for replica in started:
            if replica.process.poll() is None:
                replica.process.kill()
                replica.process.wait(timeout=30)


def camera_frames(camera: int, count: int) -> list[bytes]:
    """A dark street with a lit vehicle moving right, Gaussian noise; PNG files. (H, W, 3)"""
    rng = np.random.default_rng(camera)
    h, w = SIZE
    street = 8 + 10 * np.mgrid[0:h, 0:w][1] / w + rng.uniform(0, 6)
    frames = []
    for t in range(count):
        image = np.repeat(street[..., None], 3, axis=2)
        x0 = 6 + 3 * t + camera % 5
        image[16:30, x0:x0 + 12] += (22, 18, 12)
        image += rng.normal(0, 1.5, image.shape)
        frames.append(cv2.imencode(".png", np.clip(np.round(image), 0, 255).astype(np.uint8))[1]
                      .tobytes())
    return frames


def decode(png: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)


class RestCamera:
    """A camera sending one frame per POST /enhance, named in the query or the X-Camera-Id
    header."""

    def __init__(self, port: int, camera: str, in_query: bool) -> None:
        self.port, self.camera, self.in_query = port, camera, in_query
        self.broken: list[str] = []  # never: every request stands alone

    def send(self, png: bytes, sequence: int) -> Answer:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"sequence\"\r\n\r\n"
                f"{sequence}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"frames\"; "
                f"filename=\"frame.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + png + (
                f"\r\n--{boundary}--\r\n").encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        path = "/enhance"
        if self.in_query:
            path += f"?camera_id={self.camera}"
        else:
            headers["X-Camera-Id"] = self.camera
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        assert response.status == 200, (self.camera, sequence, response.status, data[:500])
        return Answer(response.getheader("X-Nightowl-Replica"), response.getheader("X-Status"),
                      int(response.getheader("X-Frames-Used")), decode(data))

    def close(self) -> None:
        pass


class GrpcCamera:
    """A camera on one long gRPC stream (metadata x-camera-id), one frame at a time. When the
    stream breaks (its replica went away), the camera opens a new one and sends the frame
    again, as a client should."""

    def __init__(self, port: int, camera: str) -> None:
        self.port, self.camera = port, camera
        self.broken: list[str] = []  # status codes of the streams that broke
        self._open()

    def _open(self) -> None:
        self._outbox: queue.Queue = queue.Queue()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self._results = pb_grpc.EnhancerStub(self._channel).Stream(
            iter(self._outbox.get, None), metadata=(("x-camera-id", self.camera),), timeout=120)

    def send(self, png: bytes, sequence: int) -> Answer:
        frame = pb.StreamFrame(camera_id=self.camera, sequence=sequence,
                               image=pb.Image(encoded=png), format=pb.OUTPUT_FORMAT_PNG)
        self._outbox.put(frame)
        try:
            result = next(self._results)
        except grpc.RpcError as error:
            self.broken.append(error.code().name)
            self._channel.close()
            self._open()
            self._outbox.put(frame)
            result = next(self._results)
        status = pb.StreamResult.Status.Name(result.status).removeprefix("STATUS_").lower()
        image = decode(result.image.encoded) if result.image.encoded else None
        return Answer(result.replica, status, result.frames_used, image)

    def close(self) -> None:
        self._outbox.put(None)
        assert list(self._results) == []
        self._channel.close()


def replica_answering(port: int, camera: str) -> str:
    """The replica behind GET /healthz for ``camera`` (the router hashes it like its frames)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", f"/healthz?camera_id={camera}")
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 200
    return response.getheader("X-Nightowl-Replica")


def connect(ports: tuple[int, int], camera: str, prefix: str = "") -> RestCamera | GrpcCamera:
    """Cameras named grpc-* stream by gRPC; the others use REST, even numbers naming the camera
    in the query and odd ones in the header. ``ports``: (REST, gRPC); the camera id sent is
    ``prefix`` + ``camera``."""
    if camera.startswith("grpc"):
        return GrpcCamera(ports[1], prefix + camera)
    return RestCamera(ports[0], prefix + camera, in_query=int(camera.split("-")[-1]) % 2 == 0)


def send_all(clients: dict[str, RestCamera | GrpcCamera], frames: dict[str, list[bytes]],
             phase: slice | dict[str, slice]) -> dict[str, list[Answer]]:
    """Every camera's frames of ``phase`` (or of its own phase), in order per camera, WORKERS
    cameras at a time."""

    def send(camera: str) -> list[Answer]:
        own = phase[camera] if isinstance(phase, dict) else phase
        numbered = enumerate(frames[camera][own], own.start)
        return [clients[camera].send(png, sequence) for sequence, png in numbered]

    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(zip(clients, pool.map(send, clients), strict=True))


def assert_warms_up_then_full(answers: list[Answer]) -> None:
    assert [a.frames_used for a in answers] == [1, 2, 3, 4, 4]
    assert [a.status for a in answers] == ["warming_up"] * 3 + ["ok"] * 2


def assert_same_images(answers: list[Answer], reference: list[Answer]) -> None:
    for answer, expected in zip(answers, reference, strict=True):
        assert answer.image.shape == (*SIZE, 3)
        # the same window through the same model; batches formed differently may round one
        # 8-bit level differently
        difference = np.abs(answer.image.astype(int) - expected.image.astype(int)).max()
        assert difference <= 1, difference


def test_cameras_stick_to_one_replica_and_move_when_it_stops(replicas, start_router):
    first, second = replicas
    # a refused replica is tried again after 1 s (fail_timeout), not the default 10 s
    router = start_router(
        [f"127.0.0.1:{r.port} max_fails=1 fail_timeout=1s" for r in replicas],
        [f"127.0.0.1:{r.grpc_port} max_fails=1 fail_timeout=1s" for r in replicas])
    routed = (router.rest_port, router.grpc_port)
    names = [f"rest-{i}" for i in range(CAMERAS)] + [f"grpc-{i}" for i in range(CAMERAS)]
    frames = {camera: camera_frames(i, 3 * FRAMES) for i, camera in enumerate(names)}
    cameras = {camera: connect(routed, camera) for camera in names}
    before, during, back = (slice(k * FRAMES, (k + 1) * FRAMES) for k in range(3))

    # every camera on one replica, both replicas in use, each camera warming up once
    start = send_all(cameras, frames, before)
    home = {}
    for camera, answers in start.items():
        replicas_seen = {a.replica for a in answers}
        assert len(replicas_seen) == 1, (camera, replicas_seen)
        home[camera] = replicas_seen.pop()
        assert_warms_up_then_full(answers)
    assert set(home.values()) == {first.name, second.name}
    stayed = [camera for camera in names if home[camera] == second.name]
    moved = [camera for camera in names if home[camera] == first.name]

    # one replica stops: its cameras move to the other and warm up again; the others go on
    # (a gRPC stream to the stopped replica breaks, and its camera opens a new one)
    first.stop()
    away = send_all(cameras, frames, during)
    for camera, answers in away.items():
        assert {a.replica for a in answers} == {second.name}, camera
        if camera in moved:
            assert_warms_up_then_full(answers)
        else:
            assert [(a.status, a.frames_used) for a in answers] == [("ok", 4)] * FRAMES
    broken = {camera: client.broken for camera, client in cameras.items() if client.broken}
    assert broken == {camera: ["UNAVAILABLE"] for camera in moved if camera.startswith("grpc")}

    # it comes back: its REST cameras return to it and warm up there once more; a gRPC stream
    # stays on the replica it opened on, so those cameras go on where they are
    first.start()
    first.wait_until_ready()
    # nginx has no active health checks: once fail_timeout has passed, the next request that
    # hashes to the replica tries it, and requests racing that first one still go elsewhere.
    # One request without frames takes that first try here, so every frame below is settled.
    time.sleep(1.1)
    probe = next(camera for camera in moved if camera.startswith("rest"))
    assert replica_answering(router.rest_port, probe) == first.name
    returned = send_all(cameras, frames, back)
    for camera, answers in returned.items():
        if camera in moved and camera.startswith("rest"):
            assert {a.replica for a in answers} == {first.name}, camera
            assert_warms_up_then_full(answers)
        else:
            assert {a.replica for a in answers} == {second.name}, camera
            assert [(a.status, a.frames_used) for a in answers] == [("ok", 4)] * FRAMES
    for client in cameras.values():
        client.close()

    # the same frames sent straight to one replica, with buffers restarted where the routed
    # ones were, give the same images
    everything = slice(0, 3 * FRAMES)
    runs = {camera: [everything] for camera in stayed}
    runs |= {camera: [before, slice(during.start, back.stop)] for camera in moved
             if camera.startswith("grpc")}
    runs |= {camera: [before, during, back] for camera in moved if camera.startswith("rest")}
    expected: dict[str, list[Answer]] = {camera: [] for camera in names}
    for k in range(3):
        phases = {camera: run[k] for camera, run in runs.items() if len(run) > k}
        clients = {camera: connect((second.port, second.grpc_port), camera, f"direct-{k}-")
                   for camera in phases}
        for camera, answers in send_all(clients, frames, phases).items():
            expected[camera] += answers
        for client in clients.values():
            client.close()
    for camera in names:
        assert_same_images(start[camera] + away[camera] + returned[camera], expected[camera])
