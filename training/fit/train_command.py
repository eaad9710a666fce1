"""``nightowl train CONFIG --out DIR [--resume]``: train one experiment (needs torch)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HELP = "train a network from an experiment config (needs the train extra)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="experiment TOML file, e.g. "
                        "training/configs/mim_l1_cr.toml")
    parser.add_argument("--out", type=Path, help="run folder (default runs/<name>)")
    parser.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    parser.add_argument("--steps", type=int, help="override the config's steps")
    parser.add_argument("--max-minutes", type=float, help="stop after this much training time "
                        "(the cosine schedule, if configured, then decays over it)")
    parser.add_argument("--init-from", help="start from these weights: a released models/*.onnx "
                        "or a run's final.pt")
    parser.add_argument("--workers", type=int, help="override the config's DataLoader workers")
    parser.add_argument("--threads", type=int, help="override the config's torch threads")
    parser.add_argument("--batch-size", type=int, help="override the config's batch size")
    parser.add_argument("--lr", type=float, help="override the config's learning rate")
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"],
                        help="override the config's learning-rate schedule")


def run(args: argparse.Namespace, fail) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        fail("training needs torch: pip install -e '.[train]'")
    from dataclasses import replace

    from nightowl.training.fit.config import load_config
    from nightowl.training.fit.train import train

    try:
        config = load_config(args.config)
    except ValueError as error:
        fail(str(error))
    overrides = {"steps": args.steps, "max_minutes": args.max_minutes,
                 "init_from": args.init_from, "workers": args.workers, "threads": args.threads,
                 "batch_size": args.batch_size, "lr_schedule": args.lr_schedule, "lr": args.lr}
    for key, minimum in (("steps", 1), ("max_minutes", 0), ("workers", 0), ("threads", 0),
                         ("batch_size", 1), ("lr", 1e-9)):
        value = overrides[key]
        if value is not None and value < minimum:
            fail(f"--{key.replace('_', '-')} must be >= {minimum}; got {value}")
    if args.init_from is not None and not Path(args.init_from).exists():
        fail(f"--init-from: {args.init_from} does not exist")
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    out = args.out or Path("runs") / config.name
    figures = train(config, out, resume=args.resume)
    if figures:
        print(json.dumps(figures), file=sys.stderr)
    return 0
