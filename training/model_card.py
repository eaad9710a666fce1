"""models/MODEL_CARD.md, written from the manifest so that its figures are the measured ones."""

from __future__ import annotations

import json
from pathlib import Path

INTRO = """# nightowl model card

Written by `nightowl export` from `models/manifest.json`; the figures below are the ones
measured when each file was trained and exported. Re-train with
`nightowl train training/configs/<name>.toml --out runs/<name>` and re-export with
`nightowl export` (then `nightowl export --check` on any clone).

![the shipped models on held-out sequences](../training/assets/enhanced.jpg)

(`python bench/show_enhancement.py`: dark input brightened by S, SIM L1, SIM L1+L_CR, MIM L1,
MIM L1+L_CR, truth.)

## Data

Every network trains on the synthetic generator (`training/scenes.py`, `training/degrade.py`):
256x256 night-street sequences of T = 4 frames, 1-3 vehicles, plates with 8-24 px characters,
dark inputs by the paper's Eq. 6 (S drawn from {20, 22, 25, 28, 30}, Gaussian sigma 2.0 levels).
The training stream and the validation set use different seeds (in each config), so no
validation sequence is ever trained on. Crops are square and hold a readable plate 85-90% of
the time, so that every batch has characters for L_CR.

## Recipe, and what differs from the paper

- Adam, learning rate 0.001, T = 4, S in {20, 22, 25, 28, 30}: as in the paper.
- Steps instead of epochs: the generator is endless; each config states its steps.
- 96x96 crops, U-Net width 16 and depth 3, batch 8, and a few thousand steps: sized so that all
  four variants and the recogniser train on the 2-core CPU machine within one working session.
  These are the main reason the figures below are far from converged; a GPU run of the same
  configs with more steps is the next step.
- MIM's branch losses are weighted by the generator's *true* moving-object mask during
  training (`branch_mask = "true"`), not by the mask U-Net's output as in the paper: early in
  training the predicted mask is noise, and weighting by it would train the moving net on road
  and the stationary net on vehicles. The mask U-Net still learns the mask (BCE) and is what
  blends the two branches at inference. `branch_mask = "predicted"` reproduces the paper.
- L_CR is applied to the moving net's whole output (plates sit on vehicles) with a = 0.01.
- The character recogniser replaces the paper's RetinaNet trained on SVHN (not downloadable
  here): a small fully convolutional network trained on the generator's plates, giving class
  probabilities over background, 0-9 and 19 letters every 4 px. Its validation accuracy below is
  on clean frames of held-out synthetic plates (characters read at their true boxes).

Wall times below were measured while two or three runs shared the machine's 2 cores (each run
with the torch threads shown), so a run alone is faster.

## Files
"""


def render_card(manifest: dict) -> str:
    lines = [INTRO]
    lines.append("| file | what | config | steps | batch x crop | wall time | hardware | "
                 "validation | parity (max abs diff) | MB |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for entry in manifest["models"]:
        training = entry["training"]
        names = {"val_psnr": "PSNR", "val_char_accuracy": "chars",
                 "val_char_accuracy_truth": "chars on clean truth"}
        figures = ", ".join(f"{names[k]} {_fmt(v)}" for k, v in training["validation"].items()
                            if k in names)
        parity = max(entry["parity"]["max_abs_diff"].values())
        wall = training.get("wall_seconds")
        lines.append(
            f"| `{entry['file']}` | {entry['what']} | `training/configs/{training['config']}"
            f".toml` | {training['steps']} | {training.get('batch_size', '?')} x "
            f"{training.get('crop', '?')} | {_duration(wall)} | {training.get('hardware', '?')}"
            f" | {figures} | {parity:.1e} | {entry['bytes'] / 1e6:.1f} |")
    lines.append("")
    lines.append("Validation (64 held-out sequences, 96x96 crops, S drawn from {20, 22, 25, 28, "
                 "30}): `PSNR` is the mean PSNR (dB) of the output against the clean frame T; "
                 "`chars` the fraction of visible characters the recogniser reads correctly at "
                 "their true boxes on the output, and `chars on clean truth` the same on the "
                 "clean frames (the paper's 'ground truth images' row); for the recogniser "
                 "itself, on 200 held-out clean sequences. sha256 of every file: "
                 "`models/manifest.json`. The full comparison with the paper's Table 1, per S and "
                 "with baselines, belongs to `nightowl eval`.")
    return "\n".join(lines) + "\n"


def write_card(models: Path) -> Path:
    manifest = json.loads((models / "manifest.json").read_text())
    path = models / "MODEL_CARD.md"
    path.write_text(render_card(manifest))
    return path


def _fmt(value: float) -> str:
    return f"{value:.3f}" if value < 2 else f"{value:.2f}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
