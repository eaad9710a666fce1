"""What a task reports: the enhancer's validation PSNR is the mean of per-image PSNR (the one
PSNR of service/frames/quality.py) over every image of every batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nightowl.service.frames.quality import psnr_each
from nightowl.training.fit.config import TrainConfig
from nightowl.training.fit.tasks import EnhancerTask
from nightowl.training.nets.enhancers import EnhancerConfig


def test_enhancer_validation_psnr_is_the_mean_over_images_not_batches():
    task = EnhancerTask(TrainConfig(name="tiny", model=EnhancerConfig(kind="sim", width=4,
                                                                      depth=2)),
                        torch.device("cpu"))
    rng = np.random.default_rng(0)
    target = rng.random((3, 3, 16, 16), dtype=np.float32)
    noise = rng.normal(size=target.shape) * np.array([0.01, 0.05, 0.1])[:, None, None, None]
    output = np.clip(target + noise, 0, 1).astype(np.float32)
    batches = [{"inputs": torch.from_numpy(output[:2]), "target": torch.from_numpy(target[:2])},
               {"inputs": torch.from_numpy(output[2:]), "target": torch.from_numpy(target[2:])}]
    each = psnr_each(output, target)
    result = task.validate(nn.Identity(), batches)  # the "model" returns its input
    assert result == {"val_psnr": pytest.approx(each.mean())}
    assert result["val_psnr"] != pytest.approx((each[:2].mean() + each[2]) / 2)
