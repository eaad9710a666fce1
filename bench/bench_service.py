"""Load generator: N cameras at F fps against a real nightowl server on 127.0.0.1.

Run: python bench/bench_service.py --cameras 4 --fps 10 --size 320x240 [--protocol grpc|rest]
     [--window 10] [--max-windows 8] [--soak] [--target HOST:GRPC_PORT --url http://HOST:PORT]
Without --target it starts ``nightowl serve`` itself (free ports; extra settings through
NIGHTOWL_* in the environment) and reports its resident memory after every window.
Each camera streams distinct generator frames (raw RGB8 in, raw RGB8 out over gRPC; PNG over
REST, one request at a time per camera) on a fixed schedule, whatever the answers. Windows of
--window seconds repeat until the last three agree within 10% in held frames per second.
Per window: held fps (frames answered with an image), skipped and error results, latency
p50/p95/p99 (send to result, ms), the engine time per frame (the whole engine call it was part
of: a frame in a batch of 4 waits for all 4), and the service overhead: end-to-end minus engine
time, as a fraction of engine time (also without the alignment).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Window:
    sent: int = 0
    held: int = 0
    skipped: int = 0
    errors: int = 0
    latency: list[float] = field(default_factory=list)  # s, frames with an image
    engine: list[float] = field(default_factory=list)  # s, the engine calls frames waited for
    align: list[float] = field(default_factory=list)  # s
    server: list[float] = field(default_factory=list)  # s, the server's own total per frame

    def row(self, seconds: float, rss: str) -> str:
        if not self.latency:
            return f"held 0 fps, skipped {self.skipped}, errors {self.errors}"
        p50, p95, p99 = np.percentile(self.latency, [50, 95, 99]) * 1000
        engine, align = float(np.mean(self.engine)), float(np.mean(self.align))
        overhead = float(np.mean(self.latency)) - engine
        return (f"held {self.held / seconds:6.1f} fps of {self.sent / seconds:6.1f} sent | "
                f"skipped {self.skipped} errors {self.errors} | p50 {p50:6.1f} p95 {p95:6.1f} "
                f"p99 {p99:6.1f} ms | engine {engine * 1000:6.1f} ms | overhead "
                f"{overhead / engine:6.1%} ({(overhead - align) / engine:6.1%} without "
                f"alignment {align * 1000:.1f} ms) | in server {np.mean(self.server) * 1000:.1f}"
                f" ms | server RSS {rss}")


def frames_for(cameras: int, width: int, height: int) -> list[np.ndarray]:
    from nightowl.training.synth.samples import SampleConfig, make_sample
    from nightowl.training.synth.scenes import SceneConfig

    config = SampleConfig(scene=SceneConfig(width=width, height=height))
    distinct = min(cameras, 8)
    return [make_sample(config, 4242, i).low for i in range(distinct)]


async def grpc_camera(stub, name: str, frames: np.ndarray, fps: float, stop: float,
                      windows: list[Window], start: float, window_s: float) -> None:
    from nightowl.service.rpc import enhance_pb2 as pb

    sent_at: dict[int, float] = {}

    async def requests():
        t = 0
        while (now := time.perf_counter()) < stop:
            frame = frames[t % len(frames)]
            sent_at[t] = now
            windows[int((now - start) // window_s)].sent += 1
            yield pb.StreamFrame(camera_id=name, sequence=t, format=pb.OUTPUT_FORMAT_RGB8,
                                 image=pb.Image(rgb8=frame.tobytes(), width=frame.shape[1],
                                                height=frame.shape[0]))
            t += 1
            await asyncio.sleep(max(0.0, start + t / fps - time.perf_counter()))

    async for result in stub.Stream(requests()):
        now = time.perf_counter()
        sent = sent_at.pop(result.sequence)
        window = windows[int((sent - start) // window_s)]
        if result.status in (pb.StreamResult.STATUS_OK, pb.StreamResult.STATUS_WARMING_UP):
            window.held += 1
            window.latency.append(now - sent)
            window.engine.append(result.timings.engine_call_s)
            window.align.append(result.timings.align_s)
            window.server.append(result.timings.total_s)
        elif result.status == pb.StreamResult.STATUS_SKIPPED:
            window.skipped += 1
        else:
            window.errors += 1


async def rest_camera(client, url: str, name: str, frames: np.ndarray, fps: float, stop: float,
                      windows: list[Window], start: float, window_s: float) -> None:
    from nightowl.service.serving.images import encode

    files = [encode(f) for f in frames]
    t = 0
    while (now := time.perf_counter()) < stop:
        window = windows[int((now - start) // window_s)]
        window.sent += 1
        reply = await client.post(url + "/enhance", params={"camera_id": name},
                                  files=[("frames", ("f.png", files[t % len(files)],
                                                     "image/png"))])
        done = time.perf_counter()
        if reply.status_code == 200:
            timing = dict(p.split(";dur=") for p in reply.headers["server-timing"].split(", "))
            window.held += 1
            window.latency.append(done - now)
            window.engine.append(float(timing["engine_call"]) / 1000)
            window.align.append(float(timing["align"]) / 1000)
            window.server.append(float(timing["total"]) / 1000)
        elif reply.status_code in (429, 503):
            window.skipped += 1
        else:
            window.errors += 1
        t += 1
        next_slot = start + np.ceil((done - start) * fps) / fps  # skip ticks we are late for
        await asyncio.sleep(max(0.0, next_slot - time.perf_counter()))


async def drive(args, target: str, url: str, pid: int | None) -> None:
    import grpc
    import httpx

    from nightowl.service.rpc import enhance_pb2_grpc

    width, height = map(int, args.size.split("x"))
    sequences = frames_for(args.cameras, width, height)
    held: list[float] = []
    options = [("grpc.max_receive_message_length", 64 << 20),
               ("grpc.max_send_message_length", 64 << 20)]
    async with grpc.aio.insecure_channel(target, options=options) as channel, \
            httpx.AsyncClient(timeout=60) as client:
        stub = enhance_pb2_grpc.EnhancerStub(channel)
        for index in range(args.max_windows):
            windows = [Window() for _ in range(3)]  # the window, then spill-over slots
            start = time.perf_counter() + 0.2
            stop = start + args.window
            await asyncio.sleep(0.2)
            if args.protocol == "grpc":
                tasks = [grpc_camera(stub, f"cam{c}", sequences[c % len(sequences)], args.fps,
                                     stop, windows, start, args.window)
                         for c in range(args.cameras)]
            else:
                tasks = [rest_camera(client, url, f"cam{c}", sequences[c % len(sequences)],
                                     args.fps, stop, windows, start, args.window)
                         for c in range(args.cameras)]
            await asyncio.gather(*tasks)
            held.append(windows[0].held / args.window)
            print(f"window {index + 1}: {windows[0].row(args.window, _rss(pid))}", flush=True)
            last = held[-3:]
            if len(last) == 3 and max(last) <= 1.1 * min(last) and not args.soak:
                print(f"three windows agree within 10%: held {np.mean(last):.1f} fps "
                      f"({args.cameras} cameras x {args.fps:g} fps = "
                      f"{args.cameras * args.fps:g} sent per second)")
                return
    print("soak done" if args.soak else "no three consecutive windows agreed within 10%")


def _rss(pid: int | None) -> str:
    if pid is None:
        return "n/a"
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return f"{int(line.split()[1]) / 1024:.0f} MB"
    return "n/a"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--size", default="320x240")
    parser.add_argument("--protocol", choices=("grpc", "rest"), default="grpc")
    parser.add_argument("--window", type=float, default=10.0, help="seconds per window")
    parser.add_argument("--max-windows", type=int, default=8)
    parser.add_argument("--soak", action="store_true", help="run all --max-windows windows "
                        "(watch the server's memory) instead of stopping at agreement")
    parser.add_argument("--target", help="gRPC HOST:PORT of a running server")
    parser.add_argument("--url", help="REST base URL of a running server")
    args = parser.parse_args()
    if args.target or args.url:
        asyncio.run(drive(args, args.target or "", args.url or "", None))
        return
    port, grpc_port = _free_port(), _free_port()
    width, height = map(int, args.size.split("x"))
    env = {"NIGHTOWL_WARMUP_SIZES": f"[[{height}, {width}]]", **os.environ,
           "NIGHTOWL_MAX_CAMERAS": str(max(256, args.cameras))}
    command = [sys.executable, "-m", "nightowl.service.cli", "serve", "--port", str(port),
               "--grpc-port", str(grpc_port)]
    with subprocess.Popen(command, env=env, cwd=ROOT) as server:
        try:
            _wait_ready(f"http://127.0.0.1:{port}", server)
            asyncio.run(drive(args, f"127.0.0.1:{grpc_port}", f"http://127.0.0.1:{port}",
                              server.pid))
        finally:
            server.terminate()
            server.wait(60)


def _wait_ready(url: str, server: subprocess.Popen) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited before it was ready")
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("the server was not ready within 120 s")


if __name__ == "__main__":
    main()
