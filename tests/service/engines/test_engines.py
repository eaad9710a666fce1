"""The engine layer on ONNX Runtime CPU: parity with torch's stored reference, shapes, batching,
warm-up, refused model files, and backend selection on a host without a GPU."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from nightowl.service.engines import (
    BACKENDS,
    BackendUnavailable,
    BatchError,
    Engine,
    ModelFileError,
    ShapeProfile,
    load_engine,
    loading,
)
from nightowl.service.engines.profiles import cache_key, gpu_name
from nightowl.service.modelrepo.entries import sha256

MODELS = Path(__file__).resolve().parents[3] / "models"
MANIFEST = json.loads((MODELS / "manifest.json").read_text())["models"]
ENHANCERS = [m["file"] for m in MANIFEST if m["task"] == "enhancer" and "tolerance" in m["parity"]]
INT8 = {m["fp32"]: m for m in MANIFEST if m.get("precision") == "int8"}
NO_GPU = gpu_name() is None and "CUDAExecutionProvider" not in ort.get_available_providers()


@pytest.fixture(scope="module")
def mim() -> Engine:
    return load_engine("mim_l1_cr.onnx", "onnxruntime-cpu", threads=2, cpu_precision="fp32")


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """A copy of the model repository holding sim_l1.onnx and its int8 copy only, to break on
    purpose."""
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(MODELS / "sim_l1.onnx", folder)
    shutil.copy(MODELS / INT8["sim_l1.onnx"]["file"], folder)
    shutil.copy(MODELS / "manifest.json", folder)
    return folder


def rewrite_manifest_sha(folder: Path, name: str) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["models"]:
        if entry["file"] == name:
            entry["sha256"] = sha256(folder / name)
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ENHANCERS)
def test_cpu_engine_matches_torch_reference(name):
    entry = next(m for m in MANIFEST if m["file"] == name)
    engine = load_engine(name, "onnxruntime-cpu", threads=1, cpu_precision="fp32")
    with np.load(MODELS / entry["reference"]) as reference:
        out = engine.run(reference["inputs"])
        assert out.shape == reference["outputs"].shape and out.dtype == np.float32
        assert np.abs(out - reference["outputs"]).max() <= entry["parity"]["tolerance"]
    assert engine.frames * 3 == entry["inputs"][0]["shape"][1]
    assert engine.input_name == entry["inputs"][0]["name"]


@pytest.mark.parametrize("size", [(97, 61), (61, 97), (1, 1), (7, 130)])
def test_odd_sizes_match_the_unoptimised_graph(mim, size):
    frames = np.random.default_rng(1).random((2, 12, *size), dtype=np.float32) / 20
    plain = ort.SessionOptions()
    plain.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(MODELS / "mim_l1_cr.onnx"), plain,
                                   providers=["CPUExecutionProvider"])
    (expected,) = session.run(None, {"frames": frames})
    out = mim.run(frames)
    assert out.shape == (2, 3, *size)
    assert np.abs(out - expected).max() < 1e-4
    assert out.min() >= 0 and out.max() <= 1


def test_batch_equals_frames_run_one_by_one(mim):
    frames = np.random.default_rng(2).random((3, 12, 40, 56), dtype=np.float32) / 20
    together = mim.run(frames)
    apart = np.concatenate([mim.run(frames[i:i + 1]) for i in range(3)])
    np.testing.assert_allclose(together, apart, atol=1e-5)


class CountingEngine:
    """A real engine that records the batch shape of every call."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.calls = engine, []

    def run(self, batch: np.ndarray) -> np.ndarray:
        self.calls.append(batch.shape)
        return self.engine.run(batch)


@pytest.mark.parametrize(("batch", "match"), [
    (np.zeros((1, 3, 8, 8), np.float32), r"\(B, 12, H, W\)"),
    (np.zeros((1, 12, 8, 8), np.float64), "float32"),
    (np.zeros((12, 8, 8), np.float32), r"got \(12, 8, 8\)"),
    (np.zeros((0, 12, 8, 8), np.float32), "B, H, W >= 1"),
    ([[0.0]], "numpy array"),
])
def test_wrong_batches_are_refused_saying_what_is_allowed(mim, batch, match):
    with pytest.raises(BatchError, match=match):
        mim.run(batch)


