"""The model card: written from the manifest, one row per file with every training stage."""

from __future__ import annotations

from pathlib import Path

from nightowl.service.modelrepo.manifest import read_manifest
from nightowl.training.release.model_card import render_card

MODELS = Path(__file__).resolve().parents[3] / "models"


def test_the_shipped_card_is_the_one_the_shipped_manifest_writes():
    assert render_card(read_manifest(MODELS)) == (MODELS / "MODEL_CARD.md").read_text()


def test_a_row_lists_each_stage_oldest_first_and_an_int8_copy_its_psnr():
    first = {"config": "sim_l1", "steps": 3000, "batch_size": 8, "crop": 96,
             "validation": {"val_psnr": 26.5}, "wall_seconds": 3930.0, "hardware": "1 x cpu"}
    entry = {"file": "sim_l1.int8.onnx", "what": "int8 copy", "bytes": 1_800_000,
             "parity": {"max_abs_diff": {"real": 0.01},
                        "psnr_db_vs_fp32": {"held_out_min": 45.61, "held_out_mean": 50.0}},
             "training": {"config": "sim_l1", "steps": 970, "batch_size": 16, "crop": 96,
                          "lr": 2e-4, "lr_schedule": "cosine",
                          "validation": {"val_psnr": 28.917, "val_char_accuracy": 0.9321},
                          "continued_from": first}}
    rows = [line for line in render_card({"models": [entry]}).splitlines()
            if line.startswith("| `")]
    assert rows == ["| `sim_l1.int8.onnx` | int8 copy | `training/configs/sim_l1.toml` | "
                    "3000 x 8 x 96, then 970 x 16 x 96, 0.0002 cosine | 1 h 06 min + ? | "
                    "1 x cpu; then ? | PSNR 28.92, chars 0.932 | 45.6 dB vs fp32 | 1.8 |"]
