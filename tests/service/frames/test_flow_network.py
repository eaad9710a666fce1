"""Alignment by a flow network on an engine: align_to_last's layout and convention, the pipeline
and a real server with alignment "network".

The flow network here is a small hand-made ONNX graph that answers a known flow for every pixel
(frame t moved by SHIFTS[t] px), run by the real ONNX Runtime engine from a real model
repository: what is tested is what the service does with a flow model's answer, whatever
network gives it (the trained one's accuracy is measured by bench/bench_flow.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest

from nightowl.service.engines import load_engine
from nightowl.service.frames.alignment import align_to_last, warp
from nightowl.service.frames.flow_network import align_with_network, network_flows
from nightowl.service.frames.layout import input_scale, network_input
from nightowl.service.frames.pipeline import Pipeline
from nightowl.service.modelrepo.entries import sha256
from nightowl.service.modelrepo.files import DEFAULT_MODELS_DIR
from nightowl.service.modelrepo.manifest import MANIFEST
from nightowl.training.synth.samples import SampleConfig, make_sample
from tests.flow_graphs import SHIFTS, shift_flow_graph
from tests.serving import png, running, sequence, unpng


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """A model repository with the shipped MIM and the shift flow model, both listed."""
    folder = tmp_path_factory.mktemp("models")
    manifest = json.loads((DEFAULT_MODELS_DIR / MANIFEST).read_text())
    entries = [e for e in manifest["models"] if e["file"] == "mim_l1_cr.onnx"]
    shutil.copy(DEFAULT_MODELS_DIR / "mim_l1_cr.onnx", folder)
    path = folder / "flow.onnx"
    path.write_bytes(shift_flow_graph().SerializeToString())
    entries.append({"file": "flow.onnx", "sha256": sha256(path), "task": "flow",
                    "what": "test flow: a known shift per frame",
                    "inputs": [{"name": "frames", "shape": ["batch", 12, "height", "width"],
                                "dtype": "float32"}],
                    "outputs": [{"name": "flows", "shape": ["batch", 3, "height", "width", 2],
                                 "dtype": "float32"}],
                    "model_config": {"frames": 4}})
    (folder / MANIFEST).write_text(json.dumps({**manifest, "models": entries}))
    return folder


@pytest.fixture(scope="module")
def engines(models):
    load = dict(models_dir=models, threads=1, cpu_precision="fp32")
    return {"multi": load_engine("mim_l1_cr.onnx", "onnxruntime-cpu", **load),
            "flow": load_engine("flow.onnx", "onnxruntime-cpu", **load)}


def test_flows_have_align_to_lasts_layout(engines):
    low = make_sample(SampleConfig(), 7, 0).low
    flows = network_flows(low, engines["flow"])
    _, dis = align_to_last(low)
    assert flows.shape == dis.shape == (4, *low.shape[1:3], 2) and flows.dtype == np.float32
    np.testing.assert_allclose(flows[:3], np.broadcast_to(SHIFTS[:, None, None], flows[:3].shape))
    assert not flows[-1].any()
    with pytest.raises(ValueError, match="aligns 4 frames"):
        network_flows(low[1:], engines["flow"])
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        network_flows(low[..., 0], engines["flow"])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_aligned_frames_are_the_frames_warped_by_its_flows(engines, dtype):
    low = make_sample(SampleConfig(), 7, 1).low.astype(dtype) * (257 if dtype == np.uint16 else 1)
    aligned, flows = align_with_network(low, engines["flow"])
    assert aligned.dtype == dtype
    np.testing.assert_array_equal(aligned[-1], low[-1])
    for t in range(3):
        np.testing.assert_array_equal(aligned[t], warp(low[t], flows[t]))


def test_pipeline_aligns_with_the_network_and_takes_short_windows(engines):
    low = make_sample(SampleConfig(), 7, 2).low
    with_network = Pipeline.for_engines(engines)
    with_dis = Pipeline.for_engines({"multi": engines["multi"]})
    assert with_network.flow is engines["flow"] and with_dis.flow is None
    a = with_network.prepare(low, None, estimate=25.0)
    b = with_dis.prepare(low, None, estimate=25.0)
    assert a.input.shape == b.input.shape == (12, *low.shape[1:3])
    np.testing.assert_array_equal(a.input[-3:], b.input[-3:])  # frame T is never warped
    expected = warp(low[0], np.broadcast_to(SHIFTS[0], (*low.shape[1:3], 2)).copy())
    scale = input_scale(low.dtype, 25.0, engines["multi"].reference_gain)
    np.testing.assert_array_equal(a.input[:3], network_input(expected[None], scale))
    assert not np.array_equal(a.input[:3], b.input[:3])
    short = with_network.prepare(low[2:], None, estimate=25.0)
    assert short.model == "multi" and short.frames_used == 2
    assert short.input.shape == (12, *low.shape[1:3])


def test_flow_model_must_align_the_enhancers_frames(engines):
    sim = load_engine("sim_l1_cr.onnx", "onnxruntime-cpu", threads=1, cpu_precision="fp32")
    with pytest.raises(ValueError, match="aligns 4 frames"):
        Pipeline.for_engines({"multi": sim, "flow": engines["flow"]})


def test_a_server_with_alignment_network_serves_and_says_so(engines):
    frames = sequence(5, 0)
    with running(engines, alignment="network", few_frames="repeat") as server:
        model = httpx.get(server.url + "/v1/model").json()
        assert model["alignment"]["model"]["file"] == "flow.onnx"
        assert model["alignment"]["function"].endswith("flow_network.network_flows")
        files = [("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(frames)]
        reply = httpx.post(server.url + "/enhance", files=files, timeout=60)
        assert reply.status_code == 200, reply.text
        out = unpng(reply.content)
        assert out.shape == frames[-1].shape and out.mean() > 2 * frames[-1].mean()
