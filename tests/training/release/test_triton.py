"""The Triton model repository ``nightowl export --triton`` writes from the shipped models,
without torch: the config parsed with Triton's own ModelConfig schema, and the model file
run batched as Triton sends it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from nightowl.service.cli import main
from nightowl.service.modelrepo.entries import sha256
from nightowl.service.modelrepo.files import resolve

MODELS = Path(__file__).resolve().parents[3] / "models"


def parse(folder: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse((folder / "config.pbtxt").read_text(),
                             model_config_pb2.ModelConfig())


def test_triton_repository_has_the_model_and_a_config_triton_accepts(tmp_path):
    assert main(["export", "--triton", str(tmp_path), "--models", str(MODELS),
                 "--profile-opt", "4x720x1280", "--profile-max", "8x1080x1920"]) == 0
    folder = tmp_path / "mim_l1_cr"
    assert sha256(folder / "1" / "model.onnx") == resolve("mim_l1_cr.onnx").sha256
    config = parse(folder)
    assert config.name == "mim_l1_cr" and config.backend == "onnxruntime"
    assert config.max_batch_size == 8
    assert config.version_policy.latest.num_versions == 1
    (inp,), (out,) = config.input, config.output
    assert (inp.name, list(inp.dims), inp.data_type) == ("frames", [12, -1, -1],
                                                         model_config_pb2.TYPE_FP32)
    assert (out.name, list(out.dims), out.data_type) == ("enhanced", [3, -1, -1],
                                                         model_config_pb2.TYPE_FP32)
    batching = config.dynamic_batching
    assert config.HasField("dynamic_batching") and batching.max_queue_delay_microseconds > 0
    assert all(1 < b <= config.max_batch_size for b in batching.preferred_batch_size)
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_GPU
    (accelerator,) = config.optimization.execution_accelerators.gpu_execution_accelerator
    assert accelerator.name == "tensorrt"
    parameters = dict(accelerator.parameters)
    assert parameters["precision_mode"] == "FP16"
    assert parameters["trt_engine_cache_enable"] == "1"
    assert parameters["trt_profile_min_shapes"] == "frames:1x12x32x32"
    assert parameters["trt_profile_opt_shapes"] == "frames:4x12x720x1280"
    assert parameters["trt_profile_max_shapes"] == "frames:8x12x1080x1920"
    (warmup,) = config.model_warmup
    assert list(warmup.inputs["frames"].dims) == [12, 720, 1280] and warmup.inputs[
        "frames"].zero_data
    assert config.parameters["sha256"].string_value == resolve("mim_l1_cr.onnx").sha256


def test_triton_model_file_runs_batched_as_triton_would_send_it(tmp_path):
    main(["export", "--triton", str(tmp_path), "--models", str(MODELS)])
    session = ort.InferenceSession(str(tmp_path / "mim_l1_cr" / "1" / "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"frames": np.zeros((3, 12, 24, 40), np.float32)})
    assert out.shape == (3, 3, 24, 40)


def test_triton_cpu_instance_has_no_gpu_accelerator(tmp_path):
    main(["export", "--triton", str(tmp_path), "--models", str(MODELS), "--model",
          "sim_l1.onnx", "--triton-instance", "cpu"])
    config = parse(tmp_path / "sim_l1")
    assert config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_CPU
    assert not config.optimization.execution_accelerators.gpu_execution_accelerator
    assert list(config.input[0].dims) == [3, -1, -1] and config.input[0].name == "frame"
