"""Forward time and GFLOPs per frame of the enhancement networks on this CPU (torch eager).

Run: python bench/bench_networks.py [--widths 8 16 32] [--sizes 640x360 1280x720] [--repeat 3]
Untrained weights: speed does not depend on them. Prints one row per (model, width, size).
"""

from __future__ import annotations

import argparse
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from nightowl.training.enhancers import EnhancerConfig, build_enhancer, input_channels


def gflops(model: torch.nn.Module, inputs: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(inputs)
    return counter.get_total_flops() / 1e9


def seconds_per_frame(model: torch.nn.Module, inputs: torch.Tensor, repeat: int) -> float:
    with torch.no_grad():
        model(inputs)  # warm-up
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            model(inputs)
            times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--sizes", nargs="+", default=["640x360", "1280x720"])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'model':5} {'width':>5} {'size':>9} {'GFLOPs':>8} {'ms/frame':>9} {'GFLOP/s':>8}")
    for kind in ("sim", "mim"):
        for width in args.widths:
            config = EnhancerConfig(kind=kind, width=width)
            model = build_enhancer(config).eval()
            for size in args.sizes:
                w, h = (int(v) for v in size.split("x"))
                inputs = torch.rand(1, input_channels(config), h, w) / 20
                flops = gflops(model, inputs)
                seconds = seconds_per_frame(model, inputs, args.repeat)
                print(f"{kind:5} {width:5d} {size:>9} {flops:8.1f} {seconds * 1e3:9.0f} "
                      f"{flops / seconds:8.1f}")


if __name__ == "__main__":
    main()
