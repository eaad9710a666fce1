"""The U-Net: any input size comes back at that size (padded to 2^depth inside, cropped back)."""

from __future__ import annotations

import pytest
import torch

from nightowl.training.nets.unet import UNet, UNetConfig


@pytest.mark.parametrize(("height", "width"), [(61, 97), (8, 8), (33, 17), (64, 64)])
def test_unet_keeps_any_size(height, width):
    net = UNet(UNetConfig(in_channels=12, out_channels=3, width=4, depth=3))
    out = net(torch.rand(2, 12, height, width))
    assert out.shape == (2, 3, height, width)
