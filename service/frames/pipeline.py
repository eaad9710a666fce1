"""A window of a camera's frames -> network input -> enhanced frame (no I/O, no threads).

``prepare`` aligns the window onto its newest frame with the shared alignment code (what the
networks were trained on) and lays it out as the engine's input; ``finish`` turns the engine's
output back into an image. With fewer than T frames (a camera's first frames, or a request of
1-3 frames) the policy is ``repeat`` (the multi-image model, the oldest frame repeated in front),
``single`` (the single-image model on the newest frame), or ``auto``: single for one frame,
repeat for two or three, which is what measured best (``bench/bench_few_frames.py``: with one
frame both read plate characters alike and single is 2.6 dB better in PSNR; from two frames on,
repeat reads clearly more characters; figures in bench/README.md).

A network trained on exposure-normalised frames (``reference_gain`` in its manifest entry) gets
its input scaled by gain / reference_gain, as in training: the gain told by the caller, else
one estimated from the window's frames (``nightowl.service.frames.exposure``), or the camera's
estimate smoothed over time (``gain_tracker``, passed in by the caller; told gains never are).
Other networks take frames as captured and the gain is only reported.

A camera with a background memory (``frames.background``) has ``remember`` run on each prepared
frame, in sequence order: frame T joins the memory where the alignment's flow and the memory's
own tests say nothing moves, and the frame takes a recall of the memory with it. ``blend`` then
leans the engine's output on the memory where it is trusted (``frames.memory_blend``; nothing
changes while the memory is young, or where it trusts no pixel). A multi-image network that
takes the memory itself (``memory_input``) gets it after its frames instead (``remember`` fills
the planes ``prepare`` leaves at zero, ``layout.memory_planes``), and its answer is not leant
again: it learnt when to trust the memory, and where not.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from nightowl.service.frames.alignment import MIN_SIZE, AlignmentConfig, align_to_last, warp
from nightowl.service.frames.background import BackgroundMemory, moving_pixels
from nightowl.service.frames.exposure import Gain, estimate_window_gain
from nightowl.service.frames.flow_network import FlowEngine, align_with_network
from nightowl.service.frames.layout import input_scale, memory_planes, network_input
from nightowl.service.frames.memory_blend import FINE, LevelCalibration, Recall, blend

FewFrames = Literal["auto", "single", "repeat"]


@dataclass(frozen=True)
class Prepared:
    """One frame's network input and where it goes."""

    model: Literal["multi", "single"]  # which engine takes it
    input: np.ndarray  # (3 * frames, H, W) float32 in [0, 1] (to gain / reference_gain when
    #   exposure-normalised, unclipped, as in training); a memory network's: then its memory
    frames_used: int  # distinct frames behind the result
    dtype: type  # the frames' dtype (np.uint8 or np.uint16): the output's
    gain: Gain  # the gain behind the input's scale
    scale: float = 1 / 255  # frame levels -> input (layout.input_scale)
    moving: np.ndarray | None = None  # (H, W) bool where the alignment's flow moves, when
    #   asked for (a camera with a memory; None: not asked, or no alignment ran)
    recall: Recall | None = None  # the camera's memory as this frame left it (``remember``);
    #   None: no memory, or none trusted yet


