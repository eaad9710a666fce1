"""``nightowl serve``: the REST and gRPC servers on the shipped default model."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

HELP = "run the REST and gRPC enhancement servers (default 127.0.0.1:8000 and :50051)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="bind address of both servers (default 127.0.0.1; "
                        "env NIGHTOWL_HOST)")
    parser.add_argument("--port", type=int, help="REST port (default 8000; env NIGHTOWL_PORT)")
    parser.add_argument("--grpc-port", type=int, help="gRPC port (default 50051; env "
                        "NIGHTOWL_GRPC_PORT)")
    parser.add_argument("--model", help="enhancer in models/ (default mim_l1_cr.onnx; env "
                        "NIGHTOWL_MODEL)")
    parser.add_argument("--backend", help="auto, onnxruntime-cpu, onnxruntime-cuda, "
                        "onnxruntime-tensorrt or tensorrt (default auto; env NIGHTOWL_BACKEND)")
    parser.epilog = ("Every setting is also read from NIGHTOWL_<NAME> environment variables "
                     "(service/settings.py lists them); options given here win.")


def run(args: argparse.Namespace, fail) -> int:
    from nightowl.service.engines import EngineError
    from nightowl.service.server import serve
    from nightowl.service.settings import from_options

    settings = from_options({"host": args.host, "port": args.port, "grpc_port": args.grpc_port,
                             "model": args.model, "backend": args.backend}, fail)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(_main(settings, serve))
    except EngineError as error:
        fail(f"cannot load the model: {error}")
    return 0


async def _main(settings, serve) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(settings, stop)
