"""A small optical-flow network for dark, noisy frames, trained on the generator's exact flow.

DIS (``service/frames/alignment.py``) is a classical matcher built for well-lit frames: on our
dark ones its end-point error on moving pixels is about half a character's height. This network
sees all T frames at once and predicts the T-1 backward flows onto frame T in one pass, so it
can run inside a GPU engine in front of the warp and the enhancer (``training/release``).

Two levels, in the way of PWC-Net (Sun et al., CVPR 2018), cut down:
1. the frames' level is normalised inside the graph (frame T's mean brought to ``mean_level``),
   so the flow does not depend on the darkening S, told or estimated;
2. one shared encoder turns each frame into features at 1/4 and 1/16 of its size (the strided
   convolutions average the noise away as DIS's pre-filter does);
3. coarse: a cost volume (correlation of frame T's 1/16 features with each older frame's,
   shifted by every displacement up to ``coarse_radius`` cells, i.e. +-16 x radius px) and a
   small decoder give each flow at 1/16;
4. fine: each older frame's 1/4 features are warped by its upsampled coarse flow, a second cost
   volume (``fine_radius`` cells) measures what is left, and a decoder adds a correction;
5. the flows are upsampled bilinearly to full size.
Correlation makes matching an explicit input, which is what lets such a network learn in the
minutes of CPU training it gets here, where a plain encoder-decoder stays at zero motion.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn


@dataclass(frozen=True)
class FlowConfig:
    frames: int = 4  # T: the flows of frames 1..T-1 onto frame T
    width: int = 16  # encoder channels at 1/2 size; 1.5x more at every level down
    coarse_radius: int = 5  # cells of 16 px searched each way at 1/16: +-80 px
    fine_radius: int = 3  # cells of 4 px searched each way at 1/4, after the coarse warp
    mean_level: float = 0.25  # frame T's mean is scaled to this before the convolutions

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise ValueError(f"a flow network needs >= 2 frames, got {self.frames}")
        if self.width < 1 or self.coarse_radius < 1 or self.fine_radius < 1:
            raise ValueError(f"width and radii must be >= 1, got {self.width}, "
                             f"{self.coarse_radius}, {self.fine_radius}")


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1),
                         nn.LeakyReLU(0.1, inplace=True))


def cost_volume(reference: torch.Tensor, other: torch.Tensor, radius: int) -> torch.Tensor:
    """(B, C, h, w) features -> (B, (2r+1)^2, h, w): mean over C of reference(x) * other(x + d)
    for every displacement d in [-r, r]^2 (zero outside ``other``)."""
    height, width = reference.shape[-2:]
    padded = F.pad(other, (radius, radius, radius, radius))
    costs = []
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            shifted = padded[..., dy:dy + height, dx:dx + width]
            costs.append((reference * shifted).mean(dim=1, keepdim=True))
    return torch.cat(costs, dim=1)


def warp_features(features: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """features (B, C, h, w) sampled at x + flow(x), flow (B, 2, h, w) in cells (bilinear,
    border replicated, cell centres on the corners: ``warp``'s convention)."""
    height, width = features.shape[-2:]
    ys = torch.arange(height, dtype=flow.dtype, device=flow.device).view(1, height, 1)
    xs = torch.arange(width, dtype=flow.dtype, device=flow.device).view(1, 1, width)
    x = (xs + flow[:, 0]) * (2.0 / max(width - 1, 1)) - 1.0
    y = (ys + flow[:, 1]) * (2.0 / max(height - 1, 1)) - 1.0
    grid = torch.stack([x, y], dim=-1)
    return F.grid_sample(features, grid, mode="bilinear", padding_mode="border",
                         align_corners=True)


class _Encoder(nn.Module):
    """One frame (B, 3, H, W) -> features at 1/4 and 1/16 of its size."""

    def __init__(self, width: int) -> None:
        super().__init__()
        w2, w4, w8, w16 = width, int(width * 1.5), int(width * 2.25), int(width * 3)
        self.to4 = nn.Sequential(_conv(3, w2, 2), _conv(w2, w2), _conv(w2, w4, 2), _conv(w4, w4))
        self.to16 = nn.Sequential(_conv(w4, w8, 2), _conv(w8, w8), _conv(w8, w16, 2),
                                  _conv(w16, w16))
        self.channels = (w4, w16)

    def forward(self, frame: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        quarter = self.to4(frame)
        return quarter, self.to16(quarter)


def _decoder(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(_conv(cin, 96), _conv(96, 64), _conv(64, 48),
                         nn.Conv2d(48, cout, 3, padding=1))


class FlowNet(nn.Module):
    """(B, 3T, H, W) frames in [0, 1], oldest first, any exposure -> (B, T-1, H, W, 2) backward
    flows in px (dx, dy), the generator's and ``align_to_last``'s convention:
    frame_t(x + flow_t(x)) ~ frame_T(x). In training it also returns the coarse flows (for a
    loss at that level)."""

    def __init__(self, config: FlowConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = _Encoder(config.width)
        c4, c16 = self.encoder.channels
        pairs = config.frames - 1
        self.coarse = _decoder(c16 + pairs * (2 * config.coarse_radius + 1) ** 2, 2 * pairs)
        self.fine = _decoder(c4 + pairs * ((2 * config.fine_radius + 1) ** 2 + 2), 2 * pairs)

    def forward(self, frames: torch.Tensor):
        config = self.config
        batch, _, height, width = frames.shape
        pairs = config.frames - 1
        level = frames[:, -3:].mean(dim=(1, 2, 3), keepdim=True)
        x = frames * (config.mean_level / level.clamp_min(1.0 / 2048))
        pad_h, pad_w = (-height) % 16, (-width) % 16
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        # every frame through the one encoder, as one batch
        stacked = x.reshape(batch * config.frames, 3, *x.shape[-2:])
        quarter, sixteenth = self.encoder(stacked)
        quarter = quarter.reshape(batch, config.frames, *quarter.shape[1:])
        sixteenth = sixteenth.reshape(batch, config.frames, *sixteenth.shape[1:])
        last16, last4 = sixteenth[:, -1], quarter[:, -1]
        costs = [cost_volume(last16, sixteenth[:, t], config.coarse_radius) for t in range(pairs)]
        coarse = self.coarse(torch.cat([last16, *costs], dim=1))  # (B, 2 pairs, h/16, w/16), cells
        up = F.interpolate(coarse, scale_factor=4.0, mode="bilinear", align_corners=False) * 4
        fine_in = [last4]
        for t in range(pairs):
            flow_t = up[:, 2 * t:2 * t + 2]
            warped = warp_features(quarter[:, t], flow_t)
            fine_in += [cost_volume(last4, warped, config.fine_radius), flow_t]
        fine = up + self.fine(torch.cat(fine_in, dim=1))  # cells of 4 px
        flows = _full_size(fine, 4.0, height, width, batch, pairs)
        if self.training:
            return flows, _full_size(coarse, 16.0, height, width, batch, pairs)
        return flows


def _full_size(flow: torch.Tensor, scale: float, height: int, width: int, batch: int,
               pairs: int) -> torch.Tensor:
    """(B, 2 pairs, h, w) flows in cells of ``scale`` px -> (B, pairs, H, W, 2) in px."""
    flow = F.interpolate(flow, scale_factor=scale, mode="bilinear", align_corners=False)
    flow = flow[..., :height, :width] * scale
    return flow.reshape(batch, pairs, 2, height, width).permute(0, 1, 3, 4, 2)


def end_point_error(flow: torch.Tensor, truth: torch.Tensor,
                    weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean |flow - truth| (Euclidean, px) over (B, T-1, H, W, 2) flows, each pixel weighted by
    ``weight`` (B, 1 or T-1, H, W) when given."""
    error = (flow - truth).square().sum(-1).add(1e-6).sqrt()
    if weight is None:
        return error.mean()
    weight = weight.expand_as(error)
    return (weight * error).sum() / weight.sum().clamp_min(1.0)