def test_describe_has_the_manifest_entry_backend_and_threads():
    engine = load_engine("sim_l1.onnx", "onnxruntime-cpu", threads=1, cpu_precision="fp32")
    described = engine.describe()
    assert described["file"] == "sim_l1.onnx" and described["sha256"] == sha256(
        MODELS / "sim_l1.onnx")
    assert described["backend"] == "onnxruntime-cpu" == engine.backend
    assert described["providers"] == ["CPUExecutionProvider"]
    assert described["threads"] == 1 and described["spinning"] is False
    assert described["precision"] == "fp32"
    json.dumps(described)  # served as JSON


def test_warm_up_runs_every_configured_shape_before_returning(monkeypatch):
    seen = []
    start = loading.ort.load

    def spying(*args, **kwargs):
        seen.append(CountingEngine(start(*args, **kwargs)))
        return seen[-1]

    monkeypatch.setattr(loading.ort, "load", spying)
    load_engine("sim_l1.onnx", "onnxruntime-cpu", warmup_shapes=[(36, 64), (97, 61)])
    assert seen[0].calls == [(1, 3, 36, 64), (1, 3, 97, 61)]


def test_a_warm_up_shape_the_model_cannot_take_fails_the_load():
    with pytest.raises(BatchError, match="B, H, W >= 1"):
        load_engine("sim_l1.onnx", "onnxruntime-cpu", warmup_shapes=[(0, 64)])


def test_missing_file_is_refused_naming_it(models):
    (models / "sim_l1.onnx").unlink()
    with pytest.raises(ModelFileError, match=r"sim_l1\.onnx is missing"):
        load_engine("sim_l1.onnx", models_dir=models)


