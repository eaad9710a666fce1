"""gRPC against a real grpc.aio server on 127.0.0.1: unary Enhance, Stream, health, reflection
(v1 and v1alpha)."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from tests.serving import png, reflect, running, sequence, unpng

OK, WARMING, SKIPPED, ERROR = (pb.StreamResult.STATUS_OK, pb.StreamResult.STATUS_WARMING_UP,
                               pb.StreamResult.STATUS_SKIPPED, pb.StreamResult.STATUS_ERROR)


@pytest.fixture(scope="module")
def server(engines):
    with running(engines) as run:
        yield run


@pytest.fixture(scope="module")
def channel(server):
    limit = [("grpc.max_receive_message_length", 64 << 20),
             ("grpc.max_send_message_length", 64 << 20)]
    with grpc.insecure_channel(server.target, options=limit) as channel:
        yield channel


@pytest.fixture(scope="module")
def stub(channel):
    return enhance_pb2_grpc.EnhancerStub(channel)


def image(frame: np.ndarray, raw: bool = False) -> pb.Image:
    if raw:
        return pb.Image(rgb8=frame.tobytes(), width=frame.shape[1], height=frame.shape[0])
    return pb.Image(encoded=png(frame))


def frame_message(camera: str, sequence: int, frame: np.ndarray, **kwargs) -> pb.StreamFrame:
    return pb.StreamFrame(camera_id=camera, sequence=sequence, image=image(frame, raw=True),
                          capture_time_us=1_000_000 + sequence, **kwargs)


def test_unary_enhance_mirrors_rest(server, stub):
    import httpx

    frames = sequence(7, 0)
    reply = stub.Enhance(pb.EnhanceRequest(frames=[image(f) for f in frames]))
    assert reply.frames_used == 4 and reply.replica == "replica-under-test"
    assert reply.timings.engine_s > 0 and reply.timings.total_s >= reply.timings.engine_s
    assert reply.timings.engine_call_s >= reply.timings.engine_s
    files = [("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(frames)]
    rest = httpx.post(server.url + "/enhance", files=files, timeout=30)
    assert np.array_equal(unpng(reply.image.encoded), unpng(rest.content))


def test_unary_raw_in_raw_out_and_fewer_frames(stub):
    frames = sequence(7, 1)
    reply = stub.Enhance(pb.EnhanceRequest(frames=[image(frames[-1], raw=True)],
                                           format=pb.OUTPUT_FORMAT_RGB8))
    assert reply.frames_used == 1
    out = np.frombuffer(reply.image.rgb8, np.uint8).reshape(reply.image.height,
                                                           reply.image.width, 3)
    assert out.shape == frames[-1].shape and out.mean() > 3 * frames[-1].mean()


def test_unary_with_camera_id_buffers(stub):
    frames = sequence(7, 2)
    used = [stub.Enhance(pb.EnhanceRequest(frames=[image(f)], camera_id="unary-cam")).frames_used
            for f in frames]
    assert used == [1, 2, 3, 4]


def test_stream_answers_every_frame_in_order(stub):
    frames = sequence(7, 3)
    # told: a camera's untold gain is its smoothed estimate, not the window's alone
    messages = [frame_message("stream-cam", t, f, gain=25.0) for t, f in enumerate(frames)]
    results = list(stub.Stream(iter(messages)))
    assert [r.sequence for r in results] == [0, 1, 2, 3]
    assert [r.status for r in results] == [WARMING, WARMING, WARMING, OK]
    assert [r.frames_used for r in results] == [1, 2, 3, 4]
    assert all(r.camera_id == "stream-cam" and r.replica == "replica-under-test"
               for r in results)
    assert results[2].capture_time_us == 1_000_002
    whole = stub.Enhance(pb.EnhanceRequest(frames=[image(f) for f in frames], gain=25.0))
    assert np.array_equal(unpng(results[-1].image.encoded), unpng(whole.image.encoded))


def test_stream_duplicates_and_late_frames_are_skipped_with_reason(stub):
    frames = sequence(7, 4)
    order = [0, 1, 1, 0, 2]
    results = list(stub.Stream(iter(frame_message("dup-cam", t, frames[t]) for t in order)))
    assert [r.status for r in results] == [WARMING, WARMING, SKIPPED, SKIPPED, WARMING]
    assert "duplicate" in results[2].reason and "late" in results[3].reason


def test_stream_camera_id_from_metadata_and_sequence_assigned(stub):
    frames = sequence(7, 5)
    messages = [pb.StreamFrame(image=image(f)) for f in frames[:3]]  # no ids, no numbers
    results = list(stub.Stream(iter(messages), metadata=[("x-camera-id", "meta-cam")]))
    assert [r.camera_id for r in results] == ["meta-cam"] * 3
    assert [r.sequence for r in results] == [0, 1, 2]
    assert [r.frames_used for r in results] == [1, 2, 3]


def test_stream_end_frees_its_cameras(server, stub):
    frames = sequence(7, 6)
    list(stub.Stream(iter([frame_message("freed-cam", 0, frames[0])])))
    assert "freed-cam" not in server.service.buffers


def test_health_and_reflection(channel):
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", "nightowl.v1.Enhancer"):
        reply = health.Check(health_pb2.HealthCheckRequest(service=name))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    (reply,) = list(reflection.ServerReflectionInfo(iter([request])))
    names = {s.name for s in reply.list_services_response.service}
    assert "nightowl.v1.Enhancer" in names and "grpc.health.v1.Health" in names


def test_reflection_v1_and_v1alpha_list_the_services_and_v1_describes_itself(channel):
    listing = reflection_pb2.ServerReflectionRequest(list_services="")
    for version in ("v1", "v1alpha"):
        names = {s.name for s in reflect(channel, version, listing).list_services_response.service}
        assert names == {"nightowl.v1.Enhancer", "grpc.health.v1.Health",
                         "grpc.reflection.v1.ServerReflection",
                         "grpc.reflection.v1alpha.ServerReflection"}, version
    for symbol, package in (("grpc.reflection.v1.ServerReflection", "grpc.reflection.v1"),
                            ("nightowl.v1.Enhancer", "nightowl.v1")):
        request = reflection_pb2.ServerReflectionRequest(file_containing_symbol=symbol)
        reply = reflect(channel, "v1", request)
        assert not reply.HasField("error_response"), reply.error_response
        files = [descriptor_pb2.FileDescriptorProto.FromString(data)
                 for data in reply.file_descriptor_response.file_descriptor_proto]
        assert files[0].package == package
        assert symbol.rsplit(".", 1)[1] in {service.name for service in files[0].service}
    methods = files[0].service[0].method
    assert {m.name for m in methods} == {"Enhance", "Stream"}


def test_raw_1080p_frame_fits_the_message_limit(stub):
    frame = np.zeros((1080, 1920, 3), np.uint8)  # 6.2 MB raw: over gRPC's 4 MiB default
    small = np.zeros((48, 64, 3), np.uint8)
    # a second frame of another size makes the server refuse the request after reading it
    # whole, so the message limit is exercised without a 1080p inference on the test machine
    request = pb.EnhanceRequest(frames=[image(frame, raw=True), image(small, raw=True)])
    assert request.ByteSize() > 4 * 1024 * 1024
    with pytest.raises(grpc.RpcError) as caught:
        stub.Enhance(request, timeout=60)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "same size" in caught.value.details()
