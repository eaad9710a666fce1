"""Liveness, readiness (with the file, backend and precision that run), metrics and /v1/model."""

from __future__ import annotations

import httpx


def test_health_ready_metrics_and_model(server):
    assert httpx.get(server.url + "/healthz").json() == {"status": "alive"}
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200
    # the CPU engine runs the int8 copy of the configured mim_l1_cr.onnx by default
    assert (ready.json()["model"], ready.json()["precision"]) == ("mim_l1_cr.int8.onnx", "int8")
    assert ready.json()["backend"] == "onnxruntime-cpu"
    metrics = httpx.get(server.url + "/metrics")
    assert metrics.status_code == 200 and "nightowl_frames_total" in metrics.text
    info = [line for line in metrics.text.splitlines() if line.startswith("nightowl_engine_info{")]
    assert sorted(info) == [
        'nightowl_engine_info{backend="onnxruntime-cpu",model="mim_l1_cr.int8.onnx",'
        'precision="int8",role="multi"} 1.0',
        'nightowl_engine_info{backend="onnxruntime-cpu",model="sim_l1_cr.int8.onnx",'
        'precision="int8",role="single"} 1.0']
    assert "nightowl_stage_seconds_bucket" in metrics.text
    model = httpx.get(server.url + "/v1/model").json()
    assert model["model"]["file"] == "mim_l1_cr.int8.onnx"
    assert model["model"]["fp32"] == "mim_l1_cr.onnx" and model["model"]["precision"] == "int8"
    assert model["model"]["sha256"] and model["model"]["backend"] == "onnxruntime-cpu"
    assert model["alignment"]["function"].endswith("align_to_last")
    assert model["few_frames"] == "auto"
    assert model["single_model"]["file"] == "sim_l1_cr.int8.onnx"
