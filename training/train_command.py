"""``nightowl train CONFIG --out DIR [--resume]``: train one experiment (needs torch)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, help="experiment TOML file, e.g. "
                        "training/configs/mim_l1_cr.toml")
    parser.add_argument("--out", type=Path, help="run folder (default runs/<name>)")
    parser.add_argument("--resume", action="store_true", help="continue from DIR/checkpoint.pt")
    parser.add_argument("--steps", type=int, help="override the config's steps")


def run(args: argparse.Namespace, fail) -> int:
    try:
        import torch  # noqa: F401
    except ImportError:
        fail("training needs torch: pip install -e '.[train]'")
    from dataclasses import replace

    from nightowl.training.config import load_config
    from nightowl.training.train import train

    try:
        config = load_config(args.config)
    except ValueError as error:
        fail(str(error))
    if args.steps is not None:
        if args.steps < 1:
            fail(f"--steps must be >= 1; got {args.steps}")
        config = replace(config, steps=args.steps)
    out = args.out or Path("runs") / config.name
    figures = train(config, out, resume=args.resume)
    if figures:
        print(json.dumps(figures), file=sys.stderr)
    return 0
