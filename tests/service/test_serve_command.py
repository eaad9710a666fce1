"""``nightowl serve`` as users run it: a subprocess, settings from flags and NIGHTOWL_*, and a
clean exit on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import grpc
import httpx
import onnxruntime
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

pytestmark = pytest.mark.slow  # spawns processes or servers; CI runs it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_command(port: int, grpc_port: int) -> list[str]:
    return [sys.executable, "-m", "nightowl.service.cli", "serve", "--port", str(port),
            "--grpc-port", str(grpc_port)]


def test_serve_starts_both_servers_and_stops_on_sigterm():
    port, grpc_port = free_port(), free_port()
    env = {**os.environ, "NIGHTOWL_REPLICA_ID": "from-env", "NIGHTOWL_WARMUP_SIZES": "[[48, 64]]"}
    command = serve_command(port, grpc_port)
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as process:
        _check(process, port, grpc_port)


def _check(process: subprocess.Popen, port: int, grpc_port: int) -> None:
    try:
        deadline = time.monotonic() + 60
        while True:  # listening at once, ready (200) once the model is loaded
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, "server not ready in 60 s"
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
            except httpx.TransportError:
                ready = None
            if ready is not None and ready.status_code == 200:
                break
            assert ready is None or ready.status_code == 503
            time.sleep(0.2)
        assert ready.headers["x-nightowl-replica"] == "from-env"
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            check = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
            assert check.status == health_pb2.HealthCheckResponse.SERVING
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.skipif("CUDAExecutionProvider" in onnxruntime.get_available_providers(),
                    reason="a CUDA-capable onnxruntime: auto may end on the GPU")
def test_serve_with_require_gpu_on_a_cpu_host_never_gets_ready_and_exits_saying_why():
    port, grpc_port = free_port(), free_port()
    env = {**os.environ, "NIGHTOWL_REQUIRE_GPU": "true", "NIGHTOWL_WARMUP_SIZES": "[]"}
    command = serve_command(port, grpc_port)
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True) as process:
        try:
            deadline = time.monotonic() + 60
            while process.poll() is None:  # listening, 503 while loading, then gone
                assert time.monotonic() < deadline, "serve neither refused nor exited in 60 s"
                with contextlib.suppress(httpx.TransportError):
                    assert httpx.get(f"http://127.0.0.1:{port}/readyz",
                                     timeout=1).status_code == 503
                time.sleep(0.1)
            stderr = process.stderr.read()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    assert process.returncode == 2, stderr
    last = stderr.strip().splitlines()[-1]
    assert "NIGHTOWL_REQUIRE_GPU=true" in last and "backend onnxruntime-cpu" in last, stderr


def test_serve_refuses_a_public_host_without_keys():
    result = subprocess.run([sys.executable, "-m", "nightowl.service.cli", "serve", "--host",
                             "0.0.0.0"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "api_keys" in result.stderr and len(result.stderr.splitlines()) == 1


def test_serve_refuses_a_misspelt_variable_naming_the_setting():
    env = {**os.environ, "NIGHTOWL_GRPC_PROT": "50052"}
    result = subprocess.run([sys.executable, "-m", "nightowl.service.cli", "serve"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "NIGHTOWL_GRPC_PROT is not a setting: did you mean NIGHTOWL_GRPC_PORT?" in result.stderr
