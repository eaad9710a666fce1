"""The enhancers built by name (SIM, MIM): output range on odd sizes, gradients everywhere,
MIM's mask blend, and learning."""

from __future__ import annotations

import pytest
import torch

from nightowl.training.nets.enhancers import EnhancerConfig, MultiImageModel, build_enhancer

TINY = EnhancerConfig(width=4, depth=3)


@pytest.mark.parametrize("kind", ["sim", "mim"])
def test_every_parameter_gets_a_gradient(kind):
    torch.manual_seed(0)
    model = build_enhancer(EnhancerConfig(kind=kind, width=4, depth=2))
    channels = 3 if kind == "sim" else 12
    out = model(torch.rand(2, channels, 37, 45) * 0.05)
    assert out.shape == (2, 3, 37, 45) and out.min() >= 0 and out.max() <= 1
    out.mean().backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_mim_blends_by_the_mask():
    torch.manual_seed(0)
    model = MultiImageModel(TINY)
    frames = torch.rand(1, 12, 24, 24) * 0.05
    parts = model(frames, parts=True)
    expected = parts.mask * parts.moving + (1 - parts.mask) * parts.stationary
    assert torch.allclose(parts.output, expected)
    assert torch.equal(model(frames), parts.output)
    with torch.no_grad():  # a mask net that says "all moving" gives the moving net's output
        model.mask.head.bias.fill_(50.0)
        model.mask.head.weight.zero_()
    parts = model(frames, parts=True)
    assert torch.allclose(parts.output, parts.moving, atol=1e-6)


def test_unknown_model_kind_is_refused():
    with pytest.raises(ValueError, match="unknown model kind"):
        build_enhancer(EnhancerConfig(kind="gan"))  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["sim", "mim"])
def test_loss_falls_when_overfitting_one_batch(kind):
    from nightowl.training.fit.losses import LossConfig, mim_loss, sim_loss

    torch.manual_seed(0)
    model = build_enhancer(EnhancerConfig(kind=kind, width=8, depth=2))
    smooth = torch.rand(2, 3, 4, 4)
    target = torch.nn.functional.interpolate(smooth, size=(32, 32), mode="bilinear")
    frames = (target.repeat(1, 4, 1, 1) / 20 + torch.randn(2, 12, 32, 32) * 0.002).clamp(0, 1)
    inputs = frames[:, -3:] if kind == "sim" else frames
    mask = (target[:, :1] > 0.5).float()  # learnable from the input
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(80):
        if kind == "sim":
            loss = sim_loss(model(inputs), target, None, LossConfig())["loss"]
        else:
            loss = mim_loss(model(inputs, parts=True), target, mask, None, LossConfig())["loss"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]
