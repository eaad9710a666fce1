"""``nightowl export``: trained runs -> ONNX files in models/ with the manifest;
``nightowl export --check``: verify the shipped files' hashes and parity (ONNX Runtime only)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# exported file name -> what it is (its run folder under --runs has the same name)
SHIPPED: dict[str, str] = {
    "recogniser": "character recogniser: per-location probabilities over background, 0-9 and "
                  "19 letters at stride 4 (frozen, behind L_CR and the evaluation)",
    "sim_l1": "single-image model (frame T only), trained on L1",
    "sim_l1_cr": "single-image model (frame T only), trained on L1 + 0.01 L_CR",
    "mim_l1": "multi-image model (4 aligned frames), trained on L1",
    "mim_l1_cr": "multi-image model (4 aligned frames), trained on L1 + 0.01 L_CR; "
                 "the served default",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--check", action="store_true", help="verify models/ against its "
                        "manifest (sha256) and torch's stored reference outputs, then exit")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="folder of training "
                        "runs, one sub-folder per network with final.pt (default runs)")
    parser.add_argument("--models", type=Path, default=Path("models"), help="model repository "
                        "(default models)")
    parser.add_argument("--only", nargs="+", choices=sorted(SHIPPED), help="export only these")
    parser.add_argument("--fp16", action="store_true", help="only (re)make the fp16 copies of "
                        "the shipped fp32 enhancers in --models (no training runs needed)")


def run(args: argparse.Namespace, fail) -> int:
    if args.check:
        return _check(args.models, fail)
    try:
        from nightowl.training.export import export_fp16, export_run
        from nightowl.training.manifest import update_manifest
    except ImportError as error:
        fail(f"export needs the train extra (torch, onnx): {error}")
    names = args.only or list(SHIPPED)
    if args.fp16:
        return _fp16_copies(args.models, names, export_fp16, update_manifest)
    missing = [n for n in names if not (args.runs / n / "final.pt").exists()]
    if missing:
        fail(f"no trained run for {', '.join(missing)} under {args.runs} "
             f"(expected {args.runs}/<name>/final.pt)")
    for name in names:
        recogniser = args.runs / "recogniser" / "final.pt"
        if not recogniser.exists():  # enhancers are then read by the released recogniser
            recogniser = args.models / "recogniser.onnx"
        entry = export_run(args.runs / name / "final.pt", name, args.models,
                           description=SHIPPED[name],
                           recogniser=recogniser if recogniser.exists() else None)
        update_manifest(args.models, entry)
        _report(entry)
        if entry["task"] == "enhancer":
            half = export_fp16(args.models, entry)
            update_manifest(args.models, half)
            _report(half)
    from nightowl.training.model_card import write_card

    print(f"wrote {write_card(args.models)}", file=sys.stderr)
    return 0


def _fp16_copies(models: Path, names: list[str], export_fp16, update_manifest) -> int:
    import json

    from nightowl.training.model_card import write_card

    entries = {e["file"]: e for e in json.loads((models / "manifest.json").read_text())["models"]}
    for name in names:
        entry = entries.get(f"{name}.onnx")
        if entry is None or entry["task"] != "enhancer":
            continue
        half = export_fp16(models, entry)
        update_manifest(models, half)
        _report(half)
    print(f"wrote {write_card(models)}", file=sys.stderr)
    return 0


def _report(entry: dict) -> None:
    print(f"{entry['file']}: {entry['bytes'] / 1e6:.1f} MB, parity "
          f"{max(entry['parity']['max_abs_diff'].values()):.1e}", file=sys.stderr)


def _check(models: Path, fail) -> int:
    from nightowl.training.manifest import check_models

    if not (models / "manifest.json").exists():
        fail(f"no manifest at {models / 'manifest.json'}")
    problems = check_models(models)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{models}: every file matches its sha256 and torch's reference outputs",
              file=sys.stderr)
    return 1 if problems else 0
