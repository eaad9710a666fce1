"""Forward time and GFLOPs per frame of the enhancement networks (torch eager), CPU or GPU.

Run: python bench/bench_networks.py [--widths 8 16 32] [--sizes 640x360 1280x720] [--repeat 3]
     python bench/bench_networks.py --device cuda --half --batch 1 4
Untrained weights: speed does not depend on them. Prints one row per (model, width, size, batch).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from nightowl.training.nets.enhancers import EnhancerConfig, build_enhancer, input_channels


def gflops(model: torch.nn.Module, inputs: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(inputs)
    return counter.get_total_flops() / 1e9


def seconds_per_frame(model: torch.nn.Module, inputs: torch.Tensor, repeat: int) -> float:
    synchronise = torch.cuda.synchronize if inputs.is_cuda else (lambda: None)
    with torch.no_grad():
        model(inputs)  # warm-up
        synchronise()
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            model(inputs)
            synchronise()
            times.append(time.perf_counter() - start)
    return min(times) / inputs.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--sizes", nargs="+", default=["640x360", "1280x720"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--half", action="store_true", help="fp16 weights and inputs (GPU)")
    parser.add_argument("--batch", type=int, nargs="+", default=[1], help="frames per call")
    args = parser.parse_args()
    device = torch.device(args.device)
    dtype = torch.float16 if args.half else torch.float32
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"cpu, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__}, {where}, {dtype}")
    print(f"{'model':5} {'width':>5} {'size':>9} {'batch':>5} {'GFLOPs':>8} {'ms/frame':>9} "
          f"{'GFLOP/s':>8}")
    for kind in ("sim", "mim"):
        for width in args.widths:
            config = EnhancerConfig(kind=kind, width=width)
            model = build_enhancer(config).eval()
            for size in args.sizes:
                w, h = (int(v) for v in size.split("x"))
                flops = gflops(model, torch.rand(1, input_channels(config), h, w) / 20)
                on_device = model.to(device, dtype)
                for batch in args.batch:
                    inputs = (torch.rand(batch, input_channels(config), h, w) / 20).to(
                        device, dtype)
                    seconds = seconds_per_frame(on_device, inputs, args.repeat)
                    print(f"{kind:5} {width:5d} {size:>9} {batch:5d} {flops:8.1f} "
                          f"{seconds * 1e3:9.2f} {flops / seconds:8.1f}", flush=True)
                model = on_device.to("cpu", torch.float32)


if __name__ == "__main__":
    main()
