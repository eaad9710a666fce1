"""``nightowl enhance``: enhance an image sequence, a video file or a live stream, with the
server's pipeline.

Frames go through the same per-camera buffer (resets on a scene change or a new size), the same
background memory when it is on (``--background-memory`` or NIGHTOWL_BACKGROUND_MEMORY), the same
alignment and the
same engines, loaded from the same settings (``NIGHTOWL_*``; ``--model`` and
``--backend`` on top), as a camera streaming to ``nightowl serve``. Videos and streams come in
through FFmpeg (``nightowl.service.video``) and go out as H.264 with the input's timestamps;
image sequences keep their frame names, and grey frames stay grey (``frames.mono``: replicated
to RGB for the network, the luma of its answer written; a video gets the grey on three
channels).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from nightowl.service.video.sink import SUFFIXES as VIDEO_SUFFIXES

HELP = "enhance an image sequence, a video or a live stream offline, with the server's pipeline"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="a folder of PNG/JPEG frames (in name order), a video "
                        "file, or a stream URL: anything FFmpeg opens (rtsp://, http(s)://, ...)")
    parser.add_argument("--out", type=Path, required=True, help="output folder (PNG frames) or "
                        f"H.264 video ({', '.join(VIDEO_SUFFIXES)}; libx264, the input's "
                        "timestamps; .avi: its mean frame rate)")
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
    parser.add_argument("--background-memory", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="keep the camera's background memory (what does not move, over "
                        "hundreds of frames) and use it where it is trusted (default: "
                        "NIGHTOWL_BACKGROUND_MEMORY, else off)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an "
                        "input to open, and then for each read (default 10)")
    parser.add_argument("--reconnects", type=int, default=5, help="times a stream that stops "
                        "is reopened before giving up (default 5; each decoded frame resets "
                        "the count; files are never reopened)")
    parser.add_argument("--reconnect-delay", type=float, default=1.0, help="seconds before the "
                        "first reconnection; doubled before each next one (default 1)")
    parser.add_argument("--rtsp-transport", choices=("tcp", "udp"), default="tcp",
                        help="RTP of rtsp:// inside the RTSP connection (tcp, default: no loss) "
                        "or on its own UDP ports")
    parser.epilog = ("The engines load as `nightowl serve` loads them, from NIGHTOWL_<NAME> "
                     "environment variables (models_dir, threads, cpu_precision, few_frames, "
                     "...; service/settings.py lists them); options given here win. A stream "
                     "that stops is reopened with exponential backoff, each attempt one line on "
                     "stderr, its frames continuing the same output in a new buffer; when the "
                     "attempts run out the output is closed, playable, and the command fails "
                     "saying how many frames it wrote.")


def run(args: argparse.Namespace, fail) -> int:
    import numpy as np
    from tqdm import tqdm

    from nightowl.service.engines import EngineError
    from nightowl.service.engines.served import load_engines
    from nightowl.service.errors import ServiceError
    from nightowl.service.frames.exposure import check_gain, told_gain
    from nightowl.service.frames.mono import luma, replicate
    from nightowl.service.frames.pipeline import Pipeline
    from nightowl.service.serving.buffers import CameraBuffers, background_config
    from nightowl.service.settings import from_options
    from nightowl.service.video import VideoError

    if "://" not in args.input and not Path(args.input).exists():
        fail(f"input {args.input} does not exist")
    for path in (args.out, args.side_by_side):
        if path is not None and path.suffix and path.suffix.lower() not in VIDEO_SUFFIXES:
            fail(f"{path}: write a folder or a video ({', '.join(VIDEO_SUFFIXES)})")
    settings = from_options({"model": args.model, "backend": args.backend,
                             "background_memory": args.background_memory}, fail)
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
    try:
        frames, count, time_base, rate = _read(args, fail)
    except VideoError as error:
        fail(str(error))
    writers = [_Writer(p, time_base, rate) for p in (args.out, args.side_by_side) if p]
    segment, written, stopped = None, 0, None
    try:
        for name, frame, pts, part in tqdm(frames, total=count, unit="frame", desc="enhancing"):
            if part != segment:  # a new connection: the camera's buffer restarts
                segment = part
                buffers = CameraBuffers(engine.frames, 1, float("inf"),
                                        settings.max_sequence_gap, settings.scene_change,
                                        background=background_config(
                                            settings.background_memory,
                                            settings.background_memory_frames,
                                            settings.background_join_frames, engine.frames))
            if min(frame.shape[:2]) < pipeline.min_side:
                fail(f"{name}: frames must be at least {pipeline.min_side} px on each side")
            grey = frame.ndim == 2
            rgb = replicate(frame) if grey else frame
            try:
                pushed = buffers.push("offline", rgb, grey=grey)
            except ServiceError as error:
                fail(f"{name}: {error.detail}")
            estimate = (pushed.gain.push(rgb) if told is None and pipeline.estimates
                        and pushed.gain is not None else None)
            memory = pushed.background
            prepared = pipeline.prepare(pushed.window, told, estimate, memory is not None)
            if memory is not None:
                prepared = pipeline.remember(prepared, memory, rgb)
            output = engines[prepared.model].run(prepared.input[None])[0]
            if memory is not None:
                output = pipeline.blend(output, prepared, memory.calibration)
            enhanced = pipeline.finish(output, prepared.dtype)
            enhanced = luma(enhanced) if grey else enhanced
            writers[0].write(name, enhanced, pts)
            if args.side_by_side:
                top = np.iinfo(frame.dtype).max
                lift = prepared.gain.value or 16.0
                bright = np.clip(frame.astype(np.float32) * lift, 0, top).astype(frame.dtype)
                writers[1].write(name, np.concatenate([bright, enhanced], axis=1), pts)
            written += 1
    except VideoError as error:
        stopped = error
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        for writer in writers:
            writer.close()
    if stopped is not None:
        fail(f"{stopped}; wrote {written} frames to {args.out}")
    print(f"wrote {written} frames to {args.out}"
          + (f" and {args.side_by_side}" if args.side_by_side else ""))
    return 0


def _read(args: argparse.Namespace, fail) -> tuple[Iterator, int | None, Fraction, Fraction]:
    """(name, RGB or grey frame, pts, segment) tuples, their count (None: unknown), the time base of
    the pts and the frame rate."""
    from nightowl.service.errors import ServiceError
    from nightowl.service.serving.images import decode
    from nightowl.service.video.source import Source, SourceOptions

    path = Path(args.input)
    if "://" not in args.input and path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            fail(f"{path} holds no PNG or JPEG frames")

        def images():
            for index, file in enumerate(files):
                try:
                    yield file.stem, decode(file.read_bytes(), 1 << 40, file.name), index, 0
                except ServiceError as error:
                    fail(error.detail)

        rate = Fraction(args.fps).limit_denominator(1001)
        return images(), len(files), 1 / rate, rate
    options = SourceOptions(args.timeout, args.reconnects, args.reconnect_delay,
                            args.rtsp_transport)
    source = Source(args.input, options)
    frames = ((f"{i:06d}", f.image, f.pts, f.segment) for i, f in enumerate(source.frames()))
    return frames, source.count, source.time_base, source.rate


class _Writer:
    """PNG frames into a folder, or an H.264 video file."""

    def __init__(self, path: Path, time_base: Fraction, rate: Fraction) -> None:
        from nightowl.service.video.sink import H264Writer

        self.path = path
        self.video = H264Writer(path, time_base, rate) if path.suffix else None
        if self.video is None:
            path.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, image, pts: int) -> None:
        """Write (H, W, 3) RGB or (H, W) grey: a grey PNG, or grey on three channels in video."""
        import numpy as np

        from nightowl.service.frames.mono import replicate
        from nightowl.service.serving.images import encode

        if self.video is None:
            (self.path / f"{name}.png").write_bytes(encode(image))
        else:
            self.video.write(image if image.ndim == 3 else np.ascontiguousarray(replicate(image)),
                             pts)

    def close(self) -> None:
        if self.video is not None:
            self.video.close()
