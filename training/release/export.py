"""Export trained networks to ONNX (fp32) and check them against torch.

Every exported file gets, in ``models/manifest.json``: its sha256 and size, what it is, its
input/output names, shapes and dtypes, how it was trained, and the parity measured against
torch. A small reference input/output pair computed by torch is stored next to it
(``models/reference/<name>.npz``) so that ``nightowl export --check`` can re-verify a fresh
clone with ONNX Runtime alone. The fp16 and int8 copies are made from the exported file
(``fp16.py``, ``int8.py``); how it was trained is recorded by ``records.py``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nightowl.service.modelrepo.entries import abs_diff_parity, fp32_entry, tensor_spec
from nightowl.training.fit.tasks import load_recogniser
from nightowl.training.nets.enhancers import EnhancerConfig, build_enhancer, input_channels
from nightowl.training.nets.flow import FlowConfig, FlowNet
from nightowl.training.nets.recogniser import CharRecogniser, RecogniserConfig
from nightowl.training.release.records import training_record

OPSET = 18
PARITY_TOLERANCE = 1e-4  # max |onnxruntime - torch| on fp32 outputs in [0, 1]
FLOW_PARITY_TOLERANCE = 1e-2  # px: the flow network's outputs are displacements of up to ~100 px
REFERENCE_SIZE = (61, 97)  # H, W of the stored reference input: odd on purpose


class _Probabilities(nn.Module):
    """The recogniser with its softmax, as L_CR and evaluation consume it."""

    def __init__(self, recogniser: CharRecogniser) -> None:
        super().__init__()
        self.recogniser = recogniser

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.recogniser(image), dim=1)


def load_network(final: Path) -> tuple[nn.Module, dict]:
    """The network of a run's ``final.pt`` in eval mode, ready to export, and its checkpoint."""
    checkpoint = torch.load(final, map_location="cpu", weights_only=False)
    if checkpoint["task"] == "recogniser":
        network: nn.Module = _Probabilities(load_recogniser(final, torch.device("cpu")))
    elif checkpoint["task"] == "flow":
        network = FlowNet(FlowConfig(**checkpoint["model_config"]))
        network.load_state_dict(checkpoint["model"])
    else:
        network = build_enhancer(EnhancerConfig(**checkpoint["model_config"]))
        network.load_state_dict(checkpoint["model"])
    return network.eval(), checkpoint


def io_spec(checkpoint: dict) -> tuple[str, int, str, int]:
    """(input name, input channels, output name, output channels) of a checkpoint's network."""
    if checkpoint["task"] == "recogniser":
        classes = RecogniserConfig(**checkpoint["model_config"]).classes
        return "image", 3, "probabilities", classes
    if checkpoint["task"] == "flow":
        frames = FlowConfig(**checkpoint["model_config"]).frames
        return "frames", 3 * frames, "flows", frames - 1
    config = EnhancerConfig(**checkpoint["model_config"])
    return ("frame" if config.kind == "sim" else "frames"), input_channels(config), \
        "enhanced", 3


def export_onnx(network: nn.Module, path: Path, input_name: str, channels: int,
                output_name: str) -> None:
    """Write ``network`` as ONNX with dynamic batch, height and width."""
    example = torch.rand(1, channels, 64, 96)
    batch, height, width = (torch.export.Dim(n, min=1, max=8192)
                            for n in ("batch", "height", "width"))
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's own progress chatter
        program = torch.onnx.export(
            network, (example,), dynamo=True, opset_version=OPSET, input_names=[input_name],
            output_names=[output_name], external_data=False,
            dynamic_shapes={_forward_arg(network): {0: batch, 2: height, 3: width}})
    program.save(str(path), external_data=False)
    import onnx

    onnx.checker.check_model(str(path), full_check=True)


def _forward_arg(network: nn.Module) -> str:
    import inspect

    return next(iter(inspect.signature(network.forward).parameters))


