"""GPU engines (skipped without an NVIDIA GPU): CUDA and TensorRT match the CPU within fp16's
tolerance, and a compiled TensorRT engine is reused on the next load and rebuilt for a changed
model."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from nightowl.service.engines import ShapeProfile, load_engine
from nightowl.service.engines.profiles import gpu_name, tensorrt_version
from nightowl.service.engines.served import load_engines
from nightowl.service.modelrepo.entries import sha256
from nightowl.service.modelrepo.files import resolve
from nightowl.service.settings import Settings

MODELS = Path(__file__).resolve().parents[3] / "models"
HAS_CUDA = gpu_name() is not None and "CUDAExecutionProvider" in ort.get_available_providers()
HAS_TRT = HAS_CUDA and tensorrt_version() is not None
FP16_MAX, FP16_MEAN = 2e-2, 2e-3  # |fp16 engine - fp32 CPU| on outputs in [0, 1]
PROFILE = ShapeProfile(min=(1, 32, 32), opt=(2, 128, 160), max=(4, 256, 256))

pytestmark = [pytest.mark.requires_cuda,
              pytest.mark.skipif(not HAS_CUDA, reason="needs an NVIDIA GPU and onnxruntime-gpu")]
needs_trt = pytest.mark.skipif(not HAS_TRT, reason="needs TensorRT (the gpu extra)")


def frames(shape=(2, 12, 97, 161)) -> np.ndarray:
    return np.random.default_rng(0).random(shape, dtype=np.float32) / 20


@pytest.fixture(scope="module")
def cpu_output() -> np.ndarray:
    return load_engine("mim_l1_cr.onnx", "onnxruntime-cpu", cpu_precision="fp32").run(frames())


def test_cuda_matches_cpu(cpu_output):
    engine = load_engine("mim_l1_cr.onnx", "onnxruntime-cuda", warmup_shapes=[(97, 161)])
    assert engine.describe()["providers"][0] == "CUDAExecutionProvider"
    assert np.abs(engine.run(frames()) - cpu_output).max() < 1e-3  # fp32 on both


@needs_trt
@pytest.mark.parametrize("backend", ["onnxruntime-tensorrt", "tensorrt"])
def test_tensorrt_fp16_matches_cpu(backend, cpu_output, tmp_path):
    if backend == "tensorrt":
        from nightowl.service.engines.tensorrt import build_plan

        build_plan(resolve("mim_l1_cr.onnx"), PROFILE, tmp_path)
    engine = load_engine("mim_l1_cr.onnx", backend, cache_dir=tmp_path, profile=PROFILE)
    assert engine.reference_gain is None  # the shipped manifest has none
    difference = np.abs(engine.run(frames()) - cpu_output)
    assert difference.max() < FP16_MAX and difference.mean() < FP16_MEAN


@needs_trt
def test_auto_prefers_a_gpu_backend(tmp_path):
    engine = load_engine("sim_l1.onnx", "auto", profile=PROFILE, warmup_shapes=[(64, 64)],
                         cache_dir=tmp_path)
    assert engine.backend != "onnxruntime-cpu"


@needs_trt
def test_engine_cache_is_reused_and_rebuilt_for_a_changed_model(tmp_path):
    import onnx

    cache = tmp_path / "cache"
    first_start = time.perf_counter()
    load_engine("sim_l1.onnx", "onnxruntime-tensorrt", cache_dir=cache, profile=PROFILE)
    first = time.perf_counter() - first_start
    (folder,) = cache.iterdir()
    files = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert any(p.suffix == ".engine" for p in files), files
    second_start = time.perf_counter()
    load_engine("sim_l1.onnx", "onnxruntime-tensorrt", cache_dir=cache, profile=PROFILE)
    assert {p: p.stat().st_mtime_ns for p in folder.iterdir()} == files  # nothing rebuilt
    assert time.perf_counter() - second_start < first

    models = tmp_path / "models"  # the same network with other bytes: a new model release
    models.mkdir()
    proto = onnx.load(str(MODELS / "sim_l1.onnx"))
    proto.doc_string = "changed"
    onnx.save(proto, str(models / "sim_l1.onnx"))
    manifest = json.loads((MODELS / "manifest.json").read_text())
    for entry in manifest["models"]:
        if entry["file"] == "sim_l1.onnx":
            entry["sha256"] = sha256(models / "sim_l1.onnx")
    (models / "manifest.json").write_text(json.dumps(manifest))
    load_engine("sim_l1.onnx", "onnxruntime-tensorrt", models_dir=models, cache_dir=cache,
                profile=PROFILE)
    folders = sorted(cache.iterdir())
    assert len(folders) == 2
    assert any(p.suffix == ".engine" for p in (set(folders) - {folder}).pop().iterdir())
    shutil.rmtree(cache)


def test_fused_warp_then_enhance_on_cuda_matches_cpu():
    from nightowl.training.release.warp_graph import warp_then_enhance

    model = warp_then_enhance(MODELS / "mim_l1_cr.onnx").SerializeToString()
    rng = np.random.default_rng(1)
    feed = {"frames": frames((1, 12, 97, 161)),
            "flows": rng.normal(0, 3, (1, 3, 97, 161, 2)).astype(np.float32)}
    outputs = []
    for provider in ("CUDAExecutionProvider", "CPUExecutionProvider"):
        session = ort.InferenceSession(model, providers=[provider])
        assert session.get_providers()[0] == provider
        outputs.append(session.run(None, feed)[0])
    # the in-graph rounding to 8-bit levels may flip a level where GPU and CPU differ slightly
    assert np.abs(outputs[0] - outputs[1]).mean() < 1e-3


def test_gpu_backends_run_the_fp32_file_whatever_the_cpu_precision():
    engine = load_engine("sim_l1.onnx", "onnxruntime-cuda", cpu_precision="int8",
                         warmup_shapes=[(64, 64)])
    assert engine.name == "sim_l1.onnx" and "precision" not in engine.describe()


@pytest.mark.skipif(HAS_TRT, reason="TensorRT is installed: auto takes it first")
def test_auto_without_tensorrt_runs_onnxruntime_cuda_and_satisfies_require_gpu():
    engine = load_engine("sim_l1.onnx", "auto", warmup_shapes=[(64, 64)])
    assert engine.backend == "onnxruntime-cuda"
    settings = Settings(require_gpu=True, few_frames="repeat", warmup_sizes=[(64, 64)])
    assert load_engines(settings)["multi"].backend == "onnxruntime-cuda"
