"""The enhancement models, built by name: the single-image model (SIM) and the multi-image
model (MIM) of the paper.

Both take dark frames in [0, 1] and return the bright frame T in [0, 1]. SIM sees frame T
alone, (B, 3, H, W). MIM sees the T frames aligned onto frame T, concatenated oldest first,
(B, T*3, H, W), and blends a moving-object U-Net and a stationary-object U-Net with the mask
U-Net's moving-object mask M: out = M * moving + (1 - M) * stationary, all in one graph.

With ``memory`` (MIM only), the input carries MEMORY_CHANNELS more planes after the frames:
the camera's background memory and its confidence (``service/frames/layout.py``,
``memory_planes``), which the server keeps per camera (``service/frames/background.py``; zeros
when it has none). The stationary and the mask U-Nets see them; the moving U-Net sees the
frames only (what moves is not in the memory). A small trust network (:class:`MemoryTrust`)
then leans the stationary image on the memory, brightened by the reference gain and corrected
by it: stationary' = (1 - B) stationary + B (memory + correction), B = confidence x
sigmoid(trust), so a pixel the memory does not trust (confidence 0) keeps the stationary U-Net's
image exactly, and the network learns where a trusted memory still disagrees with the frames.
The trust network also sees how far the aligned frames spread around their mean: the noise's
level, which tells how much clipping at black has lifted a dark memory's mean (the memory
itself is too clean to show it, and the frames' mean is lifted alike).

Two formulations (``formulation``):
- "direct", the paper's: each U-Net outputs its image through a sigmoid. It can paint its prior
  (colours, brightness) instead of what the frames show.
- "residual": each image U-Net outputs a correction added to a base the frames give: frame T
  (SIM) or the mean of the aligned frames (MIM), brought to full brightness by the
  reference gain (the inputs are exposure-normalised, so base = input * reference_gain is the
  dark frame times S). The head starts at zero, so an untrained network is the gain-scaled
  frame or mean, and colour and brightness are kept unless the data says otherwise. The mask
  U-Net keeps its sigmoid. Outside training the output is clamped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import nn

from nightowl.service.frames.layout import CONFIDENCE_SCALE, MEMORY_CHANNELS, MEMORY_SCALE
from nightowl.training.nets.unet import UNet, UNetConfig


@dataclass(frozen=True)
class EnhancerConfig:
    kind: Literal["sim", "mim"] = "mim"
    frames: int = 4  # T, frames MIM sees (SIM always sees 1)
    width: int = 16  # U-Net channels at full resolution
    depth: int = 3  # U-Net downsamplings
    input_gain: float = 16.0  # fixed lift of the dark input before the first conv
    # inputs arrive multiplied by S / reference_gain (S: the darkening the caller reports), so
    # every exposure reaches the network at the same brightness; None: frames as captured
    reference_gain: float | None = None
    formulation: Literal["direct", "residual"] = "direct"
    memory: bool = False  # MIM: the background memory and its confidence as extra input

    def __post_init__(self) -> None:
        if self.memory and self.kind != "mim":
            raise ValueError("memory input is for the multi-image model (kind = 'mim')")
        if self.formulation not in ("direct", "residual"):
            raise ValueError(f"formulation must be 'direct' or 'residual', got "
                             f"{self.formulation!r}")
        if self.formulation == "residual" and not self.reference_gain:
            raise ValueError("the residual formulation adds its correction to the input times "
                             "reference_gain: set reference_gain (e.g. 25)")

    def unet(self, in_channels: int, out_channels: int) -> UNetConfig:
        return UNetConfig(in_channels=in_channels, out_channels=out_channels, width=self.width,
                          depth=self.depth, input_gain=self.input_gain)


class MimParts(NamedTuple):
    """What MIM's three U-Nets produce, each (B, C, H, W) in [0, 1]."""

    moving: torch.Tensor  # (B, 3, H, W)
    stationary: torch.Tensor  # (B, 3, H, W)
    mask: torch.Tensor  # (B, 1, H, W), probability that a pixel belongs to a moving object
    output: torch.Tensor  # (B, 3, H, W), the blend


def _image_head(net: UNet, config: EnhancerConfig) -> UNet:
    """A residual U-Net starts as the identity on its base: zero head."""
    if config.formulation == "residual":
        nn.init.zeros_(net.head.weight)
        nn.init.zeros_(net.head.bias)
    return net


def zero_image_heads(model: nn.Module) -> None:
    """Zero the heads of a model's image U-Nets (not MIM's mask): a residual model started
    from another's weights then starts as its base."""
    nets = [model.net] if isinstance(model, SingleImageModel) else [model.moving,
                                                                    model.stationary]
    with torch.no_grad():
        for net in nets:
            net.head.weight.zero_()
            net.head.bias.zero_()


class SingleImageModel(nn.Module):
    """(B, 3, H, W) dark frame T -> (B, 3, H, W) bright frame."""

    def __init__(self, config: EnhancerConfig) -> None:
        super().__init__()
        self.config = config
        self.net = _image_head(UNet(config.unet(3, 3)), config)

    def forward(self, frame: torch.Tensor) -> torch.Tensor:
        if self.config.formulation == "direct":
            return torch.sigmoid(self.net(frame))
        output = frame * self.config.reference_gain + self.net(frame)
        return output if self.training else output.clamp(0, 1)


