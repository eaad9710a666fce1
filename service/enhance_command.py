"""``nightowl enhance``: enhance an image sequence or a video offline, with the server's pipeline.

Frames go through the same per-camera buffer (resets on a scene change or a new size), the same
alignment and the same engines, loaded from the same settings (``NIGHTOWL_*``; ``--model`` and
``--backend`` on top), as a camera streaming to ``nightowl serve``; the output keeps the input's
frame names (image sequences) or frame rate (videos).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

HELP = "enhance an image sequence or a video offline, with the server's pipeline"

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
VIDEO_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG", ".mov": "mp4v"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, help="a folder of PNG/JPEG frames (in name order) "
                        "or a video file OpenCV can read")
    parser.add_argument("--out", type=Path, required=True, help="output folder (PNG frames) or "
                        f"video file ({', '.join(sorted(VIDEO_CODECS))})")
    parser.add_argument("--side-by-side", type=Path, help="also write input | enhanced, as a "
                        "folder or video like --out (the input brightened by the gain used, "
                        "else 16)")
    parser.add_argument("--gain", type=float, help="the frames' darkening factor S (how many "
                        "times brighter the output should be than the input; default: "
                        "NIGHTOWL_GAIN, else estimated per frame by models trained on "
                        "exposure-normalised inputs; telling it is better)")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate of a video written "
                        "from an image sequence (default 25; videos keep their own)")
    parser.add_argument("--model", help="enhancer in models/ (default mim_l1_cr.onnx; env "
                        "NIGHTOWL_MODEL)")
    parser.add_argument("--backend", help="auto, onnxruntime-cpu, onnxruntime-cuda, "
                        "onnxruntime-tensorrt or tensorrt (default auto; env NIGHTOWL_BACKEND)")
    parser.epilog = ("The engines load as `nightowl serve` loads them, from NIGHTOWL_<NAME> "
                     "environment variables (models_dir, threads, cpu_precision, few_frames, "
                     "...; service/settings.py lists them); options given here win.")


def run(args: argparse.Namespace, fail) -> int:
    import numpy as np
    from tqdm import tqdm

    from nightowl.service.engines import EngineError
    from nightowl.service.engines.served import load_engines
    from nightowl.service.errors import ServiceError
    from nightowl.service.frames.exposure import check_gain, told_gain
    from nightowl.service.frames.pipeline import Pipeline
    from nightowl.service.serving.buffers import CameraBuffers
    from nightowl.service.settings import from_options

    if not args.input.exists():
        fail(f"input {args.input} does not exist")
    for path in (args.out, args.side_by_side):
        if path is not None and path.suffix and path.suffix.lower() not in VIDEO_CODECS:
            fail(f"{path}: write a folder or a video ({', '.join(sorted(VIDEO_CODECS))})")
    settings = from_options({"model": args.model, "backend": args.backend}, fail)
    try:
        told = told_gain(check_gain(args.gain, "--gain"), settings.gain)
    except ServiceError as error:
        fail(error.detail)
    try:
        engines = load_engines(settings)
    except EngineError as error:
        fail(f"cannot load the model: {error}")
    engine = engines["multi"]
    pipeline = Pipeline.for_engines(engines, few_frames=settings.few_frames)
    buffers = CameraBuffers(engine.frames, 1, float("inf"), settings.max_sequence_gap,
                            settings.scene_change)
    frames, count, fps = _read(args.input, fail)
    writers = [_Writer(p, fps or args.fps) for p in (args.out, args.side_by_side) if p]
    try:
        for name, frame in tqdm(frames, total=count, unit="frame", desc="enhancing"):
            if min(frame.shape[:2]) < pipeline.min_side:
                fail(f"{name}: frames must be at least {pipeline.min_side} px on each side")
            try:
                pushed = buffers.push("offline", frame)
            except ServiceError as error:
                fail(f"{name}: {error.detail}")
            estimate = (pushed.gain.push(frame) if told is None and pipeline.estimates
                        and pushed.gain is not None else None)
            prepared = pipeline.prepare(pushed.window, told, estimate)
            output = engines[prepared.model].run(prepared.input[None])[0]
            enhanced = pipeline.finish(output, prepared.dtype)
            writers[0].write(name, enhanced)
            if args.side_by_side:
                top = np.iinfo(frame.dtype).max
                lift = prepared.gain.value or 16.0
                bright = np.clip(frame.astype(np.float32) * lift, 0, top).astype(frame.dtype)
                writers[1].write(name, np.concatenate([bright, enhanced], axis=1))
    finally:
        for writer in writers:
            writer.close()
    print(f"wrote {args.out}" + (f" and {args.side_by_side}" if args.side_by_side else ""))
    return 0


def _read(path: Path, fail) -> tuple[Iterator, int, float | None]:
    """(name, RGB frame) pairs, their count, and the frame rate (None for image sequences)."""
    import cv2

    from nightowl.service.errors import ServiceError
    from nightowl.service.serving.images import decode

    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            fail(f"{path} holds no PNG or JPEG frames")

        def images():
            for file in files:
                try:
                    yield file.stem, decode(file.read_bytes(), 1 << 40, file.name)
                except ServiceError as error:
                    fail(error.detail)

        return images(), len(files), None
    video = cv2.VideoCapture(str(path))
    if not video.isOpened():
        fail(f"OpenCV cannot read {path} as a video")
    count, fps = int(video.get(cv2.CAP_PROP_FRAME_COUNT)), video.get(cv2.CAP_PROP_FPS)

    def frames():
        index = 0
        while True:
            ok, frame = video.read()
            if not ok:
                break
            yield f"{index:06d}", frame[..., ::-1].copy()
            index += 1
        video.release()

    return frames(), count, fps or None


class _Writer:
    """PNG frames into a folder, or a video file at ``fps``."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        self.fps = fps
        self.video = None
        if not path.suffix:
            path.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, image) -> None:
        import cv2

        from nightowl.service.serving.images import encode

        if not self.path.suffix:
            (self.path / f"{name}.png").write_bytes(encode(image))
            return
        if self.video is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            codec = cv2.VideoWriter.fourcc(*VIDEO_CODECS[self.path.suffix.lower()])
            size = (image.shape[1], image.shape[0])
            self.video = cv2.VideoWriter(str(self.path), codec, self.fps, size)
            if not self.video.isOpened():
                raise OSError(f"OpenCV cannot write {self.path} ({codec})")
        frame = image if image.dtype.itemsize == 1 else (image >> 8).astype("uint8")
        self.video.write(frame[..., ::-1].copy())

    def close(self) -> None:
        if self.video is not None:
            self.video.release()
