"""Inference engines: the shipped ONNX models on ONNX Runtime (CPU, CUDA, TensorRT execution
provider) or native TensorRT, behind one small interface. No torch, no web framework.

    engine = load_engine("mim_l1_cr.onnx", "auto", threads=2, warmup_shapes=[(720, 1280)])
    enhanced = engine.run(batch)  # (B, 12, H, W) float32 in [0, 1] -> (B, 3, H, W)

The loader takes plain arguments; ``served.load_engines(settings)`` passes the settings through
for the server and ``nightowl enhance`` alike:
model (file name, default mim_l1_cr.onnx), backend ("auto" or one of BACKENDS), models_dir,
threads (ONNX Runtime CPU threads), warmup_shapes ((height, width) of the cameras' frames; the
server is ready once load_engine returns), cache_dir (compiled TensorRT engines; the same folder
``nightowl export --tensorrt --engine-cache`` wrote to), profile (ShapeProfile: TensorRT's
min/opt/max (batch, height, width); must equal the one the plan was built with), device_id
and cpu_precision ("int8": onnxruntime-cpu runs the model's listed int8 copy; "fp32").
Errors: ModelFileError (names the file), BackendUnavailable (says why), BatchError (says what
is allowed), all EngineError.
"""

from nightowl.service.engines.base import Engine
from nightowl.service.engines.loading import AUTO_ORDER, BACKENDS, load_engine
from nightowl.service.engines.profiles import ShapeProfile
from nightowl.service.errors import (
    BackendUnavailable,
    BatchError,
    EngineError,
    ModelFileError,
)
from nightowl.service.modelrepo.files import DEFAULT_MODELS_DIR

__all__ = ["AUTO_ORDER", "BACKENDS", "DEFAULT_MODELS_DIR", "BackendUnavailable", "BatchError",
           "Engine", "EngineError", "ModelFileError", "ShapeProfile", "load_engine"]
