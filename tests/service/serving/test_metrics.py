"""/metrics of a real server after real traffic: per-model success, failures by reason, frames
and engine calls, queue and compute time apart, process_* metrics; the GPU collector on what
NVML reports (a stand-in of pynvml's shape: this host has no GPU) and on a real GPU."""

from __future__ import annotations

import json
from types import SimpleNamespace

import grpc
import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from nightowl.service.engines.profiles import gpu_name
from nightowl.service.modelrepo.files import DEFAULT_MODELS_DIR
from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from nightowl.service.serving.gpu_metrics import GpuCollector
from tests.serving import png, running, sequence

FRAMES = sequence(17, 0)
SHA = {e["file"]: e["sha256"] for e in json.loads((DEFAULT_MODELS_DIR / "manifest.json")
                                                   .read_text())["models"]}


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """{(sample name, its labels): value} of a Prometheus text exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def of(found: dict, metric: str, /, **labels: str) -> float:
    """The sum of the samples named ``metric`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in found.items() if n == metric and wanted <= have)


def model(file: str) -> dict[str, str]:
    return {"model": file, "version": SHA[file][:12], "backend": "onnxruntime-cpu"}


@pytest.fixture(scope="module")
def scraped(engines) -> dict:
    """The samples after 2 four-frame and 1 one-frame REST requests, a gRPC frame, a bad image
    (REST), a bad gain (gRPC), an invalid parameter and a body over the limit."""
    files = [("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(FRAMES)]
    with running(engines, max_body_bytes=256 * 1024) as server, \
            grpc.insecure_channel(server.target) as channel:
        for _ in range(2):
            assert httpx.post(server.url + "/enhance", files=files).status_code == 200
        assert httpx.post(server.url + "/enhance", files=files[:1]).status_code == 200
        bad = [("frames", ("0.png", png(FRAMES[0][:8, :8]), "image/png"))]
        assert httpx.post(server.url + "/enhance", files=bad).status_code == 422
        assert httpx.post(server.url + "/enhance?format=gif", files=files).status_code == 400
        big = [("frames", ("0.png", bytes(300_000), "image/png"))]
        assert httpx.post(server.url + "/enhance", files=big).status_code == 413
        stub = enhance_pb2_grpc.EnhancerStub(channel)
        image = pb.Image(encoded=png(FRAMES[0]))
        assert stub.Enhance(pb.EnhanceRequest(frames=[image] * 4)).frames_used == 4
        with pytest.raises(grpc.RpcError):
            stub.Enhance(pb.EnhanceRequest(frames=[image], gain=-1))
        return samples(httpx.get(server.url + "/metrics").text)


def test_success_frames_and_engine_calls_per_model(scraped):
    multi, single = model("mim_l1_cr.int8.onnx"), model("sim_l1_cr.int8.onnx")
    assert of(scraped, "nightowl_inference_request_success_total", **multi) == 3
    assert of(scraped, "nightowl_inference_request_success_total", **single) == 1
    for labels, frames in ((multi, 3), (single, 1)):
        assert of(scraped, "nightowl_inference_count_total", **labels) == frames
        calls = of(scraped, "nightowl_inference_exec_count_total", **labels)
        assert 1 <= calls <= frames
        assert of(scraped, "nightowl_inference_compute_seconds_count", **labels) == calls
        assert of(scraped, "nightowl_inference_queue_seconds_count", **labels) == frames
        assert of(scraped, "nightowl_inference_compute_seconds_sum", **labels) > 0


def test_failures_by_reason_under_the_served_model(scraped):
    multi = model("mim_l1_cr.int8.onnx")
    failures = {dict(labels)["reason"]: value for (name, labels), value in scraped.items()
                if name == "nightowl_inference_request_failure_total"}
    assert failures == {"bad-image": 1, "bad-request": 2, "too-large": 1}
    assert of(scraped, "nightowl_inference_request_failure_total", reason="bad-request",
              **multi) == 2


def test_process_metrics_are_exported(scraped):
    assert of(scraped, "process_resident_memory_bytes") > 10e6
    assert of(scraped, "process_cpu_seconds_total") > 0
    assert of(scraped, "process_open_fds") > 0


@pytest.mark.skipif(gpu_name() is not None, reason="this host has a GPU")
def test_no_gpu_series_without_a_gpu(scraped):
    assert GpuCollector.load() is None
    assert not [name for name, _ in scraped if name.startswith("nightowl_gpu")]


class NVMLError(Exception):
    pass


def nvml(devices: list[dict], init_error: bool = False) -> SimpleNamespace:
    """A stand-in of the pynvml module over ``devices`` ({"gpu": percent, "used", "total",
    "power": mW or None, "lost": bool})."""

    def check(index: int, what: str) -> None:
        if devices[index].get(what):
            raise NVMLError(what)

    def init() -> None:
        if init_error:
            raise NVMLError("NVML Shared Library Not Found")

    def power(i: int) -> int:
        if devices[i]["power"] is None:
            raise NVMLError("Not Supported")
        return devices[i]["power"]

    return SimpleNamespace(
        NVMLError=NVMLError, nvmlInit=init, nvmlDeviceGetCount=lambda: len(devices),
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetUUID=lambda i: f"GPU-{i}", nvmlDeviceGetName=lambda i: b"NVIDIA H200",
        nvmlDeviceGetUtilizationRates=lambda i: (check(i, "lost"), SimpleNamespace(
            gpu=devices[i]["gpu"], memory=0))[1],
        nvmlDeviceGetMemoryInfo=lambda i: SimpleNamespace(used=devices[i]["used"],
                                                          total=devices[i]["total"]),
        nvmlDeviceGetPowerUsage=power)


def exported(collector: GpuCollector) -> dict:
    registry = CollectorRegistry()
    registry.register(collector)
    return samples(generate_latest(registry).decode())


def test_gpu_collector_exports_each_devices_utilisation_memory_and_power():
    devices = [{"gpu": 75, "used": 2 << 30, "total": 140 << 30, "power": 350_000},
               {"gpu": 0, "used": 0, "total": 140 << 30, "power": None}]
    found = exported(GpuCollector.load(nvml(devices)))
    first = {"gpu": "0", "uuid": "GPU-0", "name": "NVIDIA H200"}
    assert of(found, "nightowl_gpu_utilization", **first) == 0.75
    assert of(found, "nightowl_gpu_memory_used_bytes", **first) == 2 << 30
    assert of(found, "nightowl_gpu_memory_total_bytes", gpu="1") == 140 << 30
    assert of(found, "nightowl_gpu_power_watts", **first) == 350.0
    assert ("nightowl_gpu_power_watts", frozenset({**first, "gpu": "1", "uuid": "GPU-1"}.items())
            ) not in found  # not reported by that board
    devices[1]["lost"] = True  # fell off the bus after start-up: no sample, no error
    found = exported(GpuCollector.load(nvml(devices)))
    assert [dict(labels)["gpu"] for name, labels in found
            if name == "nightowl_gpu_utilization"] == ["0"]


def test_gpu_collector_is_absent_without_nvml_or_devices():
    assert GpuCollector.load(nvml([], init_error=True)) is None
    assert GpuCollector.load(nvml([])) is None


@pytest.mark.requires_cuda
@pytest.mark.skipif(gpu_name() is None, reason="needs an NVIDIA GPU")
def test_gpu_collector_on_a_real_gpu():
    pytest.importorskip("pynvml")
    found = exported(GpuCollector.load())
    assert 0 <= of(found, "nightowl_gpu_utilization", gpu="0") <= 1
    assert of(found, "nightowl_gpu_memory_total_bytes", gpu="0") > 1 << 30
