"""Losses of the paper: L1 (Eq. 2), BCE for the mask (Eq. 3), and the character-recognition
loss L_CR (Eq. 4), combined per branch as in Eq. 5."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F  # noqa: N812
from torch import nn

from nightowl.training.nets.enhancers import MimParts


@dataclass(frozen=True)
class LossConfig:
    cr_weight: float = 0.0  # a in Eq. 5: 0 trains on L1 alone, the paper uses 0.01 with L_CR
    cr_threshold: float = 0.5  # L_CR counts locations where a character's P_G exceeds this
    # Which mask splits MIM's L1 between its branches during training: "true" uses the
    # generator's moving-object mask, "predicted" the mask U-Net's output (as the paper does).
    branch_mask: Literal["true", "predicted"] = "true"
    # Not in the paper: weight of an L1 between 8x8 block means of the output and the truth,
    # added to the frame's loss. Per-pixel L1 lets a network trade a colour cast it learnt
    # from its training palette against noise; block means see only colour and brightness.
    colour_weight: float = 0.0
    colour_block: int = 8


def colour_loss(output: torch.Tensor, target: torch.Tensor, block: int = 8) -> torch.Tensor:
    """Mean |block mean of output - block mean of target| over ``block`` x ``block`` tiles:
    the training side of the evaluation's colour error, blind to noise and fine detail."""
    return F.l1_loss(F.avg_pool2d(output, block), F.avg_pool2d(target, block))


def masked_l1(output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Mean |output - target| over pixels, each weighted by ``weight`` (B, 1, H, W) in [0, 1]."""
    total = (weight * (output - target).abs()).sum()
    return total / (weight.sum() * output.shape[1]).clamp_min(1.0)


def character_loss(recogniser: nn.Module, output: torch.Tensor, target: torch.Tensor,
                   threshold: float = 0.5) -> torch.Tensor:
    """L_CR (Eq. 4): L1 between the recogniser's class probabilities on the ground truth (P_G)
    and on the output (P_R), at the locations where some character's P_G > ``threshold``.

    The recogniser is frozen (its parameters get no gradient); the gradient flows into
    ``output``. Returns the mean over those locations of the summed |P_G - P_R| (0 if none).
    """
    with torch.no_grad():
        p_g = torch.softmax(recogniser(target), dim=1)
    p_r = torch.softmax(recogniser(output), dim=1)
    where = (p_g[:, 1:] > threshold).any(dim=1, keepdim=True).float()  # (B, 1, h, w)
    return (where * (p_g - p_r).abs()).sum() / where.sum().clamp_min(1.0)


def sim_loss(output: torch.Tensor, target: torch.Tensor, recogniser: nn.Module | None,
             config: LossConfig) -> dict[str, torch.Tensor]:
    """SIM: (1 - a) L1 + a L_CR over the whole frame."""
    l1 = F.l1_loss(output, target)
    parts = {"l1": l1}
    if config.cr_weight > 0 and recogniser is not None:
        parts["cr"] = character_loss(recogniser, output, target, config.cr_threshold)
        parts["loss"] = (1 - config.cr_weight) * l1 + config.cr_weight * parts["cr"]
    else:
        parts["loss"] = l1
    if config.colour_weight > 0:
        parts["colour"] = colour_loss(output, target, config.colour_block)
        parts["loss"] = parts["loss"] + config.colour_weight * parts["colour"]
    return parts


def mim_loss(parts: MimParts, target: torch.Tensor, true_mask: torch.Tensor,
             recogniser: nn.Module | None, config: LossConfig) -> dict[str, torch.Tensor]:
    """MIM: moving net (1 - a) L1 + a L_CR on moving pixels, stationary net L1 on the rest,
    mask net BCE against the true moving-object mask (Eqs. 2, 3, 5)."""
    weight = true_mask if config.branch_mask == "true" else parts.mask.detach()
    moving_l1 = masked_l1(parts.moving, target, weight)
    stationary_l1 = masked_l1(parts.stationary, target, 1 - weight)
    bce = F.binary_cross_entropy(parts.mask.clamp(1e-6, 1 - 1e-6), true_mask)
    moving = moving_l1
    logs = {"moving_l1": moving_l1, "stationary_l1": stationary_l1, "bce": bce,
            "l1": F.l1_loss(parts.output.detach(), target)}
    if config.cr_weight > 0 and recogniser is not None:
        # characters sit on vehicles: the moving net's whole output is read
        logs["cr"] = character_loss(recogniser, parts.moving, target, config.cr_threshold)
        moving = (1 - config.cr_weight) * moving_l1 + config.cr_weight * logs["cr"]
    logs["loss"] = moving + stationary_l1 + bce
    if config.colour_weight > 0:
        # on the blended frame, so the mask's choice between the branches is held to it too
        logs["colour"] = colour_loss(parts.output, target, config.colour_block)
        logs["loss"] = logs["loss"] + config.colour_weight * logs["colour"]
    return logs
