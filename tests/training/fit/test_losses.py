"""L_CR (Eq. 4) and the branch losses (Eqs. 2, 3, 5)."""

from __future__ import annotations

import torch
from torch import nn

from nightowl.training.fit.losses import (
    LossConfig,
    character_loss,
    colour_loss,
    masked_l1,
    mim_loss,
    sim_loss,
)
from nightowl.training.nets.enhancers import MimParts


class FixedRecogniser(nn.Module):
    """A stand-in 'recogniser' whose logits are a fixed function of the image: channel 0 of
    the image drives class 1, so P_G > 0.5 exactly where the truth's channel 0 is bright."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        logit = (image[:, :1] - 0.5) * 40  # >> 0 where bright, << 0 where dark
        return torch.cat([-logit, logit, torch.full_like(logit, -20)], dim=1)


def test_character_loss_ignores_locations_where_the_truth_is_background():
    recogniser = FixedRecogniser()
    truth = torch.zeros(1, 3, 4, 4)
    truth[..., :2, :] = 1.0  # top half: a "character" (P_G of class 1 ~ 1)
    output = truth.clone()
    output[..., 2:, :] = 1.0  # wrong only where the truth is background
    assert character_loss(recogniser, output, truth) == 0
    output = truth.clone()
    output[..., :2, :] = 0.0  # wrong where the truth holds the character
    loss = character_loss(recogniser, output, truth)
    assert 1.9 < float(loss) <= 2.0  # |P_G - P_R| summed over classes ~ 2 per location


def test_character_loss_is_zero_without_characters_and_reaches_the_output():
    recogniser = FixedRecogniser()
    truth = torch.zeros(1, 3, 4, 4)
    output = torch.rand(1, 3, 4, 4, requires_grad=True)
    assert character_loss(recogniser, output, truth).item() == 0
    truth[..., 0, 0] = 1.0
    output = torch.full((1, 3, 4, 4), 0.45, requires_grad=True)
    character_loss(recogniser, output, truth).backward()
    assert output.grad[0, 0, 0, 0] < 0  # brightening that pixel lowers the loss
    assert output.grad[0, 0, 1:, :].abs().sum() == 0


def test_masked_l1_weights_pixels():
    out, target = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    weight = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    assert float(masked_l1(out, target, weight)) == 1.0
    target[..., 1, 1] = 5.0
    assert float(masked_l1(out, target, weight)) == 1.0  # unweighted pixels do not count


def test_mim_loss_splits_pixels_between_branches_and_adds_cr():
    target = torch.rand(1, 3, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4, :] = 1
    moving = target.clone()
    moving[..., 4:, :] = 0  # wrong only where the stationary net is in charge
    stationary = target.clone()
    stationary[..., :4, :] = 0  # wrong only where the moving net is in charge
    parts = MimParts(moving, stationary, mask.clamp(0.01, 0.99), target)
    logs = mim_loss(parts, target, mask, None, LossConfig())
    assert float(logs["moving_l1"]) == 0 and float(logs["stationary_l1"]) == 0
    with_cr = mim_loss(parts, target, mask, FixedRecogniser(), LossConfig(cr_weight=0.01))
    assert "cr" in with_cr
    plain = sim_loss(target, target, FixedRecogniser(), LossConfig(cr_weight=0.01))
    assert float(plain["loss"]) == 0


def test_colour_loss_sees_a_cast_but_not_zero_mean_noise():
    target = torch.full((1, 3, 16, 16), 0.5)
    noise = torch.zeros(1, 3, 16, 16)
    noise[..., 0::2, :] = 0.1
    noise[..., 1::2, :] = -0.1  # zero mean over every 8x8 block
    assert float(colour_loss(target + noise, target)) < 1e-6
    cast = target.clone()
    cast[:, 2] -= 0.04  # blue 10 levels low
    assert abs(float(colour_loss(cast, target)) - 0.04 / 3) < 1e-6


def test_colour_weight_adds_the_block_mean_term_to_both_tasks():
    target = torch.rand(1, 3, 16, 16)
    output = (target - 0.05).clamp(0, 1)
    config = LossConfig(colour_weight=2.0)
    sim = sim_loss(output, target, None, config)
    assert abs(float(sim["loss"]) - (float(sim["l1"]) + 2.0 * float(sim["colour"]))) < 1e-6
    assert "colour" not in sim_loss(output, target, None, LossConfig())
    mask = torch.zeros(1, 1, 16, 16)
    parts = MimParts(output, output, mask + 0.5, output)
    plain = mim_loss(parts, target, mask, None, LossConfig())
    coloured = mim_loss(parts, target, mask, None, config)
    expected = float(plain["loss"]) + 2.0 * float(colour_loss(output, target))
    assert abs(float(coloured["loss"]) - expected) < 1e-5
