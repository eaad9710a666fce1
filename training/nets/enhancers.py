"""The enhancement models, built by name: the single-image model (SIM) and the multi-image
model (MIM) of the paper.

Both take dark frames in [0, 1] and return the bright frame T in [0, 1]. SIM sees frame T
alone, (B, 3, H, W). MIM sees the T frames aligned onto frame T, concatenated oldest first,
(B, T*3, H, W), and blends a moving-object U-Net and a stationary-object U-Net with the mask
U-Net's moving-object mask M: out = M * moving + (1 - M) * stationary, all in one graph.

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

    def __post_init__(self) -> None:
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


class MultiImageModel(nn.Module):
    """(B, T*3, H, W) aligned dark frames -> (B, 3, H, W) bright frame T."""

    def __init__(self, config: EnhancerConfig) -> None:
        super().__init__()
        self.config = config
        channels = 3 * config.frames
        self.moving = _image_head(UNet(config.unet(channels, 3)), config)
        self.stationary = _image_head(UNet(config.unet(channels, 3)), config)
        self.mask = UNet(config.unet(channels, 1))

    def forward(self, frames: torch.Tensor, parts: bool = False) -> torch.Tensor | MimParts:
        """The blended frame; with ``parts=True`` (training) every U-Net's output as well."""
        mask = torch.sigmoid(self.mask(frames))
        if self.config.formulation == "direct":
            moving = torch.sigmoid(self.moving(frames))
            stationary = torch.sigmoid(self.stationary(frames))
        else:
            batch, _, height, width = frames.shape
            stacked = frames.reshape(batch, self.config.frames, 3, height, width)
            base = stacked.mean(dim=1) * self.config.reference_gain
            moving = base + self.moving(frames)
            stationary = base + self.stationary(frames)
        output = mask * moving + (1 - mask) * stationary
        if self.config.formulation == "residual" and not self.training:
            output = output.clamp(0, 1)
        return MimParts(moving, stationary, mask, output) if parts else output


ENHANCERS: dict[str, type[nn.Module]] = {"sim": SingleImageModel, "mim": MultiImageModel}


def build_enhancer(config: EnhancerConfig) -> nn.Module:
    """The model named by ``config.kind``."""
    try:
        return ENHANCERS[config.kind](config)
    except KeyError:
        raise ValueError(f"unknown model kind {config.kind!r}; known: "
                         f"{', '.join(ENHANCERS)}") from None


def input_channels(config: EnhancerConfig) -> int:
    """Channels the model's input has: 3 for SIM, 3*T for MIM."""
    return 3 if config.kind == "sim" else 3 * config.frames
