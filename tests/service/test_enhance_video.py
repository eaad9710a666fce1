"""``nightowl enhance`` through FFmpeg: an H.264 file in and out with its timestamps, and a
real RTSP server on 127.0.0.1 (GStreamer's, tests/service/rtsp_server.py) that serves a clip,
goes away mid-stream and comes back, or goes for good."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from nightowl.service.cli import main
from tests.serving import sequence

SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's python3-gi and GStreamer bindings live there
RATE = 15
FRAMES = 48  # 3.2 s at 15 fps
NIGHTOWL = [sys.executable, "-m", "nightowl.service.cli", "enhance"]


def _has_rtsp_server() -> bool:
    probe = ("import gi; gi.require_version('GstRtspServer', '1.0'); "
             "from gi.repository import GstRtspServer")
    return Path(SYSTEM_PYTHON).exists() and subprocess.run(
        [SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0


needs_rtsp = pytest.mark.skipif(not _has_rtsp_server(), reason="GStreamer's RTSP server is not "
                                "installed (.ci/debian-packages installs it)")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """An H.264 .mp4 of generator frames (160x120, 15 fps, no B-frames, as cameras send)."""
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", 7, (160, 120))


def write_clip(path: Path, seed: int, size: tuple[int, int]) -> Path:
    """``path``: 48 dark generator frames of ``size`` (width, height) and data set ``seed``,
    six sequences there and back, as H.264 at RATE fps with no B-frames, as cameras send."""
    low = np.concatenate([sequence(seed, i, size) for i in range(6)])
    frames = np.concatenate([low, low[::-1]])
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=RATE, options={"g": "8", "bframes": "0"})
        stream.width, stream.height, stream.pix_fmt = *size, "yuv420p"
        for t, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, format="rgb24")
            picture.pts = t
            out.mux(stream.encode(picture))
        out.mux(stream.encode(None))
    return path


def probe(path: Path) -> tuple[str, Fraction, list[float]]:
    """(codec, frame rate, each frame's time in seconds) of a video file, by PyAV."""
    with av.open(str(path)) as video:
        stream = video.streams.video[0]
        times = [float(f.pts * f.time_base) for f in video.decode(stream)]
        return stream.codec_context.name, stream.average_rate, times


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(clip: Path, port: int, *options: str) -> subprocess.Popen:
    server = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), str(clip), str(port), *options],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    return server


def stop(server: subprocess.Popen) -> None:
    server.kill()
    server.wait(10)
    server.stdout.close()


def enhance(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*NIGHTOWL, *args], capture_output=True, text=True, timeout=timeout)


def test_file_to_h264_keeps_rate_and_timestamps(clip, tmp_path):
    out = tmp_path / "out.mp4"
    assert main(["enhance", str(clip), "--out", str(out), "--side-by-side",
                 str(tmp_path / "both.mkv")]) == 0
    _, _, source_times = probe(clip)
    codec, rate, times = probe(out)
    assert codec == "h264" and rate == RATE and len(times) == FRAMES
    assert times == pytest.approx(source_times, abs=1e-3)
    codec, _, both = probe(tmp_path / "both.mkv")
    assert codec == "h264" and both == pytest.approx(source_times, abs=1e-3)
    with av.open(str(tmp_path / "both.mkv")) as video:
        assert next(video.decode(video=0)).width == 320


