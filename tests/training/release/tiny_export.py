"""A tiny untrained enhancer exported into a model repository, for the export tests."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from nightowl.service.modelrepo.manifest import update_manifest
from nightowl.training.nets.enhancers import EnhancerConfig, build_enhancer
from nightowl.training.release.export import export_run


def export_tiny(folder: Path, kind: str) -> tuple[nn.Module, Path, dict]:
    """(model, folder/models, its manifest entry) for a width-4 ``kind`` enhancer."""
    torch.manual_seed(0)
    config = EnhancerConfig(kind=kind, width=4, depth=2)
    model = build_enhancer(config).eval()
    final = folder / "final.pt"
    torch.save({"model": model.state_dict(), "model_config": asdict(config),
                "task": "enhancer", "config": {"name": "tiny"}, "steps": 1,
                "validation": {}}, final)
    models = folder / "models"
    entry = export_run(final, "tiny", models, description="test")
    update_manifest(models, entry)
    return model, models, entry
