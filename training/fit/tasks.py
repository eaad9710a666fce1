"""What is trained: the enhancers (SIM, MIM), the character recogniser and the flow network.

A task builds its model and example maker, computes the loss of a batch and validates. The
training loop (``train.py``) is the same for all of them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from nightowl.service.frames.quality import psnr_each
from nightowl.training.fit.config import TrainConfig
from nightowl.training.fit.examples import EnhancerExamples, FlowExamples, RecogniserExamples
from nightowl.training.fit.losses import mim_loss, sim_loss
from nightowl.training.nets.enhancers import MultiImageModel, build_enhancer
from nightowl.training.nets.flow import FlowNet, end_point_error
from nightowl.training.nets.recogniser import (
    IGNORE,
    CharRecogniser,
    RecogniserConfig,
    read_boxes,
)
from nightowl.training.nets.recogniser_output import CHARSET

Batch = dict[str, torch.Tensor]


def load_recogniser(path: str | Path, device: torch.device) -> CharRecogniser:
    """A trained recogniser (a run's final.pt or the released ONNX file), frozen, eval mode."""
    if str(path).endswith(".onnx"):
        from nightowl.training.nets.onnx_weights import recogniser_from_onnx

        model = recogniser_from_onnx(path).to(device)
    else:
        checkpoint = torch.load(path, map_location=device, weights_only=False)
        config = RecogniserConfig(**checkpoint["model_config"])
        model = CharRecogniser(config).to(device)
        model.load_state_dict(checkpoint["model"])
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def char_accuracy(probabilities: torch.Tensor, batch: Batch) -> tuple[int, int]:
    """(correct, total) characters read from recogniser probabilities at the true boxes."""
    correct = total = 0
    probs = probabilities.detach().cpu().numpy()
    for p, boxes, labels in zip(probs, batch["boxes"].cpu().numpy(),
                                batch["labels"].cpu().numpy(), strict=True):
        keep = labels >= 0
        reads = read_boxes(p, boxes[keep])
        truth = [CHARSET[k - 1] for k in labels[keep]]
        correct += sum(r == t for r, t in zip(reads, truth, strict=True))
        total += len(truth)
    return correct, total


class EnhancerTask:
    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        self.config = config
        self.model = build_enhancer(config.model)
        self.examples = EnhancerExamples(
            kind=config.model.kind, crop=config.data.crop,
            reference_gain=config.model.reference_gain,
            memory=config.data.memory if config.model.memory else None)
        self.recogniser = None
        if config.recogniser and Path(config.recogniser).exists():
            self.recogniser = load_recogniser(config.recogniser, device)
        elif config.loss.cr_weight > 0:
            raise ValueError(f"{config.name}: cr_weight > 0 needs a trained recogniser, and "
                             f"{config.recogniser or 'none'} does not exist (set recogniser = "
                             f"'models/recogniser.onnx', the released one)")
        elif config.recogniser:
            print(f"{config.name}: recogniser {config.recogniser} not found: validating PSNR "
                  f"only, no character accuracy", file=sys.stderr)

    def loss(self, model: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        core = getattr(model, "module", model)  # DDP wraps the model
        if isinstance(core, MultiImageModel):
            parts = model(batch["inputs"], parts=True)  # through DDP, so gradients sync
            return mim_loss(parts, batch["target"], batch["mask"], self.recogniser,
                            self.config.loss)
        return sim_loss(model(batch["inputs"]), batch["target"], self.recogniser,
                        self.config.loss)

    @torch.no_grad()
    def validate(self, model: nn.Module, batches: list[Batch]) -> dict[str, float]:
        scores, correct, truth_correct, total = [], 0, 0, 0
        for batch in batches:
            output = model(batch["inputs"])
            scores.append(psnr_each(output.cpu().numpy(), batch["target"].cpu().numpy()))
            if self.recogniser is not None:
                c, t = char_accuracy(torch.softmax(self.recogniser(output), 1), batch)
                g, _ = char_accuracy(torch.softmax(self.recogniser(batch["target"]), 1), batch)
                correct, truth_correct, total = correct + c, truth_correct + g, total + t
        result = {"val_psnr": float(np.concatenate(scores).mean())}  # mean of per-image PSNR
        if total:
            result["val_char_accuracy"] = correct / total
            # the same recogniser on the clean frames: the ceiling, as the paper's "ground truth"
            result["val_char_accuracy_truth"] = truth_correct / total
        return result


class RecogniserTask:
    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        self.config = config
        self.model = CharRecogniser(config.recogniser_model)
        self.examples = RecogniserExamples(crop=config.data.crop)
        self.val_examples = RecogniserExamples(crop=config.data.crop, augment_probability=0.0)
        # characters are rare among background cells: weigh them up
        weights = torch.ones(config.recogniser_model.classes)
        weights[0] = 0.2
        self.criterion = nn.CrossEntropyLoss(weight=weights.to(device), ignore_index=IGNORE)

    def loss(self, model: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        logits = model(batch["image"])
        loss = self.criterion(logits, batch["chars"])
        return {"loss": loss}

    @staticmethod
    @torch.no_grad()
    def validate(model: nn.Module, batches: list[Batch]) -> dict[str, float]:
        """A recogniser's correct-answer rate at the true boxes of ``batches`` (needs no
        config: the bench that compares recogniser files calls it too)."""
        correct = total = 0
        for batch in batches:
            c, t = char_accuracy(torch.softmax(model(batch["image"]), 1), batch)
            correct, total = correct + c, total + t
        return {"val_char_accuracy": correct / max(total, 1), "val_chars": float(total)}


class FlowTask:
    """The flow network on the generator's exact flow: end-point error, moving pixels weighed
    up (they are a minority, and the only place where a wrong flow costs the enhancer)."""

    def __init__(self, config: TrainConfig, device: torch.device) -> None:
        self.config = config
        self.model = FlowNet(config.flow_model)
        self.examples = FlowExamples(crop=config.data.crop)

    def loss(self, model: nn.Module, batch: Batch) -> dict[str, torch.Tensor]:
        flow, coarse = model(batch["inputs"])  # in training: also the 1/16 level's flows
        moving = batch["moving"]
        weight = 1 + (self.config.moving_weight - 1) * moving
        coarse_epe = end_point_error(coarse, batch["flow"], weight)
        return {"loss": end_point_error(flow, batch["flow"], weight) + 0.5 * coarse_epe,
                "epe_coarse": coarse_epe.detach(),
                "epe_moving": end_point_error(flow.detach(), batch["flow"], moving),
                "epe_static": end_point_error(flow.detach(), batch["flow"], 1 - moving)}

    @torch.no_grad()
    def validate(self, model: nn.Module, batches: list[Batch]) -> dict[str, float]:
        sums = {"moving": [0.0, 0.0], "static": [0.0, 0.0]}
        for batch in batches:
            error = (model(batch["inputs"]) - batch["flow"]).square().sum(-1).sqrt()
            moving = batch["moving"].expand_as(error)
            for name, weight in (("moving", moving), ("static", 1 - moving)):
                sums[name][0] += float((error * weight).sum())
                sums[name][1] += float(weight.sum())
        return {f"val_epe_{k}": total / max(count, 1.0) for k, (total, count) in sums.items()}


def make_task(config: TrainConfig, device: torch.device
              ) -> EnhancerTask | RecogniserTask | FlowTask:
    if config.task == "recogniser":
        return RecogniserTask(config, device)
    if config.task == "flow":
        return FlowTask(config, device)
    return EnhancerTask(config, device)


def stack(examples: list[dict[str, np.ndarray]], device: torch.device) -> Batch:
    """Examples -> a batch of tensors on ``device``."""
    return {k: torch.from_numpy(np.stack([e[k] for e in examples])).to(device)
            for k in examples[0]}
