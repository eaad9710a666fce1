"""The server on a GPU engine (skipped without an NVIDIA GPU): the same answers as on the CPU,
within fp32 rounding, over REST and a gRPC stream."""

from __future__ import annotations

import grpc
import httpx
import numpy as np
import onnxruntime as ort
import pytest

from nightowl.service.engines import load_engine
from nightowl.service.engines.profiles import gpu_name
from nightowl.service.rpc import enhance_pb2 as pb
from nightowl.service.rpc import enhance_pb2_grpc
from tests.serving import png, running, sequence, unpng

HAS_CUDA = gpu_name() is not None and "CUDAExecutionProvider" in ort.get_available_providers()
pytestmark = [pytest.mark.requires_cuda,
              pytest.mark.skipif(not HAS_CUDA, reason="needs an NVIDIA GPU and onnxruntime-gpu")]


@pytest.fixture(scope="module")
def cuda_engines():
    return {name: load_engine(f"{model}.onnx", "onnxruntime-cuda")
            for name, model in (("multi", "mim_l1_cr"), ("single", "sim_l1_cr"))}


@pytest.fixture(scope="module")
def fp32_engines():
    """The CPU server's engines on the fp32 files (its default runs their int8 copies)."""
    return {name: load_engine(f"{model}.onnx", "onnxruntime-cpu", threads=1,
                              cpu_precision="fp32")
            for name, model in (("multi", "mim_l1_cr"), ("single", "sim_l1_cr"))}


def test_gpu_server_matches_the_cpu_server(fp32_engines, cuda_engines):
    frames = sequence(61, 0, (160, 120))
    files = [("frames", (f"{i}.png", png(f), "image/png")) for i, f in enumerate(frames)]
    answers = []
    for chosen in (fp32_engines, cuda_engines):
        with running(chosen) as server, grpc.insecure_channel(server.target) as channel:
            rest = unpng(httpx.post(server.url + "/enhance", files=files, timeout=60).content)
            stub = enhance_pb2_grpc.EnhancerStub(channel)
            stream = list(stub.Stream(iter(
                pb.StreamFrame(camera_id="gpu", sequence=t, image=pb.Image(encoded=png(f)))
                for t, f in enumerate(frames))))
            answers.append((rest, unpng(stream[-1].image.encoded)))
    (cpu_rest, cpu_stream), (gpu_rest, gpu_stream) = answers
    for cpu, gpu in ((cpu_rest, gpu_rest), (cpu_stream, gpu_stream)):
        difference = np.abs(cpu.astype(int) - gpu)  # the same alignment (CPU); fp32 engines
        assert difference.max() <= 2 and difference.mean() < 0.1
