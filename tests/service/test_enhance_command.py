"""``nightowl enhance`` on an image sequence and on a video: same pipeline as the server."""

from __future__ import annotations

import shutil

import cv2
import httpx
import numpy as np
import pytest

from nightowl.service.cli import main
from nightowl.service.modelrepo.files import DEFAULT_MODELS_DIR, MANIFEST
from nightowl.training.synth.degrade import eq6
from nightowl.training.synth.long_scenes import LongConfig, render_long
from nightowl.training.synth.scenes import SceneConfig
from tests.serving import png, running, sequence, unpng


@pytest.fixture(scope="module")
def frames():
    low = sequence(51, 0)
    return np.concatenate([low, low[::-1]])  # 8 frames, a vehicle going and coming back


def test_image_sequence_matches_the_server(engines, frames, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    for t, frame in enumerate(frames):
        (source / f"frame{t:03d}.png").write_bytes(png(frame))
    assert main(["enhance", str(source), "--out", str(tmp_path / "out"), "--side-by-side",
                 str(tmp_path / "compare")]) == 0
    written = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in written] == [f"frame{t:03d}.png" for t in range(8)]
    compare = unpng((tmp_path / "compare" / "frame005.png").read_bytes())
    assert compare.shape == (48, 128, 3)
    with running(engines) as server:
        for t, frame in enumerate(frames):
            reply = httpx.post(server.url + "/enhance", params={"camera_id": "offline"},
                               files=[("frames", ("f.png", png(frame), "image/png"))])
            assert np.array_equal(unpng(reply.content), unpng(written[t].read_bytes())), t


def test_memory_on_a_sequence_matches_the_server_with_memory(engines, tmp_path):
    clean = render_long(LongConfig(frames=10, scene=SceneConfig(width=64, height=48),
                                   gap=(10**6, 10**6), park=None, light_drift=0.0),
                        np.random.default_rng([78, 0])).clean
    street = eq6(clean, 20.0, 2.0, np.random.default_rng(0))
    source = tmp_path / "in"
    source.mkdir()
    for t, frame in enumerate(street):
        (source / f"frame{t:03d}.png").write_bytes(png(frame))
    for flag, out in (("--background-memory", "with"),
                      ("--no-background-memory", "without")):
        assert main(["enhance", str(source), "--out", str(tmp_path / out), flag]) == 0
    written = [unpng(p.read_bytes()) for p in sorted((tmp_path / "with").iterdir())]
    without = [unpng(p.read_bytes()) for p in sorted((tmp_path / "without").iterdir())]
    assert all(np.array_equal(a, b) for a, b in zip(written[:4], without[:4], strict=True))
    assert not np.array_equal(written[-1], without[-1])  # the memory is used once it knows more
    with running(engines, background_memory=True) as server:
        for t, frame in enumerate(street):
            reply = httpx.post(server.url + "/enhance", params={"camera_id": "offline"},
                               files=[("frames", ("f.png", png(frame), "image/png"))])
            assert np.array_equal(unpng(reply.content), written[t]), t


def test_grey_sequence_writes_grey_pngs_as_the_server_answers(engines, frames, tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    grey = [cv2.imencode(".png", cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY))[1]
            .tobytes() for f in frames[:4]]
    for t, data in enumerate(grey):
        (source / f"frame{t:03d}.png").write_bytes(data)
    assert main(["enhance", str(source), "--out", str(tmp_path / "out")]) == 0
    written = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
               for p in sorted((tmp_path / "out").iterdir())]
    dark = cv2.imdecode(np.frombuffer(grey[-1], np.uint8), cv2.IMREAD_UNCHANGED)
    assert written[-1].shape == dark.shape and written[-1].mean() > 3 * dark.mean()
    with running(engines) as server:
        for t, data in enumerate(grey):
            reply = httpx.post(server.url + "/enhance", params={"camera_id": "offline"},
                               files=[("frames", ("f.png", data, "image/png"))])
            answer = cv2.imdecode(np.frombuffer(reply.content, np.uint8), cv2.IMREAD_UNCHANGED)
            assert np.array_equal(answer, written[t]), t


def test_video_keeps_frame_count_and_rate(frames, tmp_path):
    source = tmp_path / "in.avi"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter.fourcc(*"MJPG"), 12.0, (64, 48))
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    assert main(["enhance", str(source), "--out", str(tmp_path / "out.avi")]) == 0
    video = cv2.VideoCapture(str(tmp_path / "out.avi"))
    assert video.get(cv2.CAP_PROP_FPS) == pytest.approx(12.0)
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == len(frames)
    ok, first = video.read()
    assert ok and first.shape == (48, 64, 3) and first.mean() > 3 * frames[0].mean()
    video.release()


def test_bad_input_fails_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["enhance", str(tmp_path / "missing"), "--out", str(tmp_path / "out")])
    assert caught.value.code == 2 and "does not exist" in capsys.readouterr().err


def test_models_dir_comes_from_the_settings(frames, tmp_path, monkeypatch, capsys):
    """NIGHTOWL_MODELS_DIR reaches the loader, as for ``nightowl serve``: a copy of models/ that
    lists the shipped models but lacks the served file fails, naming the copy's file (the
    shipped folder would have enhanced the frames)."""
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(DEFAULT_MODELS_DIR / MANIFEST, models / MANIFEST)
    source = tmp_path / "in"
    source.mkdir()
    (source / "frame000.png").write_bytes(png(frames[0]))
    monkeypatch.setenv("NIGHTOWL_MODELS_DIR", str(models))
    with pytest.raises(SystemExit) as caught:
        main(["enhance", str(source), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and "cannot load the model" in err
    assert f"model file {models / 'mim_l1_cr.onnx'} is missing" in err
    with pytest.raises(SystemExit):  # --model overrides the setting, in the same folder
        main(["enhance", str(source), "--out", str(tmp_path / "out"), "--model", "mim_l1.onnx"])
    assert f"model file {models / 'mim_l1.onnx'} is missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_bad_settings_fail_in_one_line(frames, tmp_path, monkeypatch, capsys):
    source = tmp_path / "in"
    source.mkdir()
    (source / "frame000.png").write_bytes(png(frames[0]))
    monkeypatch.setenv("NIGHTOWL_THREADS", "0")
    with pytest.raises(SystemExit) as caught:
        main(["enhance", str(source), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and err.count("\n") == 1
    assert "threads: Input should be greater than or equal to 1" in err
