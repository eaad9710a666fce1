"""load_engines: the engines a Settings names, loaded with its models_dir, threads,
cpu_precision and few_frames, as the server and ``nightowl enhance`` both take them."""

from __future__ import annotations

import onnxruntime
import pytest

from nightowl.service.engines import BackendUnavailable
from nightowl.service.engines.served import load_engines
from nightowl.service.errors import ModelFileError
from nightowl.service.settings import Settings
from tests.serving import normalised_models


def test_load_engines_follows_the_settings(tmp_path):
    models = normalised_models(tmp_path, ("mim_l1_cr.onnx",), None)  # no int8 copy listed
    settings = Settings(models_dir=models, backend="onnxruntime-cpu", threads=1,
                        few_frames="repeat", warmup_sizes=[])
    engines = load_engines(settings)
    assert list(engines) == ["multi"]  # repeat needs no single-image model
    described = engines["multi"].describe()
    assert described["threads"] == 1 and described["precision"] == "fp32"
    assert engines["multi"].reference_gain is None  # the copy's manifest, not the shipped one


def test_load_engines_adds_the_single_image_model_of_the_few_frames_policy():
    settings = Settings(backend="onnxruntime-cpu", threads=1, cpu_precision="int8",
                        warmup_sizes=[])
    engines = load_engines(settings)
    # the shipped models' listed int8 copies, as cpu_precision says
    assert {k: e.name for k, e in engines.items()} == {"multi": "mim_l1_cr.int8.onnx",
                                                        "single": "sim_l1_cr.int8.onnx"}


@pytest.mark.skipif("CUDAExecutionProvider" in onnxruntime.get_available_providers(),
                    reason="a CUDA-capable onnxruntime: auto may end on the GPU")
def test_require_gpu_refuses_an_engine_that_ended_on_the_cpu():
    settings = Settings(backend="auto", threads=1, few_frames="repeat", warmup_sizes=[])
    assert load_engines(settings)["multi"].backend == "onnxruntime-cpu"  # this host: no GPU
    with pytest.raises(BackendUnavailable, match=r"NIGHTOWL_REQUIRE_GPU=true\) but "
                       r"mim_l1_cr.int8.onnx got backend onnxruntime-cpu"):
        load_engines(settings.model_copy(update={"require_gpu": True}))


def test_alignment_network_without_a_flow_model_says_how_to_make_one(tmp_path):
    models = normalised_models(tmp_path, ("mim_l1_cr.onnx",), None)
    settings = Settings(models_dir=models, few_frames="repeat",
                        alignment="network", warmup_sizes=[])
    with pytest.raises(ModelFileError, match=r"flow\.onnx.*nightowl train training/configs/"
                                             r"flow\.toml.*alignment 'dis'"):
        load_engines(settings)
