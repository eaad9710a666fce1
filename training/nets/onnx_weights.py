"""Weights back out of a shipped ONNX file, so that training can start from a release.

Checkpoints are not committed (they bloat history); the exported ONNX files are. Their
initialisers carry the torch parameter names, so a released network can be rebuilt in torch:
to fine-tune it further, or to freeze the released recogniser behind L_CR without retraining it.
The recogniser's export folds each BatchNorm into the convolution before it; rebuilt here, the
convolution takes the folded weight and the BatchNorm becomes an exact identity plus that
folded bias, which is the same function in eval mode (the only mode a frozen recogniser runs in).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from nightowl.training.nets.enhancers import EnhancerConfig, build_enhancer
from nightowl.training.nets.recogniser import CharRecogniser, RecogniserConfig

_WRAPPER_PREFIX = "recogniser."  # the exported recogniser wraps the network with its softmax


def onnx_initialisers(path: str | Path) -> dict[str, np.ndarray]:
    """Every initialiser of an ONNX file by name."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


def load_onnx_weights(module: nn.Module, path: str | Path, widen: bool = False) -> None:
    """Copy an exported network's weights into ``module`` (same architecture), in place.

    With ``widen`` (a memory network started from a network without memory), a convolution of
    ``module`` that takes more input channels than the file's (its first convolutions) gets the
    file's weights on the leading channels and zeros on the new ones, and the memory's trust
    network, which the file lacks, keeps its own start. Raises ValueError naming the parameters
    that are missing or have the wrong shape.
    """
    weights = {k.removeprefix(_WRAPPER_PREFIX): v for k, v in onnx_initialisers(path).items()}
    state = module.state_dict()
    batchnorms = {name for name, m in module.named_modules() if isinstance(m, nn.BatchNorm2d)}
    new_state: dict[str, torch.Tensor] = {}
    problems: list[str] = []
    for name, tensor in state.items():
        owner = name.rpartition(".")[0]
        if owner in batchnorms:
            continue  # filled from the folded convolution below
        value = weights.get(name)
        if widen and value is None and name.startswith("trust."):
            new_state[name] = tensor
            continue
        if widen and value is not None and _widens(value.shape, tensor.shape):
            value = _zero_padded(value, tensor.shape[1])
        if value is None or tuple(value.shape) != tuple(tensor.shape):
            found = "missing" if value is None else f"shape {tuple(value.shape)}"
            problems.append(f"{name} {tuple(tensor.shape)}: {found}")
            continue
        new_state[name] = torch.from_numpy(value.copy())
    for owner in batchnorms:
        conv = _conv_before(owner)
        bias = weights.get(f"{conv}.weight_bias")
        if bias is None:
            problems.append(f"{owner}: no folded bias {conv}.weight_bias")
            continue
        eps = dict(module.named_modules())[owner].eps
        channels = bias.shape[0]
        new_state[f"{owner}.weight"] = torch.ones(channels)
        new_state[f"{owner}.bias"] = torch.from_numpy(bias.copy())
        new_state[f"{owner}.running_mean"] = torch.zeros(channels)
        new_state[f"{owner}.running_var"] = torch.full((channels,), 1.0 - eps)
        new_state[f"{owner}.num_batches_tracked"] = torch.zeros((), dtype=torch.long)
    if problems:
        raise ValueError(f"{path} does not fit {type(module).__name__}: "
                         + "; ".join(problems[:6]) + (" ..." if len(problems) > 6 else ""))
    module.load_state_dict(new_state)


def widened_state(stored: dict[str, torch.Tensor], module: nn.Module
                  ) -> dict[str, torch.Tensor]:
    """A checkpoint's state dict for ``module``, a memory network whose convolutions may take
    more input channels than the checkpoint's (inputs added since it was trained): their
    weights on the leading channels, zeros on the new ones, so the network starts as it was."""
    state = dict(stored)
    for name, tensor in module.state_dict().items():
        value = state.get(name)
        if value is not None and _widens(tuple(value.shape), tuple(tensor.shape)):
            state[name] = torch.from_numpy(_zero_padded(value.numpy(), tensor.shape[1]))
    return state


def _zero_padded(weight: np.ndarray, inputs: int) -> np.ndarray:
    """A convolution weight (out, in, k, k) with zeros on new input channels up to ``inputs``."""
    return np.concatenate([weight, np.zeros((weight.shape[0], inputs - weight.shape[1],
                                             *weight.shape[2:]), weight.dtype)], axis=1)


def _widens(stored: tuple[int, ...], wanted: tuple[int, ...]) -> bool:
    """Whether a stored convolution weight (out, in, k, k) is ``wanted`` with fewer inputs."""
    return (len(stored) == 4 and len(wanted) == 4 and stored[0] == wanted[0]
            and stored[2:] == tuple(wanted[2:]) and stored[1] < wanted[1])


def recogniser_from_onnx(path: str | Path) -> CharRecogniser:
    """The released recogniser as a torch module (eval mode), its width read from the file."""
    width = int(onnx_initialisers(path)[f"{_WRAPPER_PREFIX}body.0.0.weight"].shape[0])
    model = CharRecogniser(RecogniserConfig(width=width))
    load_onnx_weights(model, path)
    return model.eval()


def enhancer_from_onnx(path: str | Path, config: EnhancerConfig) -> nn.Module:
    """A released enhancer as a torch module with ``config``'s architecture."""
    model = build_enhancer(config)
    load_onnx_weights(model, path)
    return model


def _conv_before(batchnorm: str) -> str:
    """'body.3.1' (a BatchNorm in a conv-bn-relu block) -> 'body.3.0' (its convolution)."""
    block, _, index = batchnorm.rpartition(".")
    return f"{block}.{int(index) - 1}"
