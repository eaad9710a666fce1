"""The gain through both protocols against real servers on 127.0.0.1: checked, reported (told,
setting, estimated, unused), and applied to the network input of a model with a reference_gain.

The models with a reference_gain are the shipped files (sha256 unchanged) in a temporary models
folder whose manifest adds ``reference_gain`` to their model_config.
"""

from __future__ import annotations

import grpc
import httpx
import numpy as np
import pytest

from nightowl.service.engines import load_engine
from nightowl.service.frames.exposure import estimate_window_gain
from nightowl.service.frames.layout import input_scale, network_input
from nightowl.service.frames.pipeline import Pipeline, align
from nightowl.service.modelrepo.files import resolve
from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from tests.serving import normalised_models, png, running, sequence, unpng

REFERENCE_GAIN = 25.0
SERVED = ("mim_l1_cr.onnx", "sim_l1_cr.onnx")


def served_engines(models_dir) -> dict:
    return {key: load_engine(name, "onnxruntime-cpu", models_dir=models_dir, threads=1)
            for key, name in zip(("multi", "single"), SERVED, strict=True)}


@pytest.fixture(scope="module")
def normalised_dir(tmp_path_factory):
    return normalised_models(tmp_path_factory.mktemp("models"), SERVED, REFERENCE_GAIN)


@pytest.fixture(scope="module")
def captured_dir(tmp_path_factory):
    return normalised_models(tmp_path_factory.mktemp("captured"), SERVED, None)


@pytest.fixture(scope="module")
def normalised(normalised_dir):
    return served_engines(normalised_dir)


@pytest.fixture(scope="module")
def captured(captured_dir):
    """The served models as if trained on frames as captured (no reference_gain)."""
    return served_engines(captured_dir)


@pytest.fixture(scope="module")
def server(normalised):
    with running(normalised) as run:
        yield run


