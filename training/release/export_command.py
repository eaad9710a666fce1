"""``nightowl export``: trained runs -> ONNX files in models/ with the manifest;
``nightowl export --check``: verify the shipped files' hashes and parity (ONNX Runtime only);
``nightowl export --fp16`` / ``--int8``: only (re)make those copies of the shipped enhancers;
``nightowl export --tensorrt``: compile a shipped model into a TensorRT plan for this GPU;
``nightowl export --triton DIR``: a Triton Inference Server model repository for it.

Only the first needs torch; the others read the checked ONNX files in models/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "export trained networks to ONNX in models/, or --check the shipped ones"

DEFAULT_MODEL = "mim_l1_cr"  # the served default

# exported file name -> what it is (its run folder under --runs has the same name)
SHIPPED: dict[str, str] = {
    "recogniser": "character recogniser: per-location probabilities over background, 0-9 and "
                  "19 letters at stride 4 (frozen, behind L_CR and the evaluation)",
    "sim_l1": "single-image model (frame T only), trained on L1",
    "sim_l1_cr": "single-image model (frame T only), trained on L1 + 0.01 L_CR",
    "mim_l1": "multi-image model (4 aligned frames), trained on L1",
    "mim_l1_cr": "multi-image model (4 aligned frames), trained on L1 + 0.01 L_CR; "
                 "the served default",
    "mim_l1_cr_memory": "multi-image model (4 aligned frames and the camera's background "
                        "memory with its confidence), trained on L1 + 0.01 L_CR",
    "flow": "optical-flow network: the 3 backward flows (px) of frames 1-3 onto frame 4 from "
            "the 4 dark frames as captured, trained on the generator's exact flow",
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
    parser.add_argument("--int8", action="store_true", help="only (re)make the int8 copies of "
                        "the shipped fp32 enhancers in --models, for the CPU engine (no "
                        "training runs needed)")
    serving = parser.add_argument_group("serving artefacts (no torch needed)")
    serving.add_argument("--tensorrt", action="store_true", help="build a TensorRT fp16 plan "
                         "of --model for this host's GPU into --engine-cache, then exit")
    serving.add_argument("--triton", type=Path, metavar="DIR", help="write a Triton model "
                         "repository for --model into DIR, then exit")
    serving.add_argument("--model", default=f"{DEFAULT_MODEL}.onnx", help="shipped model file "
                         f"for --tensorrt / --triton (default {DEFAULT_MODEL}.onnx)")
    serving.add_argument("--engine-cache", type=Path, default=None, help="folder of compiled "
                         "TensorRT engines (default ~/.cache/nightowl/engines; the server "
                         "must be given the same)")
    for which, default in (("min", "1x32x32"), ("opt", "1x720x1280"), ("max", "8x1080x1920")):
        serving.add_argument(f"--profile-{which}", type=_shape, default=_shape(default),
                             metavar="BxHxW", help=f"TensorRT/Triton shape profile, {which} "
                             f"batch x height x width (default {default})")
    serving.add_argument("--triton-instance", choices=("gpu", "cpu"), default="gpu",
                         help="Triton instance kind: gpu (TensorRT fp16) or cpu (default gpu)")


def run(args: argparse.Namespace, fail) -> int:
    if args.check:
        return _check(args.models, fail)
    if args.tensorrt or args.triton:
        return _serving(args, fail)
    try:
        from nightowl.service.modelrepo.manifest import update_manifest
        from nightowl.training.release.export import export_run
        from nightowl.training.release.fp16 import export_fp16
        from nightowl.training.release.int8 import export_int8
    except ImportError as error:
        fail(f"export needs the train extra (torch, onnx): {error}")
    names = args.only or list(SHIPPED)
    if args.fp16 or args.int8:
        return _copies(args.models, names, [export_fp16] * args.fp16 + [export_int8] * args.int8,
                       update_manifest)
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
            for export_copy in (export_fp16, export_int8):
                copy = export_copy(args.models, entry)
                update_manifest(args.models, copy)
                _report(copy)
    from nightowl.training.release.model_card import write_card

    print(f"wrote {write_card(args.models)}", file=sys.stderr)
    return 0


def _copies(models: Path, names: list[str], exports: list, update_manifest) -> int:
    from nightowl.service.modelrepo.manifest import find_entry, read_manifest
    from nightowl.training.release.model_card import write_card

    manifest = read_manifest(models)
    for name in names:
        entry = find_entry(manifest, f"{name}.onnx")
        if entry is None or entry["task"] != "enhancer":
            continue
        for export_copy in exports:
            copy = export_copy(models, entry)
            update_manifest(models, copy)
            _report(copy)
    print(f"wrote {write_card(models)}", file=sys.stderr)
    return 0


def _report(entry: dict) -> None:
    from nightowl.service.modelrepo.entries import worst_abs_diff, worst_psnr_vs_fp32

    psnr = worst_psnr_vs_fp32(entry)
    against = "" if psnr is None else f", {psnr:.1f} dB from fp32 (worst crop)"
    print(f"{entry['file']}: {entry['bytes'] / 1e6:.1f} MB, parity "
          f"{worst_abs_diff(entry):.1e}{against}", file=sys.stderr)


def _check(models: Path, fail) -> int:
    from nightowl.service.modelrepo.check import check_models
    from nightowl.service.modelrepo.manifest import MANIFEST

    if not (models / MANIFEST).exists():
        fail(f"no manifest at {models / MANIFEST}")
    problems = check_models(models)
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print(f"{models}: every file matches its sha256 and torch's reference outputs",
              file=sys.stderr)
    return 1 if problems else 0


def _serving(args: argparse.Namespace, fail) -> int:
    from nightowl.service.engines import EngineError, ShapeProfile
    from nightowl.service.modelrepo.files import resolve

    try:
        profile = ShapeProfile(args.profile_min, args.profile_opt, args.profile_max)
    except ValueError as error:
        fail(str(error))
    try:
        model = resolve(args.model, args.models)
        if args.triton:
            from nightowl.training.release.triton import TritonOptions, write_repository

            folder = write_repository(model, args.triton, TritonOptions(
                profile=profile, instance=args.triton_instance))
            print(f"wrote Triton model repository {folder}", file=sys.stderr)
        if args.tensorrt:
            from nightowl.service.engines.tensorrt import build_plan

            plan = build_plan(model, profile, args.engine_cache)
            print(f"wrote TensorRT plan {plan}", file=sys.stderr)
    except EngineError as error:
        fail(str(error))
    return 0


def _shape(text: str) -> tuple[int, int, int]:
    """"BxHxW" -> (batch, height, width)."""
    try:
        batch, height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected BxHxW such as 1x720x1280, got {text!r}"
                                         ) from None
    return batch, height, width
