"""The enhancers built by name (SIM, MIM): output range on odd sizes, gradients everywhere,
MIM's mask blend, and learning."""

from __future__ import annotations

import pytest
import torch

from nightowl.training.nets.enhancers import (
    EnhancerConfig,
    MultiImageModel,
    build_enhancer,
    input_channels,
)

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


# --- the residual formulation -----------------------------------------------------------------
def test_an_untrained_residual_sim_is_the_gain_scaled_frame():
    config = EnhancerConfig(kind="sim", width=4, depth=2, reference_gain=25.0,
                            formulation="residual")
    model = build_enhancer(config).eval()
    frame = torch.rand(1, 3, 32, 48) * 0.03
    assert torch.allclose(model(frame), (frame * 25).clamp(0, 1))


def test_an_untrained_residual_mim_is_the_gain_scaled_mean_of_the_aligned_frames():
    config = EnhancerConfig(kind="mim", frames=4, width=4, depth=2, reference_gain=25.0,
                            formulation="residual")
    model = build_enhancer(config).eval()
    frames = torch.rand(2, 12, 32, 32) * 0.04
    mean = frames.reshape(2, 4, 3, 32, 32).mean(dim=1) * 25
    assert torch.allclose(model(frames), mean.clamp(0, 1), atol=1e-6)


def test_residual_outputs_are_clamped_only_outside_training():
    config = EnhancerConfig(kind="sim", width=4, depth=2, reference_gain=25.0,
                            formulation="residual")
    model = build_enhancer(config)
    bright = torch.full((1, 3, 16, 16), 0.08)  # 0.08 * 25 = 2: beyond full scale
    assert model.train()(bright).max() > 1.5  # the loss still sees, and corrects, overshoot
    assert model.eval()(bright).max() == 1.0


def test_the_residual_formulation_needs_a_reference_gain():
    with pytest.raises(ValueError, match="reference_gain"):
        EnhancerConfig(formulation="residual")
    with pytest.raises(ValueError, match="formulation"):
        EnhancerConfig(formulation="additive", reference_gain=25.0)


def test_zeroing_the_image_heads_keeps_the_mask_net():
    from nightowl.training.nets.enhancers import zero_image_heads

    model = build_enhancer(EnhancerConfig(kind="mim", width=4, depth=2))
    mask_head = model.mask.head.weight.clone()
    zero_image_heads(model)
    assert not model.moving.head.weight.any() and not model.stationary.head.weight.any()
    assert torch.equal(model.mask.head.weight, mask_head)


def test_a_memory_mim_shows_the_memory_to_the_stationary_and_mask_nets_only():
    torch.manual_seed(0)
    config = EnhancerConfig(width=4, depth=2, memory=True, reference_gain=25.0)
    model = MultiImageModel(config)
    assert input_channels(config) == 16
    inputs = torch.rand(1, 16, 24, 24) * 0.05
    changed = inputs.clone()
    changed[:, 12:] = torch.rand(1, 4, 24, 24)  # another memory, the same frames
    parts, other = model(inputs, parts=True), model(changed, parts=True)
    assert torch.equal(parts.moving, other.moving)
    assert not torch.allclose(parts.stationary, other.stationary)
    assert not torch.allclose(parts.mask, other.mask)


def test_memory_input_is_for_the_multi_image_model_with_a_reference_gain():
    with pytest.raises(ValueError, match="multi-image"):
        EnhancerConfig(kind="sim", memory=True)
    with pytest.raises(ValueError, match="reference_gain"):
        MultiImageModel(EnhancerConfig(memory=True))


def test_a_memory_mims_trust_sees_how_far_the_frames_spread():
    # the same mean of the frames and the same memory, but frames that spread 0 or +-0.02
    # around that mean (a quiet and a noisy camera): the trust network tells them apart, so
    # that it can undo what clipping at black does to a noisy camera's dark memory
    torch.manual_seed(0)
    model = MultiImageModel(EnhancerConfig(width=4, depth=2, memory=True, reference_gain=25.0))
    torch.nn.init.normal_(model.trust.head.weight, std=0.5)
    quiet = torch.full((1, 16, 12, 12), 0.04)
    quiet[:, 15] = 0.2  # confidence
    noisy = quiet.clone()
    for t, sign in enumerate((1, -1, 1, -1)):
        noisy[:, 3 * t:3 * t + 3] += 0.02 * sign
    assert torch.allclose(model._frames_mean(quiet[:, :12]), model._frames_mean(noisy[:, :12]))
    mean = model._frames_mean(quiet[:, :12])
    trust_quiet = model.trust(mean, quiet[:, 12:], torch.zeros_like(mean))
    trust_noisy = model.trust(mean, noisy[:, 12:], torch.full_like(mean, 0.02))
    assert not torch.allclose(trust_quiet, trust_noisy)
    assert not torch.allclose(model(quiet), model(noisy))
