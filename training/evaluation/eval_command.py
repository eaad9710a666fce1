"""``nightowl eval``: the paper's Table 1 on fixed synthetic and photo test sets, with classical
baselines, written as report.json, report.md, a contact sheet per split and a plot of the rate
against S; ``--long``: the long test splits (hundreds of frames per camera) with and without
the cameras' background memory, written as long_report.json, long_report.md,
long_contact_sheet.png and psnr_vs_age.png."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

HELP = "score every method on the fixed synthetic and photo test sets (the paper's Table 1)"

# sequences per split (each under every S and noise model); chosen so that the full run takes
# about 30 minutes on 2 Intel Xeon cores, 38 on 2 AMD EPYC ones (bench/README.md, "Evaluation
# cost"; README.md)
FULL_COUNT, FULL_PHOTO_COUNT, FULL_MONO_COUNT = 100, 40, 40
QUICK_COUNT, QUICK_PHOTO_COUNT, QUICK_MONO_COUNT = 1, 1, 1  # --quick: a smoke run
_DEFAULT_SPLITS = "synthetic,photo,mono"  # (--long: its own splits, long and long-photo)
LONG_FRAMES, LONG_EVERY = 240, 2  # --long: frames per sequence; networks on every 2nd frame
SHEETS = {"synthetic": "contact_sheet.png", "photo": "contact_sheet_photo.png",
          "mono": "contact_sheet_mono.png"}


def _served_precision() -> str:
    from nightowl.service.settings import Settings

    return Settings.model_fields["cpu_precision"].default


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("eval"), help="output folder "
                        "(default eval)")
    parser.add_argument("--models", type=Path, default=Path("models"), help="model repository "
                        "with recogniser.onnx and the four networks (default models)")
    parser.add_argument("--splits", default=_DEFAULT_SPLITS, help="test splits, comma "
                        "separated: synthetic (rendered streets), photo (relit test "
                        "photographs; needs the Debian wallpaper packages), mono (the synthetic "
                        "scenes seen by a monochrome IR camera) (default all three)")
    parser.add_argument("--count", type=int, default=None, help=f"synthetic test sequences "
                        f"(default {FULL_COUNT}; --quick: {QUICK_COUNT})")
    parser.add_argument("--photo-count", type=int, default=None, help=f"photo test sequences "
                        f"(default {FULL_PHOTO_COUNT}, at most --count; --quick: "
                        f"{QUICK_PHOTO_COUNT})")
    parser.add_argument("--mono-count", type=int, default=None, help=f"mono test sequences: "
                        f"the first synthetic ones seen grey (default {FULL_MONO_COUNT}, at "
                        f"most --count; --quick: {QUICK_MONO_COUNT})")
    parser.add_argument("--quick", action="store_true", help="a small subset, for a smoke run")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes, one thread each "
                        "(default 1)")
    parser.add_argument("--publish", type=Path, default=None, metavar="DIR", help="also write "
                        "DIR/EVAL.md and DIR/eval/ (the committed page: --publish models)")
    parser.add_argument("--default", default="mim_l1_cr.onnx", help="the served default model "
                        "file; gets its own row if it is none of the four variants "
                        "(default mim_l1_cr.onnx)")
    parser.add_argument("--long", action="store_true", help="the long test splits instead "
                        "(long, long-photo: --count sequences each, default 1; --splits "
                        "default both): the served default with and without the background "
                        "memory, and --memory-model with it")
    parser.add_argument("--frames", type=int, default=LONG_FRAMES, help="--long: frames per "
                        f"sequence (default {LONG_FRAMES})")
    parser.add_argument("--every", type=int, default=LONG_EVERY, help="--long: networks on "
                        f"every n-th frame, and on each frame with a plate or near the parked "
                        f"car coming and going (default {LONG_EVERY})")
    parser.add_argument("--noises", default=None, help="--long: noise models, comma "
                        "separated (default eq6,extended,sensor)")
    parser.add_argument("--s-values", default=None, help="--long: values of S, comma "
                        "separated (default 20,22,25,28,30)")
    parser.add_argument("--memory-model", default=None, help="--long: also this model file "
                        "(in --models), without and with the memory, e.g. a network that takes "
                        "the memory as input (without it, its memory planes are zeros)")
    parser.add_argument("--precision", choices=("int8", "fp32"), default=_served_precision(),
                        help="run the networks as the CPU server does: int8 (their listed "
                        "*.int8.onnx copies) or fp32 (default: the server's, "
                        f"{_served_precision()})")


def counts(args: argparse.Namespace) -> dict[str, int]:
    """Sequences per split asked for: the photo and mono splits default to at most --count."""
    count = args.count if args.count is not None else (QUICK_COUNT if args.quick else FULL_COUNT)
    photo = args.photo_count if args.photo_count is not None else min(
        count, QUICK_PHOTO_COUNT if args.quick else FULL_PHOTO_COUNT)
    mono = args.mono_count if args.mono_count is not None else min(
        count, QUICK_MONO_COUNT if args.quick else FULL_MONO_COUNT)
    chosen = [s.strip() for s in args.splits.split(",") if s.strip()]
    sizes = {"photo": photo, "mono": mono}
    return {split: sizes.get(split, count) for split in dict.fromkeys(chosen)}


def run(args: argparse.Namespace, fail) -> int:
    from nightowl.training.evaluation import methods, testset

    if args.long:
        return _run_long(args, fail)

    per_split = counts(args)
    if not per_split or min(per_split.values()) < 1 or args.jobs < 1:
        fail(f"--splits must name a split, and --count, --photo-count and --jobs must be >= 1, "
             f"got {per_split} and {args.jobs}")
    _check_inputs(per_split, testset.check_split, fail)
    networks = dict(methods.NETWORKS)
    if args.default not in networks.values():
        networks["served default"] = args.default
    needed = ["recogniser.onnx", *networks.values()]
    missing = [n for n in needed if not (args.models / n).is_file()]
    if missing:
        fail(f"{args.models} lacks {', '.join(missing)} (needed: {', '.join(needed)})")
    command = (f"nightowl eval --out {args.out}"
               + (f" --splits {','.join(per_split)}" if list(per_split) != list(testset.SPLITS)
                  else "")
               + (f" --count {per_split['synthetic']}" if "synthetic" in per_split else "")
               + (f" --photo-count {per_split['photo']}" if "photo" in per_split else "")
               + (f" --mono-count {per_split['mono']}" if "mono" in per_split else "")
               + f" --jobs {args.jobs}"
               + (f" --models {args.models}" if args.models != Path("models") else "")
               + (f" --default {args.default}" if args.default != "mim_l1_cr.onnx" else "")
               + (f" --precision {args.precision}" if args.precision != _served_precision()
                  else "")
               + (f" --publish {args.publish}" if args.publish else ""))
    return _evaluate(args.out, args.models, tuple(networks.items()), per_split, args.jobs,
                     command, args.publish, args.precision)


def _evaluate(out: Path, models: Path, networks: tuple[tuple[str, str], ...],
              per_split: dict[str, int], jobs: int, command: str, publish: Path | None = None,
              precision: str = "int8") -> int:
    import cv2
    from tqdm import tqdm

    from nightowl.training.evaluation import pictures, report, testset
    from nightowl.training.evaluation.publish import publish as publish_page
    from nightowl.training.evaluation.runner import EvalSettings, run_scenes

    splits = tuple(per_split)
    settings = EvalSettings(models=models, networks=networks, precision=precision,
                            splits=splits)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tasks = [(split, i) for split in splits for i in range(per_split[split])]
    records: list[dict] = []
    sheet: dict[str, list[dict]] = {split: [] for split in splits}
    with (out / "records.jsonl").open("w") as log:
        for scene_records, item in tqdm(run_scenes(settings, tasks, jobs), total=len(tasks),
                                        desc="test sequences", unit="seq"):
            records += scene_records
            log.writelines(json.dumps(r) + "\n" for r in scene_records)
            if item is not None:
                sheet[item["split"]].append(item)
    elapsed = time.perf_counter() - start
    names, noises, s_values = settings.methods, settings.noises, settings.s_values
    rows, aggregator = report.build_rows(records, names, splits, noises, s_values)
    result = {"command": command, "test_seed": testset.TEST_SEED,
              "splits": {split: {"seed": testset.SPLITS[split].seed,
                                 "sequences": per_split[split]} for split in splits},
              "sequences": len(tasks), "methods": names, "noise_models": list(noises),
              "s_values": list(s_values), "models": {name: file for name, file in networks},
              "precision": precision,
              "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} "
                          f"cores, {jobs} worker(s) of one thread",
              "elapsed_s": round(elapsed, 1), "rows": rows,
              "targets": report.all_targets(rows, aggregator, splits, noises, s_values)}
    (out / "report.json").write_text(json.dumps(result, indent=1) + "\n")
    tables = report.markdown(rows, aggregator, names, splits, noises, s_values, command) + "\n"
    (out / "report.md").write_text(tables)
    images = {split: _sheet(sheet[split], split, settings.told, names)
              for split in splits if sheet[split]}
    for split, image in images.items():
        cv2.imwrite(str(out / SHEETS[split]), image[..., ::-1])
    plot = pictures.rate_plot(rows, settings.told, splits, noises, s_values)
    cv2.imwrite(str(out / "rate_vs_s.png"), plot[..., ::-1])
    if publish is not None:
        print(f"wrote {publish_page(publish, result, tables, images, plot)}")
    print(f"evaluated {len(tasks)} sequences in {elapsed:.0f} s; wrote {out}/report.json, "
          f"report.md, {''.join(SHEETS[s] + ', ' for s in images)}rate_vs_s.png and "
          "records.jsonl")
    return 0


def _sheet(items: list[dict], split: str, told: list[str], names: list[str]):
    """A split's contact sheet: the told rows; on the photo split, at full size and with the
    served default told the estimated gain too (what a camera that sends no gain gets)."""
    from nightowl.training.evaluation import pictures, report

    if split != "photo":
        return pictures.contact_sheet(items, told)
    guessed = report.BEST + report.ESTIMATED
    columns = [*told, guessed] if guessed in names else told
    return pictures.contact_sheet(items, columns, pictures.PHOTO_TILE, pictures.PHOTO_CROP)


def _check_inputs(splits, check_split, fail) -> None:
    """Fail before a run on what it would fail late: an unknown split, missing photographs
    (naming the install command) or a missing Tesseract (naming the package)."""
    from nightowl.training.evaluation import ocr
    from nightowl.training.synth.photos import PhotosUnavailableError

    try:
        for split in splits:
            check_split(split)
        ocr.check_tesseract()
    except (ValueError, PhotosUnavailableError, ocr.OcrUnavailableError) as error:
        fail(str(error))


def _run_long(args: argparse.Namespace, fail) -> int:
    from nightowl.service.frames.exposure import S_VALUES
    from nightowl.training.evaluation import longset
    from nightowl.training.evaluation.longrun import LongSettings, Row
    from nightowl.training.evaluation.testset import NOISE_MODELS

    splits = ([s.strip() for s in args.splits.split(",") if s.strip()]
              if args.splits != _DEFAULT_SPLITS else list(longset.LONG_SPLITS))
    count = args.count if args.count is not None else 1
    if count < 1 or args.jobs < 1 or args.frames < 120 or args.every < 1:
        fail(f"--count and --jobs must be >= 1, --frames >= 120 and --every >= 1, got {count}, "
             f"{args.jobs}, {args.frames} and {args.every}")
    _check_inputs(splits, longset.check_long_split, fail)
    base = _row_name(args.default)
    rows = [Row(base, args.default, False), Row(base + " + memory", args.default, True)]
    if args.memory_model:  # (a network that takes the memory: without it, it gets zeros)
        name = _row_name(args.memory_model)
        rows += [Row(name, args.memory_model, False), Row(name + " + memory", args.memory_model,
                                                          True)]
    missing = [n for n in ["recogniser.onnx", *{r.model for r in rows}]
               if not (args.models / n).is_file()]
    if missing:
        fail(f"{args.models} lacks {', '.join(missing)}")
    noises = tuple(args.noises.split(",")) if args.noises else NOISE_MODELS
    s_values = (tuple(float(v) for v in args.s_values.split(",")) if args.s_values
                else S_VALUES)
    if not set(noises) <= set(NOISE_MODELS) or not set(s_values) <= set(S_VALUES):
        fail(f"--noises must be among {','.join(NOISE_MODELS)} and --s-values among "
             f"{','.join(f'{v:g}' for v in S_VALUES)}, got {args.noises} and {args.s_values}")
    settings = LongSettings(models=args.models, rows=tuple(rows), frames=args.frames,
                            every=args.every, precision=args.precision, noises=noises,
                            s_values=s_values)
    command = (f"nightowl eval --long --out {args.out} --splits {','.join(splits)} --count "
               f"{count} --frames {args.frames} --every {args.every} --jobs {args.jobs}"
               + (f" --noises {args.noises}" if args.noises else "")
               + (f" --s-values {args.s_values}" if args.s_values else "")
               + (f" --memory-model {args.memory_model}" if args.memory_model else "")
               + (f" --models {args.models}" if args.models != Path("models") else "")
               + (f" --default {args.default}" if args.default != "mim_l1_cr.onnx" else "")
               + (f" --precision {args.precision}" if args.precision != _served_precision()
                  else ""))
    return _evaluate_long(args.out, settings, splits, count, args.jobs, command)


def _row_name(model: str) -> str:
    return Path(model).name.removesuffix(".onnx")


def _evaluate_long(out: Path, settings, splits: list[str], count: int, jobs: int,
                   command: str) -> int:
    import cv2
    from tqdm import tqdm

    from nightowl.training.evaluation import longreport
    from nightowl.training.evaluation.longrun import run_long

    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tasks = [(split, i) for split in splits for i in range(count)]
    records, items = [], []
    with (out / "long_records.jsonl").open("w") as log:
        for scene_records, scene_items in tqdm(run_long(settings, tasks, jobs),
                                               total=len(tasks), desc="long sequences",
                                               unit="seq"):
            records += scene_records
            items += scene_items
            log.writelines(json.dumps(r) + "\n" for r in scene_records)
    elapsed = time.perf_counter() - start
    names = [r.name for r in settings.rows]
    rows = longreport.build_rows(records, names, splits, settings.noises, settings.s_values)
    verdicts = longreport.targets(rows, names[0], names[-1])
    result = {"command": command, "splits": splits, "sequences": len(tasks),
              "frames": settings.frames, "methods": names, "precision": settings.precision,
              "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} "
                          f"cores, {jobs} worker(s) of one thread",
              "elapsed_s": round(elapsed, 1), "rows": rows, "targets": verdicts}
    (out / "long_report.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "long_report.md").write_text(longreport.markdown(rows, verdicts, command, names[0],
                                                            names[-1]))
    if items:
        cv2.imwrite(str(out / "long_contact_sheet.png"),
                    longreport.sheet(items, names)[..., ::-1])
    plot = longreport.age_plot(rows, names, splits, settings.noises)
    cv2.imwrite(str(out / "psnr_vs_age.png"), plot[..., ::-1])
    print(f"evaluated {len(tasks)} long sequences in {elapsed:.0f} s; wrote {out}/"
          "long_report.json, long_report.md, long_contact_sheet.png, psnr_vs_age.png and "
          "long_records.jsonl")
    return 0