def test_altered_file_is_refused_naming_it(models):
    data = bytearray((models / "sim_l1.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (models / "sim_l1.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"sim_l1\.onnx has sha256 .* but .*manifest"):
        load_engine("sim_l1.onnx", "onnxruntime-cpu", models_dir=models)


def test_corrupt_file_that_matches_its_manifest_is_refused_naming_it(models):
    (models / "sim_l1.onnx").write_bytes(b"not an onnx model" * 100)
    rewrite_manifest_sha(models, "sim_l1.onnx")
    with pytest.raises(ModelFileError, match=r"sim_l1\.onnx cannot be loaded by onnxruntime"):
        # auto ends on the CPU and says so
        load_engine("sim_l1.onnx", models_dir=models, cpu_precision="fp32")


def test_unlisted_file_and_missing_manifest_are_refused(models, tmp_path):
    shutil.copy(models / "sim_l1.onnx", models / "extra.onnx")
    with pytest.raises(ModelFileError, match=r"extra\.onnx is not listed in"):
        load_engine(models / "extra.onnx")
    (models / "manifest.json").unlink()
    with pytest.raises(ModelFileError, match=r"no manifest at .*sim_l1\.onnx cannot be checked"):
        load_engine("sim_l1.onnx", models_dir=models)


def test_a_path_is_checked_against_its_folders_manifest(models):
    engine = load_engine(models / "sim_l1.onnx", "onnxruntime-cpu", cpu_precision="fp32")
    assert engine.name == "sim_l1.onnx" and engine.frames == 1


def test_unknown_backend_is_refused_listing_the_known_ones():
    with pytest.raises(ValueError, match="onnxruntime-cpu, onnxruntime-cuda"):
        load_engine("sim_l1.onnx", "cuda")


@pytest.mark.skipif(not NO_GPU, reason="this host has a GPU or a GPU build of onnxruntime")
def test_auto_on_a_cpu_only_host_picks_cpu_and_says_why(caplog):
    with caplog.at_level(logging.INFO, logger="nightowl.engines"):
        engine = load_engine("sim_l1.onnx", "auto", threads=1)
    assert engine.backend == "onnxruntime-cpu"
    text = caplog.text
    for backend in ("tensorrt", "onnxruntime-tensorrt", "onnxruntime-cuda"):
        assert f"{backend} is not available for sim_l1.onnx" in text
    assert "chose onnxruntime-cpu for sim_l1.onnx" in text


def test_cpu_engine_runs_the_int8_copy_by_default_and_says_so(caplog):
    with caplog.at_level(logging.INFO, logger="nightowl.engines"):
        engine = load_engine("sim_l1.onnx", "onnxruntime-cpu", threads=1)
    copy = INT8["sim_l1.onnx"]
    described = engine.describe()
    assert engine.name == copy["file"] == described["file"]
    assert described["precision"] == "int8" and described["fp32"] == "sim_l1.onnx"
    assert described["sha256"] == sha256(MODELS / copy["file"])
    assert f"runs its int8 copy {copy['file']}" in caplog.text
    with np.load(MODELS / copy["reference"]) as reference:  # an in-use input
        out = engine.run(reference["inputs"])
        mse = float(np.mean((out.astype(np.float64) - reference["outputs"]) ** 2))
    assert 10 * np.log10(1 / mse) >= copy["parity"]["min_psnr_db"]


@pytest.mark.parametrize("size", [(1, 1), (7, 130), (61, 97)])
def test_int8_engine_takes_any_size_and_stays_in_range(size):
    engine = load_engine("mim_l1_cr.onnx", "onnxruntime-cpu", threads=1)
    frames = np.random.default_rng(4).random((2, 12, *size), dtype=np.float32) / 20
    out = engine.run(frames)
    assert engine.describe()["precision"] == "int8"
    assert out.shape == (2, 3, *size) and out.min() >= 0 and out.max() <= 1


def test_cpu_precision_fp32_runs_the_file_itself():
    engine = load_engine("sim_l1.onnx", "onnxruntime-cpu", threads=1, cpu_precision="fp32")
    assert engine.name == "sim_l1.onnx" and engine.describe()["precision"] == "fp32"
    with pytest.raises(ValueError, match="cpu_precision must be one of int8, fp32"):
        load_engine("sim_l1.onnx", "onnxruntime-cpu", cpu_precision="int4")


def test_no_int8_copy_listed_runs_fp32_with_a_log_line(models, caplog):
    manifest = json.loads((models / "manifest.json").read_text())
    manifest["models"] = [m for m in manifest["models"] if m.get("precision") != "int8"]
    (models / "manifest.json").write_text(json.dumps(manifest))
    with caplog.at_level(logging.INFO, logger="nightowl.engines"):
        engine = load_engine("sim_l1.onnx", "onnxruntime-cpu", models_dir=models)
    assert engine.name == "sim_l1.onnx" and engine.describe()["precision"] == "fp32"
    assert "sim_l1.onnx on onnxruntime-cpu runs in fp32: the manifest lists no int8" in caplog.text


def test_an_altered_int8_copy_is_refused_naming_it(models):
    name = INT8["sim_l1.onnx"]["file"]
    data = bytearray((models / name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (models / name).write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=rf"{name.replace('.', '[.]')} has sha256"):
        load_engine("sim_l1.onnx", "onnxruntime-cpu", models_dir=models)
    engine = load_engine("sim_l1.onnx", "onnxruntime-cpu", models_dir=models,
                         cpu_precision="fp32")  # the fp32 file is still fine
    assert engine.name == "sim_l1.onnx"


@pytest.mark.skipif(not NO_GPU, reason="this host has a GPU or a GPU build of onnxruntime")
def test_auto_falling_back_to_the_cpu_gets_the_int8_copy():
    engine = load_engine("sim_l1.onnx", "auto", threads=1)
    assert engine.backend == "onnxruntime-cpu" and engine.describe()["precision"] == "int8"
    engine = load_engine("sim_l1.onnx", "auto", threads=1, cpu_precision="fp32")
    assert engine.name == "sim_l1.onnx"


@pytest.mark.skipif(not NO_GPU, reason="this host has a GPU or a GPU build of onnxruntime")
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "onnxruntime-cpu"])
def test_a_named_gpu_backend_on_a_cpu_only_host_fails_with_the_reason(backend):
    with pytest.raises(BackendUnavailable, match=r"not installed|has no .*ExecutionProvider"):
        load_engine("sim_l1.onnx", backend)


def test_shape_profile_is_checked():
    with pytest.raises(ValueError, match="min <= opt <= max"):
        ShapeProfile(min=(1, 64, 64), opt=(1, 32, 32), max=(2, 128, 128))
    with pytest.raises(ValueError, match="positive"):
        ShapeProfile(min=(0, 64, 64))
    profile = ShapeProfile()
    assert profile.ort_option("frames", 12, "opt") == "frames:1x12x720x1280"
    assert profile.contains(8, 1080, 1920) and not profile.contains(9, 720, 1280)


def test_cache_key_changes_with_model_gpu_versions_and_profile():
    base = dict(model_sha256="a" * 64, gpu="NVIDIA H100 80GB HBM3", tensorrt="10.3.0",
                runtime="ort1.20.1", profile=ShapeProfile())
    key = cache_key(**base)
    assert "/" not in key and " " not in key
    for change in (dict(model_sha256="b" * 64), dict(gpu="NVIDIA L4"),
                   dict(tensorrt="10.4.0"), dict(runtime="ort1.21.0"),
                   dict(profile=ShapeProfile(max=(4, 1080, 1920)))):
        assert cache_key(**{**base, **change}) != key