@dataclass(frozen=True)
class Pipeline:
    frames: int = 4  # T of the multi-image model
    few_frames: FewFrames = "auto"
    alignment: AlignmentConfig = field(default_factory=AlignmentConfig)
    multi_reference_gain: float | None = None  # the multi-image model's reference_gain
    single_reference_gain: float | None = None  # the single-image model's
    flow: FlowEngine | None = None  # the flow network's engine (alignment "network"); None: DIS
    memory_input: bool = False  # the multi-image model takes the camera's memory after its frames

    @classmethod
    def for_engines(cls, engines: dict, **options) -> Pipeline:
        """The pipeline for ``engines`` ({"multi": ..., optionally "single" and "flow"}): T and
        each model's reference_gain from the engines themselves; ``options`` as the fields."""
        single, flow = engines.get("single"), engines.get("flow")
        multi = engines["multi"]
        if flow is not None and flow.frames != multi.frames:
            raise ValueError(f"flow model {flow.name} aligns {flow.frames} frames, "
                             f"{multi.name} takes {multi.frames}")
        return cls(frames=multi.frames, multi_reference_gain=multi.reference_gain,
                   memory_input=getattr(multi, "memory_input", False),
                   single_reference_gain=None if single is None else single.reference_gain,
                   flow=flow, **options)

    @property
    def min_side(self) -> int:
        """Smallest frame side (px) the alignment accepts."""
        return MIN_SIZE * self.alignment.downscale

    def prepare(self, window: np.ndarray, told: Gain | None = None,
                estimate: float | None = None, moving: bool = False) -> Prepared:
        """window (n, H, W, 3) uint8/uint16 RGB, oldest first, 1 <= n <= T -> Prepared.
        ``told``: the caller's or the setting's gain (None: not given); ``estimate``: the
        camera's smoothed estimate, used when none is told (None: the window's own);
        ``moving``: also say where the flow moves (for :meth:`remember`)."""
        count = window.shape[0]
        if not 1 <= count <= self.frames:
            raise ValueError(f"window must hold 1 to {self.frames} frames, got {count}")
        if count < self.frames and self.uses_single(count):
            gain, scale = self.gain(window, told, self.single_reference_gain, estimate)
            return Prepared("single", network_input(window[-1:], scale), 1, window.dtype.type,
                            gain, scale)
        gain, scale = self.gain(window, told, self.multi_reference_gain, estimate)
        if count < self.frames and self.flow is not None:  # the network takes T frames
            window = np.concatenate([np.repeat(window[:1], self.frames - count, 0), window])
        aligned, flows = align(window, self.alignment, self.flow)
        if len(aligned) < self.frames:  # (T - n) copies of the oldest aligned frame in front
            aligned = np.concatenate([np.repeat(aligned[:1], self.frames - count, 0), aligned])
        planes = network_input(aligned, scale)
        if self.memory_input:  # no memory yet: zeros, until ``remember`` fills them
            planes = np.concatenate([planes, memory_planes(None, None, scale, planes.shape[1:])])
        return Prepared("multi", planes, count, window.dtype.type, gain,
                        scale, moving_pixels(flows[:-1]) if moving and len(flows) > 1 else None)

    def remember(self, prepared: Prepared, memory: BackgroundMemory, frame: np.ndarray
                 ) -> Prepared:
        """Frame T (H, W, 3) of ``prepared`` into the camera's ``memory`` (where the flow does
        not move), and the memory's recall for :meth:`blend` (none for a network that takes
        no gain: the memory's brightness would not be the output's); for a network that takes
        the memory, the recall in its input's memory planes. Call it for a camera's frames one
        at a time, in sequence order."""
        memory.update(frame, prepared.moving)
        gain = prepared.gain
        usable = gain is not None and gain.source != "unused" and gain.value is not None
        recall = memory.recall(gain.value) if usable else None
        if recall is None or prepared.model != "multi" or not self.memory_input:
            return replace(prepared, moving=None, recall=recall)
        planes = prepared.input.copy()  # (a Prepared is shared: never changed in place)
        planes[3 * self.frames:] = self.recalled(recall)
        return replace(prepared, input=planes, moving=None, recall=recall)

    def recalled(self, recall: Recall | None, shape: tuple[int, int] | None = None
                 ) -> np.ndarray:
        """The (MEMORY_CHANNELS, H, W) planes a memory network takes after its frames for
        ``recall`` (the memory's levels at the frame's gain, and its confidence), or zeros of
        ``shape`` (H, W) without one."""
        if recall is None:
            return memory_planes(None, None, np.float32(0), shape)
        levels = (recall.index + np.float32(0.5)) * np.float32(1 / FINE)
        scale = input_scale(np.uint8, recall.gain, self.multi_reference_gain)
        return memory_planes(levels, recall.confidence, scale, recall.confidence.shape)

    def blend(self, output: np.ndarray, prepared: Prepared, calibration: LevelCalibration
              ) -> np.ndarray:
        """The engine's output (3, H, W) for ``prepared`` leant on its recalled memory
        (``memory_blend.blend``, which ``calibration``, the camera's, learns from); as it is
        without a recall, and for a network that took the memory as input. For a camera's
        frames one at a time, in sequence order."""
        if prepared.recall is None or prepared.model != "multi" or self.memory_input:
            return output
        return blend(output, prepared.recall, calibration)

    @staticmethod
    def gain(window: np.ndarray, told: Gain | None, reference_gain: float | None,
             estimate: float | None = None) -> tuple[Gain, np.float32]:
        """The gain a network with ``reference_gain`` gets for ``window`` (told, else
        ``estimate``, else estimated from all its frames; unused without a reference_gain) and
        the input scale it makes."""
        if reference_gain is None:
            gain = Gain(None if told is None else told.value, "unused")
            return gain, input_scale(window.dtype)
        if told is not None:
            return told, input_scale(window.dtype, told.value, reference_gain)
        if estimate is None:
            estimate = estimate_window_gain(window)
        return Gain(estimate, "estimated"), input_scale(window.dtype, estimate, reference_gain)

    @property
    def estimates(self) -> bool:
        """Whether a model takes a gain (has a reference_gain), so an untold one is estimated."""
        return self.multi_reference_gain is not None or self.single_reference_gain is not None

    def uses_single(self, count: int) -> bool:
        """Whether a window of ``count`` < T frames goes to the single-image model."""
        return self.few_frames == "single" or (self.few_frames == "auto" and count == 1)

    @staticmethod
    def finish(output: np.ndarray, dtype: type) -> np.ndarray:
        """Engine output (3, H, W) float32 in [0, 1] -> (H, W, 3) image of ``dtype``."""
        top = np.iinfo(dtype).max
        image = np.clip(output.transpose(1, 2, 0) * top + 0.5, 0, top)
        return image.astype(dtype)


def align(window: np.ndarray, config: AlignmentConfig, flow: FlowEngine | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """The window warped onto its newest frame, and the flows that did it (T, H, W, 2): with
    the flow network's flows when ``flow`` is given, else align_to_last's. DIS aligns 16-bit
    frames with the flow of their top 8 bits (dark frames use the low levels of either depth
    alike); both warp at full depth."""
    if flow is not None:
        return align_with_network(window, flow)
    if window.dtype == np.uint8:
        return align_to_last(window, config)
    _, flows = align_to_last((window >> 8).astype(np.uint8), config)
    aligned = window.copy()
    for t in range(window.shape[0] - 1):
        aligned[t] = warp(window[t], flows[t])
    return aligned, flows