def parity(network: nn.Module, path: Path, inputs: np.ndarray) -> float:
    """max |onnxruntime - torch| on ``inputs``."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (ours,) = session.run(None, {session.get_inputs()[0].name: inputs})
    with torch.no_grad():
        reference = network(torch.from_numpy(inputs)).numpy()
    return float(np.abs(ours - reference).max())


def real_inputs(checkpoint: dict, count: int = 2, first: int = 0) -> np.ndarray:
    """Generator frames as the network sees them in use (dark aligned frames, or a clean frame
    for the recogniser), from the validation seed of the network's own config: samples
    ``first`` .. ``first + count - 1``."""
    from nightowl.training.fit.examples import EnhancerExamples, FlowExamples, RecogniserExamples
    from nightowl.training.synth.samples import SampleConfig, make_sample

    if checkpoint["task"] == "recogniser":
        make, key = RecogniserExamples(augment_probability=0.0), "image"
    elif checkpoint["task"] == "flow":
        make, key = FlowExamples(), "inputs"  # the dark frames as captured, not aligned
    else:
        model_config = checkpoint["model_config"]
        from nightowl.training.synth.memory_view import MemoryViewConfig

        make = EnhancerExamples(kind=model_config["kind"],
                                reference_gain=model_config.get("reference_gain"),
                                memory=MemoryViewConfig() if model_config.get("memory")
                                else None)
        key = "inputs"
    seed = checkpoint["config"].get("data", {}).get("val_seed", 900_001)
    return np.stack([make(make_sample(SampleConfig(), seed, i))[key]
                     for i in range(first, first + count)])


def enhancer_inputs(entry: dict, seed: int, count: int = 2, first: int = 0) -> np.ndarray:
    """``real_inputs`` for the enhancer of manifest ``entry`` (as its model_config says), from
    samples ``first``.. of data set ``seed``."""
    checkpoint = {"task": "enhancer", "model_config": entry["model_config"],
                  "config": {"data": {"val_seed": seed}}}
    return real_inputs(checkpoint, count, first)


def revalidate(final: Path, recogniser: Path) -> dict[str, float]:
    """An enhancer's validation figures recomputed with the shipped recogniser, so that every
    variant's character accuracy is read by the same recogniser on the same crops."""
    from dataclasses import replace

    from nightowl.training.fit.config import TrainConfig, from_dict
    from nightowl.training.fit.tasks import EnhancerTask
    from nightowl.training.fit.train import validation_batches

    checkpoint = torch.load(final, map_location="cpu", weights_only=False)
    config = from_dict(TrainConfig, checkpoint["config"], str(final))
    config = replace(config, recogniser=str(recogniser))
    device = torch.device("cpu")
    task = EnhancerTask(config, device)
    task.model.load_state_dict(checkpoint["model"])
    task.model.eval()
    return task.validate(task.model, validation_batches(config, task, device))


def export_run(final: Path, name: str, models: Path, real: np.ndarray | None = None,
               description: str = "", recogniser: Path | None = None) -> dict:
    """Export one run's network as ``models/<name>.onnx``; returns its manifest entry.

    With ``recogniser``, an enhancer's validation figures are recomputed with it first.
    """
    network, checkpoint = load_network(final)
    if recogniser is not None and checkpoint["task"] == "enhancer":
        checkpoint["validation"] = revalidate(final, recogniser)
    if real is None:
        real = real_inputs(checkpoint)
    input_name, channels, output_name, out_channels = io_spec(checkpoint)
    path = models / f"{name}.onnx"
    export_onnx(network, path, input_name, channels, output_name)
    rng = np.random.default_rng(0)
    random_input = rng.random((2, channels, *REFERENCE_SIZE), dtype=np.float32)
    # dark frames live near 0: test the range the model really sees as well as [0, 1]
    checks = {"random": parity(network, path, random_input),
              "random_dark": parity(network, path, random_input / 20)}
    checks["real"] = parity(network, path, real)
    worst = max(checks.values())
    tolerance = FLOW_PARITY_TOLERANCE if checkpoint["task"] == "flow" else PARITY_TOLERANCE
    if worst > tolerance:
        raise RuntimeError(f"{path}: onnxruntime differs from torch by {worst:.2e} "
                           f"(> {tolerance:.0e}): {checks}")
    reference = models / "reference" / f"{name}.npz"
    reference.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        expected = network(torch.from_numpy(random_input[:1] / 20)).numpy()
    np.savez_compressed(reference, inputs=random_input[:1] / 20, outputs=expected)
    out_dims = {"recogniser": ["batch", out_channels, "ceil(height/4)", "ceil(width/4)"],
                "flow": ["batch", out_channels, "height", "width", 2]}.get(
                    checkpoint["task"], ["batch", 3, "height", "width"])
    return fp32_entry(
        path, what=description, task=checkpoint["task"],
        inputs=[tensor_spec(input_name, ["batch", channels, "height", "width"],
                            value_range="[0, 1], RGB, frames oldest first" + (
                                ", then the camera's background memory (3) and its confidence "
                                "(1), service/frames/layout.py memory_planes"
                                if checkpoint["model_config"].get("memory") else ""))],
        outputs=[tensor_spec(output_name, out_dims)], reference=reference,
        parity=abs_diff_parity(checks, tolerance),
        training=training_record(final, checkpoint), model_config=checkpoint["model_config"])
