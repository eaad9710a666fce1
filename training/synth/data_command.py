"""``nightowl data``: write synthetic low-light sequences to disk, or a preview sheet.

Heavy imports happen inside :func:`run`, so that ``nightowl --help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

HELP = "render synthetic low-light traffic sequences, or a preview sheet of them"

MAX_SIDE = 8192  # px


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, help="folder to write sequences into "
                        "(one sub-folder per sequence)")
    parser.add_argument("--count", type=int, default=100, help="sequences to write (default 100)")
    parser.add_argument("--size", default="256x256", help="frame size WxH in px (default 256x256)")
    parser.add_argument("--seed", type=int, default=0, help="data set seed (default 0); the same "
                        "seed gives the same bytes")
    parser.add_argument("--start", type=int, default=0, help="index of the first sequence "
                        "(default 0), to extend a data set")
    parser.add_argument("--frames", type=int, default=4, help="frames per sequence T (default 4)")
    parser.add_argument("--noise", choices=("eq6", "extended", "sensor", "mixture"),
                        default="eq6", help="low-light model: the paper's Eq. 6 (default), the "
                        "extended camera model, the raw sensor model, or the training mixture "
                        "of the three")
    parser.add_argument("--photos", type=float, default=0.0, metavar="P",
                        help="fraction of sequences whose static scene is a relit photograph, "
                        "with photo-textured vehicles and 0-3 moving photo patches (default 0: "
                        "rendered streets only; needs the Debian wallpaper packages)")
    parser.add_argument("--photo-split", choices=("train", "val", "test"), default="train",
                        help="which photographs (default train)")
    parser.add_argument("--sigma", type=float, default=2.0, help="Eq. 6 noise std in 8-bit levels "
                        "of the dark image (default 2.0)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--preview", type=Path, metavar="PNG", help="write a contact sheet of "
                        "a few sequences to this PNG file")
    parser.add_argument("--preview-count", type=int, default=4, help="rows in the preview "
                        "(default 4)")


def run(args: argparse.Namespace, fail) -> int:
    """Validate everything first, then write; ``fail(message)`` exits with a one-line reason."""
    width, height = _parse_size(args.size, fail)
    _check_ranges(args, fail)
    if args.out is None and args.preview is None:
        fail("nothing to do: give --out DIR, --preview PNG, or both")
    if args.out is not None:
        _check_writable_dir(args.out, fail)
    if args.preview is not None:
        _check_writable_file(args.preview, fail)

    from nightowl.training.synth.degrade import NoiseConfig
    from nightowl.training.synth.samples import SampleConfig
    from nightowl.training.synth.scenes import SceneConfig

    scene = SceneConfig(width=width, height=height, frames=args.frames)
    if args.photos > 0:
        from dataclasses import replace

        from nightowl.training.synth.photos import PhotosUnavailableError, photos_of

        try:
            photos_of(args.photo_split)
        except PhotosUnavailableError as error:
            fail(str(error))
        scene = replace(scene, photo_backgrounds=args.photos, textured_vehicles=args.photos,
                        photo_patches=(0, 3), photo_split=args.photo_split)
    config = SampleConfig(scene=scene, noise=NoiseConfig(model=args.noise, sigma=args.sigma))
    if args.preview is not None:
        _write_preview(config, args)
    if args.out is not None:
        _write_dataset(config, args)
    return 0


def _parse_size(text: str, fail) -> tuple[int, int]:
    parts = text.lower().split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        fail(f"--size must be WxH in pixels, e.g. 256x256; got {text!r}")
    if not (16 <= width <= MAX_SIDE and 16 <= height <= MAX_SIDE):
        fail(f"--size sides must be between 16 and {MAX_SIDE} px; got {text!r}")
    return width, height


def _check_ranges(args: argparse.Namespace, fail) -> None:
    checks = [(args.count >= 1, f"--count must be >= 1; got {args.count}"),
              (args.seed >= 0, f"--seed must be >= 0; got {args.seed}"),
              (args.start >= 0, f"--start must be >= 0; got {args.start}"),
              (args.frames >= 1, f"--frames must be >= 1; got {args.frames}"),
              (args.sigma >= 0, f"--sigma must be >= 0; got {args.sigma}"),
              (args.jobs >= 1, f"--jobs must be >= 1; got {args.jobs}"),
              (0 <= args.photos <= 1, f"--photos is a fraction in [0, 1]; got {args.photos}"),
              (args.preview_count >= 1, f"--preview-count must be >= 1; got {args.preview_count}")]
    for ok, message in checks:
        if not ok:
            fail(message)


def _check_writable_dir(folder: Path, fail) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        fail(f"cannot write to --out {folder}: {error.strerror or error}")


def _check_writable_file(path: Path, fail) -> None:
    if path.suffix.lower() != ".png":
        fail(f"--preview must name a .png file; got {path}")
    _check_writable_dir(path.parent if str(path.parent) else Path("."), fail)


def _write_preview(config, args: argparse.Namespace) -> None:
    import cv2

    from nightowl.training.synth.preview import contact_sheet
    from nightowl.training.synth.samples import make_sample

    samples = [make_sample(config, args.seed, args.start + i) for i in range(args.preview_count)]
    sheet = contact_sheet(samples)
    if not cv2.imwrite(str(args.preview), sheet[..., ::-1]):
        raise OSError(f"could not write {args.preview}")
    print(f"wrote {args.preview} ({sheet.shape[1]}x{sheet.shape[0]} px, "
          f"{len(samples)} sequences)", file=sys.stderr)


def _write_dataset(config, args: argparse.Namespace) -> None:
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    indices = range(args.start, args.start + args.count)
    _write_manifest(config, args)
    progress = tqdm(total=args.count, unit="seq", desc="nightowl data", disable=None)
    with progress:
        if args.jobs == 1:
            for index in indices:
                _render_and_write(config, args.seed, index, args.out)
                progress.update()
        else:
            with ProcessPoolExecutor(args.jobs) as pool:
                jobs = [pool.submit(_render_and_write, config, args.seed, i, args.out)
                        for i in indices]
                for job in jobs:
                    job.result()
                    progress.update()
    print(f"wrote {args.count} sequences to {args.out}", file=sys.stderr)


def _render_and_write(config, seed: int, index: int, out: Path) -> None:
    from nightowl.training.synth.sample_files import write_sample
    from nightowl.training.synth.samples import make_sample

    write_sample(out, make_sample(config, seed, index))


def _write_manifest(config, args: argparse.Namespace) -> None:
    from dataclasses import asdict

    from nightowl import training

    manifest = {"generator": f"nightowl {training.__version__}", "seed": args.seed,
                "start": args.start, "count": args.count, "config": asdict(config)}
    path = args.out / "dataset.json"
    staging = path.with_suffix(".json.partial")
    staging.write_text(json.dumps(manifest, indent=1))
    staging.replace(path)
