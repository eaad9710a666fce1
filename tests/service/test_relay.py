"""``nightowl relay`` against a real server on 127.0.0.1 (the shipped CPU engines): a 320x240
H.264 clip of generator frames read as a file and from a real RTSP server, through overload, a
server restart and a server gone for good."""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest

from nightowl.service.cli import main
from tests.service.test_enhance_video import (
    free_port,
    needs_rtsp,
    probe,
    serve,
    stop,
    through_camera_restart,
    write_clip,
)
from tests.serving import running

SIZE = (320, 240)
RATE = 15
FRAMES = 48  # 3.2 s at 15 fps
RELAY = [sys.executable, "-m", "nightowl.service.cli", "relay"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """An H.264 .mp4 of generator frames (320x240, 15 fps, no B-frames, as cameras send)."""
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", 11, SIZE)


def relay_args(source: str, target: str, out: Path, *options: str) -> list[str]:
    return [source, "--server", target, "--camera-id", "cam-1", "--out", str(out),
            "--metrics-json", str(out.with_suffix(".json")), *options]


def metrics(out: Path) -> dict:
    return json.loads(out.with_suffix(".json").read_text())


def check_accounting(found: dict, out: Path) -> None:
    """Every frame sent got exactly one result; the video holds exactly the written ones."""
    results = found["results"]
    assert found["sent"] == found["answered"] == sum(results.values()), found
    written = results["ok"] + results["warming_up"]
    if written:
        codec, _, times = probe(out)
        assert codec == "h264" and len(times) == written, (len(times), found)
        assert np.all(np.diff(times) > 0)
    latency = found["latency_ms"]
    assert all(math.isfinite(latency[p]) and latency[p] > 0 for p in ("p50", "p99")), latency
    assert latency["p50"] <= latency["p99"]


def test_file_every_frame_answered_and_written(engines, clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    with running(engines, api_keys=["relay-key"]) as server:
        assert main(["relay", *relay_args(str(clip), server.target, out, "--api-key",
                                          "relay-key")]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    with capsys.disabled():  # the README's figures: the relay's own line
        print(f"\n{SIZE[0]}x{SIZE[1]} at {RATE} fps, CPU engines: {summary}")
    found = metrics(out)
    assert found["read"] == found["sent"] == FRAMES and found["reconnects"] == 0, found
    assert found["results"]["ok"] >= FRAMES - 4 and found["results"]["lost"] == 0, found
    check_accounting(found, out)
    assert summary.startswith("relay: read 48 sent 48 answered 48") and "p99" in summary
    _, _, source_times = probe(clip)
    _, _, times = probe(out)
    assert times == pytest.approx(source_times, abs=1e-3)  # the source's timestamps kept


def test_overload_skips_are_counted_not_resent(engines, clip, tmp_path):
    out = tmp_path / "out.mp4"
    with running(engines, stream_queue_limit=1, queue_limit=1) as server:
        assert main(["relay", *relay_args(str(clip), server.target, out, "--no-pace",
                                          "--max-in-flight", "4")]) == 0
    found = metrics(out)
    assert found["sent"] == FRAMES and found["results"]["skipped"] > 0, found
    assert found["results"]["ok"] + found["results"]["warming_up"] > 0, found
    check_accounting(found, out)


def test_unreachable_server_fails_after_bounded_reconnects(clip, tmp_path, capsys):
    out = tmp_path / "out.mp4"
    with pytest.raises(SystemExit) as caught:
        main(["relay", *relay_args(str(clip), f"127.0.0.1:{free_port()}", out, "--reconnects",
                                   "2", "--reconnect-delay", "0.1")])
    err = capsys.readouterr().err
    attempts = [line for line in err.splitlines() if "new stream in" in line]
    (last,) = [line for line in err.splitlines() if "relay: error:" in line]
    assert caught.value.code == 2 and len(attempts) == 2, err
    assert "gave up after 2 reconnection attempts" in last and "UNAVAILABLE" in last, last
    found = metrics(out)
    assert found["read"] >= 1 and found["sent"] == found["answered"] == found["results"]["lost"]


def test_wrong_key_fails_at_once_in_one_line(engines, clip, tmp_path, capsys):
    with running(engines, api_keys=["relay-key"]) as server, pytest.raises(SystemExit) as caught:
        main(["relay", *relay_args(str(clip), server.target, tmp_path / "out.mp4", "--api-key",
                                   "wrong-key")])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1, err
    assert "refused the stream: UNAUTHENTICATED" in err, err


def test_bad_source_fails_in_one_line(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    with pytest.raises(SystemExit) as caught:
        main(["relay", str(text), "--server", "127.0.0.1:1", "--camera-id", "c", "--out",
              str(tmp_path / "out.mp4")])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1 and "not a video" in err, err


def start_relay(*args: str) -> subprocess.Popen:
    return subprocess.Popen([*RELAY, *args, "--report-every", "0.2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for_answers(relay: subprocess.Popen, count: int) -> int:
    """Read the relay's periodic summaries until one shows ``count`` frames answered."""
    for line in relay.stderr:
        if line.startswith("relay: ") and int(line.split(" answered ")[1].split()[0]) >= count:
            return int(line.split(" answered ")[1].split()[0])
    raise AssertionError(f"the relay ended first ({relay.wait()})")


@pytest.mark.slow
@needs_rtsp
def test_rtsp_camera_relayed(engines, clip, tmp_path, capsys):
    port = free_port()
    camera = serve(clip, port)
    out = tmp_path / "out.mp4"
    try:
        with running(engines) as server:
            assert main(["relay", *relay_args(f"rtsp://127.0.0.1:{port}/clip", server.target,
                                              out)]) == 0
    finally:
        stop(camera)
    found = metrics(out)
    # over TCP nothing is lost; the RTSP server may drop at most the one frame it had not sent
    assert FRAMES - 1 <= found["read"] == found["sent"] <= FRAMES, found
    check_accounting(found, out)


@pytest.mark.slow
def test_server_restart_mid_stream(engines, clip, tmp_path):
    out = tmp_path / "out.mp4"
    port = free_port()
    relay = None
    try:
        with running(engines, grpc_port=port):
            relay = start_relay(*relay_args(str(clip), f"127.0.0.1:{port}", out,
                                            "--reconnect-delay", "0.2"))
            before = wait_for_answers(relay, 5)
        with running(engines, grpc_port=port):
            _, err = relay.communicate(timeout=120)
    finally:
        with contextlib.suppress(Exception):
            relay.kill()
    assert relay.returncode == 0, err
    assert "new stream in 0.2 s (attempt 1 of 5)" in err, err
    found = metrics(out)
    assert found["reconnects"] >= 1 and found["read"] == FRAMES, found
    written = found["results"]["ok"] + found["results"]["warming_up"]
    # frames from both servers: more than those answered and in flight when the first stopped,
    # and a second warm-up (the camera's buffer restarted on the new stream)
    assert written >= before + 4 + 4 and found["results"]["warming_up"] > 3, (before, found)
    check_accounting(found, out)


@pytest.mark.slow
def test_server_gone_for_good_mid_stream(engines, clip, tmp_path):
    out = tmp_path / "out.mp4"
    with running(engines) as server:
        relay = start_relay(*relay_args(str(clip), server.target, out, "--reconnects", "2",
                                        "--reconnect-delay", "0.1"))
        wait_for_answers(relay, 5)
    _, err = relay.communicate(timeout=60)
    assert relay.returncode == 2, err
    (last,) = [line for line in err.splitlines() if "relay: error:" in line]
    assert "gave up after 2 reconnection attempts" in last, err
    found = metrics(out)
    written = int(last.split("wrote ")[1].split()[0])
    assert written == found["results"]["ok"] + found["results"]["warming_up"] >= 5, found
    check_accounting(found, out)  # the output closed properly: playable up to the cut


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """A gRPC server that takes the Stream's frames and never answers (a hung replica)."""
    def stream(requests, context):
        for _ in requests:
            pass
        return iter(())

    handler = grpc.method_handlers_generic_handler("nightowl.v1.Enhancer", {
        "Stream": grpc.stream_stream_rpc_method_handler(stream)})
    server = grpc.server(ThreadPoolExecutor(4), handlers=[handler])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(0).wait(5)


def test_silent_server_never_hangs_the_relay(clip, tmp_path, capsys):
    """Frames unanswered past --deadline are counted lost, the stream is replaced, and after
    the bounded reconnections the relay fails in one line."""
    out = tmp_path / "out.mp4"
    with silent_server() as target, pytest.raises(SystemExit) as caught:
        main(["relay", *relay_args(str(clip), target, out, "--no-pace", "--max-in-flight", "3",
                                   "--deadline", "0.3", "--reconnects", "1",
                                   "--reconnect-delay", "0.1")])
    (last,) = [line for line in capsys.readouterr().err.splitlines() if "relay: error:" in line]
    assert caught.value.code == 2 and "no answer within the 0.3 s frame deadline" in last, last
    found = metrics(out)
    assert found["sent"] == found["answered"] == found["results"]["lost"] == 6, found


@pytest.mark.slow
@needs_rtsp
def test_camera_reconnect_restarts_the_buffer(engines, clip, tmp_path):
    """The camera goes away 1.5 s in and a new one serves the clip: the source reconnects,
    the frames go on into the same output, and the sequence numbers jump so that the server's
    buffer restarts rather than align frames across the cut."""
    port = free_port()
    out = tmp_path / "out.mp4"
    with running(engines) as server:
        returncode, err = through_camera_restart(
            clip, port, [*RELAY, *relay_args(f"rtsp://127.0.0.1:{port}/clip", server.target,
                                             out)])
    assert returncode == 0, err
    assert "reconnecting in" in err, err
    found = metrics(out)
    assert found["read"] >= FRAMES + 10 and found["reconnects"] == 0, found
    assert found["results"]["warming_up"] > 3 and found["results"]["lost"] == 0, found
    check_accounting(found, out)
