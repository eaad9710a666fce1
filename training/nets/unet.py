"""The U-Net of the paper's Fig. 4: an encoder-decoder with skip connections.

Any H, W works: the input is padded (replicate) to a multiple of 2^depth inside the model and
the output cropped back, so the exported graph takes frames of any size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn


@dataclass(frozen=True)
class UNetConfig:
    in_channels: int = 12  # T * C: the aligned frames, concatenated oldest first
    out_channels: int = 3  # the bright frame (or 1 for a mask)
    width: int = 16  # channels at full resolution; doubled at every level down
    depth: int = 3  # number of 2x downsamplings
    input_gain: float = 16.0  # dark frames are ~1/S of full scale: lift them before the convs


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.LeakyReLU(0.1, inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.LeakyReLU(0.1, inplace=True))


class UNet(nn.Module):
    """(B, in_channels, H, W) in [0, 1] -> (B, out_channels, H, W) logits (no squashing)."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        widths = [config.width * 2**level for level in range(config.depth + 1)]
        self.down = nn.ModuleList()
        cin = config.in_channels
        for w in widths[:-1]:
            self.down.append(_block(cin, w))
            cin = w
        self.bottom = _block(widths[-2], widths[-1])
        self.up = nn.ModuleList()
        self.merge = nn.ModuleList()
        for level in reversed(range(config.depth)):
            self.up.append(nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2))
            self.merge.append(_block(2 * widths[level], widths[level]))
        self.head = nn.Conv2d(widths[0], config.out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        multiple = 2**self.config.depth
        pad_h = (multiple - height % multiple) % multiple
        pad_w = (multiple - width % multiple) % multiple
        x = F.pad(x * self.config.input_gain, (0, pad_w, 0, pad_h), mode="replicate")
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottom(x)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips), strict=True):
            x = merge(torch.cat([up(x), skip], dim=1))
        return self.head(x)[..., :height, :width]
