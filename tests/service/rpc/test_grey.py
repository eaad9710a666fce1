"""Raw and encoded grey frames over gRPC on a real server: answered grey."""

from __future__ import annotations

import cv2
import grpc
import numpy as np
import pytest

from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from tests.serving import running, sequence

OK, WARMING = pb.StreamResult.STATUS_OK, pb.StreamResult.STATUS_WARMING_UP


@pytest.fixture(scope="module")
def stub(engines):
    with running(engines) as server, grpc.insecure_channel(server.target) as channel:
        yield enhance_pb2_grpc.EnhancerStub(channel)


def grey_frames(seed: int) -> list[np.ndarray]:
    return [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY)
            for f in sequence(seed, 0)]


def raw(frame: np.ndarray) -> pb.Image:
    return pb.Image(grey8=frame.tobytes(), width=frame.shape[1], height=frame.shape[0])


def test_unary_raw_grey_in_raw_grey_out(stub):
    frames = grey_frames(21)
    reply = stub.Enhance(pb.EnhanceRequest(frames=[raw(f) for f in frames],
                                           format=pb.OUTPUT_FORMAT_GREY8), timeout=30)
    assert reply.image.WhichOneof("data") == "grey8" and reply.frames_used == 4
    height, width = frames[-1].shape
    assert (reply.image.width, reply.image.height) == (width, height)
    image = np.frombuffer(reply.image.grey8, np.uint8).reshape(height, width)
    assert image.mean() > 3 * frames[-1].mean()


def test_unary_grey_png_in_grey_png_out(stub):
    frames = grey_frames(22)
    request = pb.EnhanceRequest(frames=[pb.Image(encoded=cv2.imencode(".png", f)[1].tobytes())
                                        for f in frames])
    image = stub.Enhance(request, timeout=30).image
    decoded = cv2.imdecode(np.frombuffer(image.encoded, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.shape == frames[-1].shape and decoded.mean() > 3 * frames[-1].mean()


def test_raw_grey_asked_as_rgb8_comes_back_replicated(stub):
    frames = grey_frames(23)
    reply = stub.Enhance(pb.EnhanceRequest(frames=[raw(f) for f in frames],
                                           format=pb.OUTPUT_FORMAT_RGB8), timeout=30)
    rgb = np.frombuffer(reply.image.rgb8, np.uint8).reshape(*frames[-1].shape, 3)
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_unary_grey_and_colour_window_is_invalid_argument(stub):
    colour = sequence(24, 0)
    frames = [pb.Image(rgb8=f.tobytes(), width=f.shape[1], height=f.shape[0])
              for f in colour[:3]] + [raw(grey_frames(24)[3])]
    with pytest.raises(grpc.RpcError) as caught:
        stub.Enhance(pb.EnhanceRequest(frames=frames), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "grey or all colour" in caught.value.details()


def test_stream_camera_switching_to_grey_restarts_its_buffer(stub):
    colour, grey = sequence(25, 0), grey_frames(25)
    frames = [pb.StreamFrame(camera_id="dusk", sequence=t,
                             image=pb.Image(rgb8=colour[t].tobytes(), width=colour.shape[2],
                                            height=colour.shape[1]))
              for t in range(2)]
    frames += [pb.StreamFrame(camera_id="dusk", sequence=t, image=raw(grey[t]),
                              format=pb.OUTPUT_FORMAT_GREY8) for t in range(2, 4)]
    results = list(stub.Stream(iter(frames), timeout=60))
    assert [r.status for r in results] == [WARMING] * 4
    assert [r.frames_used for r in results] == [1, 2, 1, 2]
    assert "from colour to grey" in results[2].reason
    assert results[3].image.WhichOneof("data") == "grey8"