def post(server, frames, data=None, **kwargs):
    files = [("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(frames)]
    return httpx.post(server.url + "/enhance", files=files, data=data, timeout=30, **kwargs)


def scaled_by_hand(engines, frames: np.ndarray, gain: float) -> np.ndarray:
    """The engine run directly on the aligned frames scaled by gain / REFERENCE_GAIN."""
    aligned, _ = align(frames, Pipeline().alignment)
    batch = network_input(aligned, np.float32(gain / REFERENCE_GAIN / 255))[None]
    return Pipeline.finish(engines["multi"].run(batch)[0], np.uint8)


def test_model_file_exposes_reference_gain(normalised_dir, captured_dir, normalised, captured,
                                           engines):
    assert resolve(SERVED[0], normalised_dir).reference_gain == REFERENCE_GAIN
    assert resolve(SERVED[0], captured_dir).reference_gain is None
    assert normalised["multi"].reference_gain == REFERENCE_GAIN
    assert captured["multi"].reference_gain is None
    # the shipped release was trained on exposure-normalised frames, its int8 copy alike
    assert resolve(SERVED[0]).reference_gain == REFERENCE_GAIN
    assert engines["multi"].reference_gain == REFERENCE_GAIN


def test_told_gain_scales_the_input_as_training_does(server, normalised):
    frames = sequence(7, 0)
    reply = post(server, frames, data={"gain": "22"})
    assert reply.status_code == 200, reply.text
    assert (reply.headers["x-gain-used"], reply.headers["x-gain-source"]) == ("22", "request")
    told = unpng(reply.content)
    assert np.array_equal(told, scaled_by_hand(normalised, frames, 22.0))
    # the scale matters: the same frames told another gain give another image
    assert not np.array_equal(told, unpng(post(server, frames, params={"gain": 28}).content))


def test_no_gain_is_estimated_from_the_frames(server, normalised):
    frames = sequence(7, 1)
    reply = post(server, frames)
    estimate = estimate_window_gain(frames)  # a request without a camera: nothing to smooth
    assert reply.headers["x-gain-source"] == "estimated"
    assert float(reply.headers["x-gain-used"]) == pytest.approx(estimate, rel=1e-5)
    assert np.array_equal(unpng(reply.content), scaled_by_hand(normalised, frames, estimate))


def test_single_frame_and_sixteen_bit_are_scaled_too(normalised):
    pipeline = Pipeline(multi_reference_gain=REFERENCE_GAIN, single_reference_gain=REFERENCE_GAIN)
    frames = sequence(7, 2).astype(np.uint16) * 257
    told = pipeline.prepare(frames[-1:], told=None)
    assert told.model == "single" and told.gain.source == "estimated"
    expected = network_input(frames[-1:], input_scale(np.uint16, told.gain.value, REFERENCE_GAIN))
    assert np.array_equal(told.input, expected)


def test_setting_is_used_and_the_request_beats_it(normalised, captured):
    frames = sequence(7, 3)
    with running(normalised, gain=28.0) as server:
        reply = post(server, frames)
        assert (reply.headers["x-gain-used"], reply.headers["x-gain-source"]) == ("28", "setting")
        assert np.array_equal(unpng(reply.content), scaled_by_hand(normalised, frames, 28.0))
        reply = post(server, frames, data={"gain": "21.5"})
        assert (reply.headers["x-gain-used"], reply.headers["x-gain-source"]) == ("21.5",
                                                                                  "request")
    with running(captured, gain=28.0) as shipped:  # no reference_gain: reported, not applied
        reply = post(shipped, frames, data={"gain": "21"})
        assert (reply.headers["x-gain-used"], reply.headers["x-gain-source"]) == ("21", "unused")
        plain = post(shipped, frames, params={"gain": "29"})
        assert plain.content == reply.content


def test_no_gain_and_no_reference_gain_is_unused(captured):
    with running(captured) as shipped:
        reply = post(shipped, sequence(7, 4))
    assert reply.headers["x-gain-source"] == "unused" and "x-gain-used" not in reply.headers


@pytest.mark.parametrize("where", ["data", "params"])
@pytest.mark.parametrize("value", ["-1", "nan", "inf", "1001", "bright"])
def test_rest_refuses_bad_gains(server, where, value):
    reply = post(server, sequence(7, 0)[-1:], **{where: {"gain": value}})
    assert reply.status_code == 400, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    assert "gain must be" in reply.json()["detail"]


@pytest.fixture(scope="module")
def stub(server):
    with grpc.insecure_channel(server.target) as channel:
        yield enhance_pb2_grpc.EnhancerStub(channel)


def request(frames, **kwargs) -> pb.EnhanceRequest:
    return pb.EnhanceRequest(frames=[pb.Image(encoded=png(f)) for f in frames], **kwargs)


def test_grpc_reports_and_applies_the_gain(stub, server):
    frames = sequence(7, 0)
    told = stub.Enhance(request(frames, gain=22.0))
    assert (told.gain_used, told.gain_source) == (22.0, pb.GAIN_SOURCE_REQUEST)
    rest = post(server, frames, data={"gain": "22"})
    assert np.array_equal(unpng(told.image.encoded), unpng(rest.content))
    estimated = stub.Enhance(request(frames, gain=0.0))  # 0: not told
    assert estimated.gain_source == pb.GAIN_SOURCE_ESTIMATED
    assert estimated.gain_used == pytest.approx(estimate_window_gain(frames))


@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf"), 1e6])
def test_grpc_refuses_bad_gains(stub, value):
    with pytest.raises(grpc.RpcError) as caught:
        stub.Enhance(request(sequence(7, 0)[-1:], gain=value))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "EnhanceRequest.gain must be" in caught.value.details()


def test_grpc_stream_reports_per_frame_and_refuses_bad_gains(stub):
    frames = sequence(7, 5)
    messages = [pb.StreamFrame(camera_id="gain-cam", sequence=t, gain=gain,
                               image=pb.Image(encoded=png(frame)))
                for t, (frame, gain) in enumerate(zip(frames, (24.0, -2.0, 0.0, 26.0),
                                                      strict=True))]
    results = list(stub.Stream(iter(messages)))
    assert [r.status for r in results] == [pb.StreamResult.STATUS_WARMING_UP,
                                           pb.StreamResult.STATUS_ERROR,
                                           pb.StreamResult.STATUS_WARMING_UP,
                                           pb.StreamResult.STATUS_WARMING_UP]
    assert (results[0].gain_used, results[0].gain_source) == (24.0, pb.GAIN_SOURCE_REQUEST)
    assert results[1].reason.startswith("INVALID_ARGUMENT: StreamFrame.gain must be")
    assert results[2].gain_source == pb.GAIN_SOURCE_ESTIMATED
    assert (results[3].gain_used, results[3].gain_source) == (26.0, pb.GAIN_SOURCE_REQUEST)


def test_enhance_command_tells_the_gain(normalised_dir, normalised, tmp_path, capsys,
                                       monkeypatch):
    from nightowl.service.cli import main

    monkeypatch.setenv("NIGHTOWL_SCENE_CHANGE", "10")  # 64x48: see serving.service_settings
    frames = sequence(7, 6)
    source = tmp_path / "in"
    source.mkdir()
    for t, frame in enumerate(frames):
        (source / f"{t}.png").write_bytes(png(frame))
    model = str(normalised_dir / SERVED[0])
    assert main(["enhance", str(source), "--out", str(tmp_path / "out"), "--model", model,
                 "--gain", "22"]) == 0
    fourth = unpng((tmp_path / "out" / "3.png").read_bytes())  # a full window of 4 frames
    assert np.array_equal(fourth, scaled_by_hand(normalised, frames, 22.0))
    with pytest.raises(SystemExit) as caught:
        main(["enhance", str(source), "--out", str(tmp_path / "bad"), "--gain", "-1"])
    assert caught.value.code == 2 and "--gain must be" in capsys.readouterr().err
