"""Alignment by the shipped flow network (``flow.onnx``) instead of DIS.

The network (``training/nets/flow.py``) takes the T dark frames as captured and returns the T-1
backward flows onto frame T in one engine call, on whatever backend the engine runs (a GPU with
ONNX Runtime CUDA, or the CPU); the frames are then warped with the same :func:`warp` as DIS's
flows. Its flow convention and output layout are ``align_to_last``'s, so the enhancers see
frames aligned the same way whichever estimator made the flow. Training imports this module to
align with the network, so what is trained is what is served.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from nightowl.service.frames.alignment import warp
from nightowl.service.frames.layout import network_input


class FlowEngine(Protocol):
    """What alignment needs of an engine (``service.engines.Engine`` is one): the frames core
    sits below the engines and knows them only by this."""

    name: str
    frames: int

    def run(self, batch: np.ndarray) -> np.ndarray: ...


def network_flows(frames: np.ndarray, engine: FlowEngine) -> np.ndarray:
    """frames (T, H, W, 3) uint8/uint16 RGB, oldest first, T the network's -> flows
    (T, H, W, 2) float32, flows[T-1] == 0 (``align_to_last``'s layout)."""
    if not isinstance(frames, np.ndarray) or frames.ndim != 4 or frames.shape[3] != 3:
        raise ValueError(f"frames must be an array of shape (T, H, W, 3), got "
                         f"{getattr(frames, 'shape', type(frames).__name__)}")
    if frames.shape[0] != engine.frames:
        raise ValueError(f"{engine.name} aligns {engine.frames} frames, got {frames.shape[0]}")
    estimated = engine.run(network_input(frames)[None])[0]  # (T-1, H, W, 2)
    flows = np.zeros((*frames.shape[:3], 2), np.float32)
    flows[:-1] = estimated
    return flows


def align_with_network(frames: np.ndarray, engine: FlowEngine) -> tuple[np.ndarray, np.ndarray]:
    """``align_to_last`` with the flow network's flows: (aligned frames, flows)."""
    flows = network_flows(frames, engine)
    aligned = frames.copy()
    for t in range(frames.shape[0] - 1):
        aligned[t] = warp(frames[t], flows[t])
    return aligned, flows
