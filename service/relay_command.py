"""``nightowl relay``: one live camera (or a file replayed as one) into a running server over
the gRPC ``Stream``, and the enhanced frames out into an H.264 file at the camera's timestamps.

One camera per process: a camera whose source or stream fails takes nothing else down, and its
counts are its own; several cameras are several processes (a supervisor restarts each alone).
Frames go as raw RGB8 both ways: on the CPU a PNG encode and decode costs milliseconds per frame
on each side, and the relay sits next to the camera or the server, where bytes are cheap.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from nightowl.service.video.sink import SUFFIXES as VIDEO_SUFFIXES

HELP = "send one camera's frames to a running server over gRPC and write the enhanced video"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="the camera: anything FFmpeg opens (rtsp://, "
                        "http(s)://, ...), or a video file, replayed at its own rate")
    parser.add_argument("--server", required=True, help="HOST:PORT of the gRPC server")
    parser.add_argument("--camera-id", required=True, help="the camera's id on the server (1 to "
                        "128 printable characters)")
    parser.add_argument("--out", type=Path, required=True, help="H.264 video of the enhanced "
                        f"frames ({', '.join(VIDEO_SUFFIXES)}), at the source's timestamps")
    parser.add_argument("--api-key", help="sent as metadata 'authorization: Bearer KEY'")
    parser.add_argument("--tls", action="store_true", help="TLS to the server (default off)")
    parser.add_argument("--tls-ca", help="PEM root certificates for --tls (default: the "
                        "system's)")
    parser.add_argument("--gain", type=float, help="the frames' darkening factor S (default: "
                        "the server's setting, else its estimate)")
    parser.add_argument("--max-in-flight", type=int, default=4, help="frames sent and not yet "
                        "answered, at most; the relay waits for an answer rather than pile up "
                        "(default 4)")
    parser.add_argument("--deadline", type=float, default=10.0, help="seconds a frame may wait "
                        "for its answer; past it the stream is dropped and a new one opened, its "
                        "unanswered frames counted lost (default 10)")
    parser.add_argument("--reconnects", type=int, default=5, help="new streams tried after the "
                        "server is lost, before giving up (default 5; an answer resets the "
                        "count)")
    parser.add_argument("--reconnect-delay", type=float, default=0.5, help="seconds before the "
                        "first new stream; doubled before each next one (default 0.5)")
    parser.add_argument("--no-pace", action="store_true", help="send a file's frames as fast "
                        "as the server answers them, not at the file's rate (latency then "
                        "counts from each frame's read)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the "
                        "source to open, and then for each read (default 10)")
    parser.add_argument("--source-reconnects", type=int, default=5, help="times a network "
                        "source that stops is reopened (default 5)")
    parser.add_argument("--report-every", type=float, help="also print the summary line every "
                        "S seconds (stderr)")
    parser.add_argument("--metrics-json", type=Path, help="write the final counts and latency "
                        "percentiles to this JSON file")
    parser.epilog = ("Every frame sent gets exactly one result: ok or warming_up (written), "
                     "skipped or error (the server's answer, counted, not resent), or lost (its "
                     "stream broke or its deadline passed). The summary line gives frames read "
                     "and sent, results by status, reconnections and the latency from capture "
                     "time to enhanced frame written, p50 and p99.")


def run(args: argparse.Namespace, fail) -> int:
    from nightowl.service.relay import RelayError
    from nightowl.service.relay.clock import CaptureClock
    from nightowl.service.relay.relay import Relay, RelayOptions
    from nightowl.service.relay.report import Report
    from nightowl.service.video import VideoError
    from nightowl.service.video.sink import H264Writer
    from nightowl.service.video.source import Source, SourceOptions

    _check(args, fail)
    try:
        source = Source(args.source, SourceOptions(args.timeout, args.source_reconnects))
        writer = H264Writer(args.out, source.time_base, source.rate)
    except VideoError as error:
        fail(str(error))
    options = RelayOptions(args.server, args.camera_id, args.api_key, args.tls, args.tls_ca,
                           args.max_in_flight, args.deadline, args.reconnects,
                           args.reconnect_delay, args.gain)
    report = Report()
    relay = Relay(options, writer, report)
    mode = "live" if source.network else "asap" if args.no_pace else "replay"
    clock = CaptureClock(source.time_base, mode)
    stopped = None
    try:
        relay.run(source.frames(), clock, _ticker(report, args.report_every))
    except (VideoError, RelayError) as error:
        stopped = str(error)
    except KeyboardInterrupt:
        stopped = "interrupted"
    finally:
        writer.close()
        source.close()
    print(report.summary(), flush=True)
    if args.metrics_json is not None:
        args.metrics_json.write_text(json.dumps(_finite(report.as_dict()), indent=2) + "\n")
    if stopped is not None:
        fail(f"{stopped}; wrote {writer.written} frames to {args.out}")
    return 0


def _check(args: argparse.Namespace, fail) -> None:
    if "://" not in args.source and not Path(args.source).exists():
        fail(f"source {args.source} does not exist")
    if args.out.suffix.lower() not in VIDEO_SUFFIXES:
        fail(f"{args.out}: write a video ({', '.join(VIDEO_SUFFIXES)})")
    if not 1 <= len(args.camera_id) <= 128 or not args.camera_id.isprintable():
        fail("--camera-id must be 1 to 128 printable characters")
    if ":" not in args.server:
        fail(f"--server {args.server}: give HOST:PORT")
    for name in ("max_in_flight", "deadline", "reconnect_delay"):
        if getattr(args, name) <= 0:
            fail(f"--{name.replace('_', '-')} must be > 0")
    if args.reconnects < 0:
        fail("--reconnects must be >= 0")


def _ticker(report, every: float | None):
    """The periodic summary on stderr, called after each frame."""
    last = [time.monotonic()]

    def tick() -> None:
        if every and time.monotonic() - last[0] >= every:
            last[0] = time.monotonic()
            print(report.summary(), file=sys.stderr, flush=True)
    return tick


def _finite(value):
    """NaN (no frame written yet) as JSON null."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return None if isinstance(value, float) and math.isnan(value) else value