def test_text_file_and_unknown_suffix_fail_in_one_line(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n")
    with pytest.raises(SystemExit) as caught:
        main(["enhance", str(text), "--out", str(tmp_path / "out.mp4")])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1 and "not a video" in err, err
    with pytest.raises(SystemExit):
        main(["enhance", str(text), "--out", str(tmp_path / "out.webm")])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out.webm: write a folder or a video" in err, err


def test_closed_port_fails_fast_in_one_line(tmp_path, capsys):
    started = time.monotonic()
    with pytest.raises(SystemExit) as caught:
        main(["enhance", f"rtsp://127.0.0.1:{free_port()}/clip", "--out",
              str(tmp_path / "out.mp4")])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1, err
    assert "connection refused" in err.lower() and time.monotonic() - started < 5


@pytest.mark.slow
@needs_rtsp
def test_rtsp_stream_to_h264(clip, tmp_path):
    port = free_port()
    server = serve(clip, port)
    try:
        done = enhance(f"rtsp://127.0.0.1:{port}/clip", "--out", str(tmp_path / "out.mp4"))
    finally:
        stop(server)
    assert done.returncode == 0, done.stderr
    codec, rate, times = probe(tmp_path / "out.mp4")
    # over TCP nothing is lost; the server may drop at most the one frame it had not sent
    # the rate is the mean of the 90 kHz RTP timestamps (6000, 11999, ...): 15 within 1e-4
    assert codec == "h264" and float(rate) == pytest.approx(RATE, rel=1e-4)
    assert FRAMES - 1 <= len(times) <= FRAMES
    assert np.diff(times) == pytest.approx(1 / RATE, abs=2e-3)


def through_camera_restart(clip: Path, port: int, command: list[str]) -> tuple[int, str]:
    """Run ``command`` against an RTSP camera on ``port`` that stops 1.5 s into ``clip`` and
    is then replaced by a new one: (its exit status, its stderr)."""
    first = serve(clip, port, "--stop-after", "1.5")
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               text=True)
    first.wait(30)
    second = serve(clip, port)
    try:
        _, err = process.communicate(timeout=120)
    finally:
        stop(first)
        stop(second)
    return process.returncode, err


@pytest.mark.slow
@needs_rtsp
def test_rtsp_reconnects_and_keeps_writing(clip, tmp_path):
    """The server stops 1.5 s into the clip (about 22 of its 48 frames sent) and a new one
    starts on the port: the output holds the first part and the whole second one."""
    port = free_port()
    returncode, err = through_camera_restart(
        clip, port, [*NIGHTOWL, f"rtsp://127.0.0.1:{port}/clip", "--out",
                     str(tmp_path / "out.mp4"), "--reconnect-delay", "0.5"])
    assert returncode == 0, err
    assert "reconnecting in 0.5 s (attempt 1 of 5)" in err
    _, _, times = probe(tmp_path / "out.mp4")
    assert FRAMES + 10 <= len(times) <= FRAMES + 30, len(times)
    assert np.all(np.diff(times) > 0) and np.diff(times) == pytest.approx(1 / RATE, abs=2e-3)


@pytest.mark.slow
@needs_rtsp
def test_rtsp_gone_for_good_fails_after_bounded_reconnects(clip, tmp_path):
    port = free_port()
    server = serve(clip, port, "--stop-after", "1.0")
    done = enhance(f"rtsp://127.0.0.1:{port}/clip", "--out", str(tmp_path / "out.mp4"),
                   "--reconnects", "2", "--reconnect-delay", "0.2")
    stop(server)
    assert done.returncode == 2
    attempts = [line for line in done.stderr.splitlines() if "reconnecting in" in line]
    assert len(attempts) == 2 and "in 0.4 s (attempt 2 of 2)" in attempts[1], done.stderr
    (last,) = [line for line in done.stderr.splitlines() if "error:" in line]
    assert "gave up after 2 reconnection attempts" in last and "connection refused" in last
    written = int(last.split("wrote ")[1].split()[0])
    _, _, times = probe(tmp_path / "out.mp4")  # closed properly: playable up to the cut
    assert 5 <= written == len(times) < FRAMES


def test_silent_server_times_out_in_one_line(tmp_path, capsys):
    """A port that accepts but never answers (a hung camera): --timeout bounds the wait."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        with pytest.raises(SystemExit) as caught:
            main(["enhance", f"rtsp://127.0.0.1:{silent.getsockname()[1]}/clip", "--out",
                  str(tmp_path / "out.mp4"), "--timeout", "1"])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1, err
    assert "no answer within 1 s" in err and time.monotonic() - started < 4