class MemoryTrust(nn.Module):
    """(mean of the aligned frames, memory and confidence planes, the frames' spread) ->
    (B, 4, H, W): the trust logit and a correction (3) of the brightened memory, from a 5x5
    neighbourhood. Starts at trust 0.5 (logit 0) and no correction: half way to the memory
    where it is trusted."""

    INPUTS = 3 + MEMORY_CHANNELS + 3

    def __init__(self, config: EnhancerConfig, width: int = 16) -> None:
        super().__init__()
        self.gain = config.input_gain
        self.body = nn.Sequential(nn.Conv2d(self.INPUTS, width, 3, padding=1),
                                  nn.LeakyReLU(0.1, inplace=True),
                                  nn.Conv2d(width, width, 3, padding=1),
                                  nn.LeakyReLU(0.1, inplace=True))
        self.head = nn.Conv2d(width, 4, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, mean: torch.Tensor, planes: torch.Tensor, spread: torch.Tensor
                ) -> torch.Tensor:
        return self.head(self.body(torch.cat([mean, planes, spread], dim=1) * self.gain))


class MultiImageModel(nn.Module):
    """(B, T*3, H, W) aligned dark frames -> (B, 3, H, W) bright frame T."""

    def __init__(self, config: EnhancerConfig) -> None:
        super().__init__()
        self.config = config
        channels = 3 * config.frames
        seen = input_channels(config)  # what the stationary and mask U-Nets see
        self.moving = _image_head(UNet(config.unet(channels, 3)), config)
        self.stationary = _image_head(UNet(config.unet(seen, 3)), config)
        self.mask = UNet(config.unet(seen, 1))
        if config.memory:
            if not config.reference_gain:
                raise ValueError("a memory network brightens the memory by its reference_gain: "
                                 "set reference_gain (e.g. 25)")
            self.trust = MemoryTrust(config)

    def forward(self, frames: torch.Tensor, parts: bool = False) -> torch.Tensor | MimParts:
        """The blended frame; with ``parts=True`` (training) every U-Net's output as well.
        ``frames``: the aligned frames (and, with ``memory``, the memory's planes after them)."""
        inputs = frames
        if self.config.memory:
            frames = inputs[:, :3 * self.config.frames]
        mask = torch.sigmoid(self.mask(inputs))
        if self.config.formulation == "direct":
            moving = torch.sigmoid(self.moving(frames))
            stationary = torch.sigmoid(self.stationary(inputs))
        else:
            base = self._frames_mean(frames) * self.config.reference_gain
            moving = base + self.moving(frames)
            stationary = base + self.stationary(inputs)
        if self.config.memory:
            stationary = self._lean(frames, inputs[:, 3 * self.config.frames:], stationary)
        output = mask * moving + (1 - mask) * stationary
        if (self.config.formulation == "residual" or self.config.memory) and not self.training:
            output = output.clamp(0, 1)  # (the memory's lean is not squashed either)
        return MimParts(moving, stationary, mask, output) if parts else output

    def _frames_mean(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 3T, H, W) aligned frames -> (B, 3, H, W) their mean (slices, not a reshape: the
        export keeps the batch dynamic)."""
        count = self.config.frames
        return sum(frames[:, 3 * t:3 * t + 3] for t in range(count)) * (1 / count)

    def _lean(self, frames: torch.Tensor, planes: torch.Tensor, stationary: torch.Tensor
              ) -> torch.Tensor:
        """The stationary image leant on the memory where the trust network and the
        memory's confidence say so."""
        mean = self._frames_mean(frames)
        count = self.config.frames
        spread = sum((frames[:, 3 * t:3 * t + 3] - mean).abs() for t in range(count)) * (1 / count)
        trust = self.trust(mean, planes, spread)
        confidence = planes[:, 3:4] * (1 / CONFIDENCE_SCALE)
        lean = confidence * torch.sigmoid(trust[:, :1])
        memory = planes[:, :3] * (self.config.reference_gain / MEMORY_SCALE) + 0.1 * trust[:, 1:]
        return stationary + lean * (memory - stationary)


ENHANCERS: dict[str, type[nn.Module]] = {"sim": SingleImageModel, "mim": MultiImageModel}


def build_enhancer(config: EnhancerConfig) -> nn.Module:
    """The model named by ``config.kind``."""
    try:
        return ENHANCERS[config.kind](config)
    except KeyError:
        raise ValueError(f"unknown model kind {config.kind!r}; known: "
                         f"{', '.join(ENHANCERS)}") from None


def input_channels(config: EnhancerConfig) -> int:
    """Channels the model's input has: 3 for SIM, 3*T for MIM (and MEMORY_CHANNELS more with
    ``memory``)."""
    if config.kind == "sim":
        return 3
    return 3 * config.frames + (MEMORY_CHANNELS if config.memory else 0)
