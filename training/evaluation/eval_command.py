"""``nightowl eval``: the paper's Table 1 on a fixed synthetic test set, with classical baselines,
written as report.json, report.md, a contact sheet and a plot of the rate against S."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

HELP = "score every method on the fixed synthetic test set (the paper's Table 1)"

QUICK_COUNT = 6  # sequences in --quick (each under every S and both noise models)
FULL_COUNT = 300


def _served_precision() -> str:
    from nightowl.service.settings import Settings

    return Settings.model_fields["cpu_precision"].default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("eval"), help="output folder "
                        "(default eval)")
    parser.add_argument("--models", type=Path, default=Path("models"), help="model repository "
                        "with recogniser.onnx and the four networks (default models)")
    parser.add_argument("--count", type=int, default=None, help=f"test sequences (default "
                        f"{FULL_COUNT}; --quick: {QUICK_COUNT})")
    parser.add_argument("--quick", action="store_true", help="a small subset, for a smoke run")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes, one thread each "
                        "(default 1)")
    parser.add_argument("--publish", type=Path, default=None, metavar="DIR", help="also write "
                        "DIR/EVAL.md and DIR/eval/ (the committed page: --publish models)")
    parser.add_argument("--default", default="mim_l1_cr.onnx", help="the served default model "
                        "file; gets its own row if it is none of the four variants "
                        "(default mim_l1_cr.onnx)")
    parser.add_argument("--precision", choices=("int8", "fp32"), default=_served_precision(),
                        help="run the networks as the CPU server does: int8 (their listed "
                        "*.int8.onnx copies) or fp32 (default: the server's, "
                        f"{_served_precision()})")


def run(args: argparse.Namespace, fail) -> int:
    from nightowl.training.evaluation import methods, ocr

    count = args.count if args.count is not None else (QUICK_COUNT if args.quick else FULL_COUNT)
    if count < 1 or args.jobs < 1:
        fail(f"--count and --jobs must be >= 1, got {count} and {args.jobs}")
    try:
        ocr.check_tesseract()
    except ocr.OcrUnavailableError as error:
        fail(str(error))
    networks = dict(methods.NETWORKS)
    if args.default not in networks.values():
        networks["served default"] = args.default
    needed = ["recogniser.onnx", *networks.values()]
    missing = [n for n in needed if not (args.models / n).is_file()]
    if missing:
        fail(f"{args.models} lacks {', '.join(missing)} (needed: {', '.join(needed)})")
    command = (f"nightowl eval --out {args.out} --count {count} --jobs {args.jobs}"
               + (f" --models {args.models}" if args.models != Path("models") else "")
               + (f" --default {args.default}" if args.default != "mim_l1_cr.onnx" else "")
               + (f" --precision {args.precision}" if args.precision != _served_precision()
                  else "")
               + (f" --publish {args.publish}" if args.publish else ""))
    return _evaluate(args.out, args.models, tuple(networks.items()), count, args.jobs, command,
                     args.publish, args.precision)


def _evaluate(out: Path, models: Path, networks: tuple[tuple[str, str], ...], count: int,
              jobs: int, command: str, publish: Path | None = None,
              precision: str = "int8") -> int:
    import cv2
    from tqdm import tqdm

    from nightowl.training.evaluation import pictures, report
    from nightowl.training.evaluation.publish import publish as publish_page
    from nightowl.training.evaluation.runner import EvalSettings, run_scenes
    from nightowl.training.evaluation.testset import TEST_SEED

    settings = EvalSettings(models=models, networks=networks, precision=precision)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    records, sheet = [], []
    with (out / "records.jsonl").open("w") as log:
        for scene_records, item in tqdm(run_scenes(settings, list(range(count)), jobs),
                                        total=count, desc="test sequences", unit="seq"):
            records += scene_records
            log.writelines(json.dumps(r) + "\n" for r in scene_records)
            if item is not None:
                sheet.append(item)
    elapsed = time.perf_counter() - start
    names, noises, s_values = settings.methods, settings.noises, settings.s_values
    rows, aggregator = report.build_rows(records, names, noises, s_values)
    result = {"command": command, "test_seed": TEST_SEED, "sequences": count,
              "methods": names, "noise_models": list(noises), "s_values": list(s_values),
              "models": {name: file for name, file in networks}, "precision": precision,
              "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} "
                          f"cores, {jobs} worker(s) of one thread",
              "elapsed_s": round(elapsed, 1), "rows": rows,
              "targets": {n: report.targets(rows, aggregator, n, s_values) for n in noises}}
    (out / "report.json").write_text(json.dumps(result, indent=1) + "\n")
    tables = report.markdown(rows, aggregator, names, noises, s_values, command) + "\n"
    (out / "report.md").write_text(tables)
    image = pictures.contact_sheet(sheet, names) if sheet else None
    if image is not None:
        cv2.imwrite(str(out / "contact_sheet.png"), image[..., ::-1])
    plot = pictures.rate_plot(rows, names, noises, s_values)
    cv2.imwrite(str(out / "rate_vs_s.png"), plot[..., ::-1])
    if publish is not None:
        print(f"wrote {publish_page(publish, result, tables, image, plot)}")
    print(f"evaluated {count} sequences in {elapsed:.0f} s; wrote {out}/report.json, report.md, "
          f"{'contact_sheet.png, ' if sheet else ''}rate_vs_s.png and records.jsonl")
    return 0
