"""Engine-only speed of the served model: torch eager against ONNX Runtime, on CPU and on a GPU
when the host has one, with achieved GFLOP/s against the machine's measured fp32 matmul peak.

Run: python bench/bench_engines.py [--quick] [--model mim_l1_cr.onnx] [--sizes 640x360 1280x720]
                                   [--rounds 5] [--threads N] [--json summary.json]
The torch network is rebuilt from the ONNX file's own weights (same names as the state dict),
so both runtimes run the same model; their outputs are compared. Every candidate runs once per
round, in turn, so a busy machine slows all of them alike; each figure is the best round.
CPU candidates: torch eager (NCHW, --threads threads) and ONNX Runtime as nightowl's engine
loads it (all graph optimisations, no spinning) in fp32 and, when the manifest lists one, on the
model's int8 copy (the CPU server's default; its GFLOP/s count the fp32 model's FLOPs), plus
other session settings tried while tuning it (spinning on, extended instead of all
optimisations, half the threads).
GPU candidates (skipped with the reason when absent): torch CUDA eager fp32 and fp16, and the
onnxruntime-cuda, onnxruntime-tensorrt and tensorrt engines, and the fused warp + enhance
graph (training/release/warp_graph.py) on ONNX Runtime CUDA and TensorRT; with a GPU, batches
of 4 and 8 frames give the throughput and the number of 15 fps cameras one GPU holds.
Prints a table per size and, last, a JSON summary (also written to --json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from nightowl.service.engines import BackendUnavailable, load_engine
from nightowl.service.modelrepo.files import resolve

CAMERA_FPS = 15
MATMUL = 2048  # side of the fp32 matmul that measures the CPU's peak
MATMUL_NAME = "fp32 matmul (numpy)"


def best_of_rounds(candidates: dict[str, Callable[[], object]], rounds: int,
                   sync: Callable[[], None] = lambda: None,
                   cpu: dict[str, float] | None = None) -> dict[str, float]:
    """Best wall seconds per call of each candidate; one warm-up call each, then ``rounds``
    turns. With ``cpu``, also the least CPU time of the process (all its threads) per call,
    which other processes' load does not inflate: the basis of a fair GFLOP/s on a shared
    machine (time spent spinning counts, as it should)."""
    for run in candidates.values():
        run()
        sync()
    best = dict.fromkeys(candidates, float("inf"))
    least_cpu = dict.fromkeys(candidates, float("inf"))
    for _ in range(rounds):
        for name, run in candidates.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            sync()
            best[name] = min(best[name], time.perf_counter() - start)
            least_cpu[name] = min(least_cpu[name], time.process_time() - start_cpu)
    if cpu is not None:
        cpu.update(least_cpu)
    return best


def matmul_peak(threads: int, size: int, rounds: int) -> dict[str, float]:
    """fp32 GFLOP/s of an (n x n) @ (n x n) matmul: numpy (its BLAS) and torch, best round."""
    rng = np.random.default_rng(0)
    a, b = (rng.random((size, size), dtype=np.float32) for _ in range(2))
    candidates: dict[str, Callable[[], object]] = {"numpy": lambda: a @ b}
    try:
        import torch

        torch.set_num_threads(threads)
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        candidates["torch"] = lambda: ta @ tb
    except ImportError:
        pass
    seconds = best_of_rounds(candidates, rounds)
    return {name: 2 * size**3 / s / 1e9 for name, s in seconds.items()}


def gpu_matmul_peak(rounds: int) -> dict[str, float]:
    """GFLOP/s of an 8192 x 8192 matmul on the GPU in fp32 and fp16 (torch), when CUDA is
    there; the fp16 figure is the reference for TensorRT fp16."""
    try:
        import torch
    except ImportError:
        return {}
    if not torch.cuda.is_available():
        return {}
    size, peaks = 8192, {}
    for dtype, label in ((torch.float32, "cuda fp32"), (torch.float16, "cuda fp16")):
        a = torch.rand(size, size, device="cuda", dtype=dtype)
        seconds = best_of_rounds({label: lambda a=a: a @ a}, rounds, torch.cuda.synchronize)
        peaks[label] = 2 * size**3 / seconds[label] / 1e9
    return peaks


def align_ms(size: tuple[int, int], count: int) -> float:
    """Median ms of one align_to_last of T = 4 generator frames (CPU, OpenCV's own threads)."""
    from nightowl.service.frames.alignment import align_to_last
    from nightowl.training.synth.samples import SampleConfig, make_sample
    from nightowl.training.synth.scenes import SceneConfig

    height, width = size
    config = SampleConfig(scene=SceneConfig(width=width, height=height))
    times = []
    for index in range(count):
        low = make_sample(config, 2027, index).low
        align_to_last(low)
        start = time.perf_counter()
        align_to_last(low)
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def torch_network(model):
    """The torch network with the ONNX file's weights, or None without torch."""
    try:
        from nightowl.training.nets.enhancers import EnhancerConfig
        from nightowl.training.nets.onnx_weights import enhancer_from_onnx
    except ImportError:
        return None
    return enhancer_from_onnx(model.path, EnhancerConfig(**model.entry["model_config"])).eval()


def gflops_per_frame(network, channels: int, height: int, width: int) -> float | None:
    if network is None:
        return None
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        network(torch.zeros(1, channels, height, width))
    return counter.get_total_flops() / 1e9


def ort_variants(path: Path, threads: int, quick: bool) -> dict[str, Callable]:
    """Raw sessions with the settings tried while tuning (the engine's own is timed apart)."""
    import onnxruntime as ort

    grid = [(threads, "ORT_ENABLE_ALL", "1")]
    if not quick:
        grid += [(threads, "ORT_ENABLE_EXTENDED", "0"), (max(1, threads // 2), "ORT_ENABLE_ALL",
                                                         "0")]
    sessions = {}
    for count, level, spinning in grid:
        options = ort.SessionOptions()
        options.intra_op_num_threads = count
        options.inter_op_num_threads = 1
        options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
        options.add_session_config_entry("session.intra_op.allow_spinning", spinning)
        name = f"ort {count}t {level.removeprefix('ORT_ENABLE_').lower()} spin={spinning}"
        sessions[name] = ort.InferenceSession(str(path), options,
                                              providers=["CPUExecutionProvider"])
    return sessions


def cpu_rows(model, network, size: tuple[int, int], args) -> dict:
    height, width = size
    channels = model.input_channels
    frames = np.random.default_rng(0).random((1, channels, height, width), dtype=np.float32)
    frames /= 20  # dark frames live near 0
    engine = load_engine(model.path, "onnxruntime-cpu", threads=args.threads,
                         cpu_precision="fp32")
    candidates: dict[str, Callable] = {f"nightowl engine onnxruntime-cpu {args.threads}t":
                                       lambda: engine.run(frames)}
    int8 = load_engine(model.path, "onnxruntime-cpu", threads=args.threads)
    if int8.describe()["precision"] == "int8":
        candidates[f"nightowl engine onnxruntime-cpu int8 {args.threads}t"] = \
            lambda: int8.run(frames)
    for name, session in ort_variants(model.path, args.threads, args.quick).items():
        candidates[name] = lambda s=session: s.run(None, {model.input_name: frames})
    difference = None
    if network is not None:
        import torch

        torch.set_num_threads(args.threads)
        tensor = torch.from_numpy(frames)

        def eager():
            with torch.inference_mode():
                return network(tensor)

        candidates[f"torch eager {args.threads}t"] = eager
        difference = float(np.abs(eager().numpy() - engine.run(frames)).max())
    # the peak's matmul takes its turn in the same rounds, so it meets the same load
    a = np.random.default_rng(1).random((MATMUL, MATMUL), dtype=np.float32)
    candidates[MATMUL_NAME] = lambda: a @ a
    cpu: dict[str, float] = {}
    seconds = best_of_rounds(candidates, args.rounds, cpu=cpu)
    peak = 2 * MATMUL**3 / seconds.pop(MATMUL_NAME) / 1e9
    per_core_peak = 2 * MATMUL**3 / cpu.pop(MATMUL_NAME) / 1e9
    return {"seconds": seconds, "cpu_seconds": cpu, "max_abs_diff_torch_vs_ort": difference,
            "matmul_peak_same_rounds": peak, "matmul_gflop_per_cpu_second": per_core_peak}


def gpu_rows(model, network, size: tuple[int, int], args) -> dict:
    """GPU candidates at batch 1 (latency) and the largest batch (throughput)."""
    height, width = size
    channels = model.input_channels
    rows: dict = {"skipped": {}}
    batches = [1] if args.quick else [1, 4, 8]
    candidates: dict[str, Callable] = {}
    sync = lambda: None  # noqa: E731
    rng = np.random.default_rng(0)
    inputs = {b: rng.random((b, channels, height, width), dtype=np.float32) / 20
              for b in batches}
    try:
        import torch

        if not torch.cuda.is_available():
            raise RuntimeError("torch sees no CUDA device")
        device = torch.device("cuda")
        sync = torch.cuda.synchronize
        for dtype, label in ((torch.float32, "fp32"), (torch.float16, "fp16")):
            if network is None:
                raise RuntimeError("no torch network")
            net = torch_network(model).to(device, dtype).eval()
            for b in batches:
                tensor = torch.from_numpy(inputs[b]).to(device, dtype)

                def eager(net=net, tensor=tensor):
                    with torch.inference_mode():
                        return net(tensor)

                candidates[f"torch cuda eager {label} b{b}"] = eager
    except (ImportError, RuntimeError) as error:
        rows["skipped"]["torch cuda"] = str(error)
    for backend in ("onnxruntime-cuda", "onnxruntime-tensorrt", "tensorrt"):
        try:
            engine = load_engine(model.path, backend, warmup_shapes=[size])
        except BackendUnavailable as error:
            rows["skipped"][backend] = str(error)
            continue
        for b in batches:
            candidates[f"{backend} b{b}"] = lambda e=engine, x=inputs[b]: e.run(x)
    if candidates:
        rows["seconds"] = best_of_rounds(candidates, args.rounds, sync)
        rows["frames_per_call"] = {name: int(name.rsplit("b", 1)[1]) for name in candidates}
    return rows


def fused_rows(model, size: tuple[int, int], rounds: int) -> dict:
    """warp + enhance as one call (training/release/warp_graph.py) on ONNX Runtime's GPU providers:
    the GPU side of the alignment design. Skipped with the reason without them."""
    height, width = size
    try:
        import onnxruntime as ort

        from nightowl.training.release.warp_graph import warp_then_enhance
    except ImportError as error:
        return {"skipped": f"needs the train extra (onnx): {error}"}
    available = ort.get_available_providers()
    if model.input_channels != 12 or "CUDAExecutionProvider" not in available:
        return {"skipped": "needs the MIM and onnxruntime-gpu with a CUDA device"}
    import tempfile

    rng = np.random.default_rng(0)
    feed = {"frames": rng.random((1, 12, height, width), dtype=np.float32) / 20,
            "flows": rng.normal(0, 2, (1, 3, height, width, 2)).astype(np.float32)}
    shapes = {"min": (32, 32), "opt": (height, width), "max": (max(height, 1080),
                                                              max(width, 1920))}

    def profile(which: str) -> str:
        h, w = shapes[which]
        return f"frames:1x12x{h}x{w},flows:1x3x{h}x{w}x2"

    candidates, skipped = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "warp_then_enhance.onnx"
        path.write_bytes(warp_then_enhance(model.path).SerializeToString())
        providers = {"fused warp+enhance onnxruntime-cuda": ["CUDAExecutionProvider"]}
        if "TensorrtExecutionProvider" in available:
            providers["fused warp+enhance onnxruntime-tensorrt fp16"] = [
                ("TensorrtExecutionProvider", {
                    "trt_fp16_enable": True, "trt_engine_cache_enable": True,
                    "trt_engine_cache_path": folder,
                    **{f"trt_profile_{w}_shapes": profile(w) for w in ("min", "opt", "max")}}),
                "CUDAExecutionProvider"]
        for name, chosen in providers.items():
            try:
                session = ort.InferenceSession(str(path), providers=chosen)
                wanted = chosen[0] if isinstance(chosen[0], str) else chosen[0][0]
                if session.get_providers()[0] != wanted:
                    skipped[name] = f"{wanted} fell back to {session.get_providers()[0]}"
                    continue
                candidates[name] = lambda s=session: s.run(None, feed)
            except Exception as error:  # the runtimes raise their own types
                skipped[name] = str(error)
        seconds = best_of_rounds(candidates, rounds) if candidates else {}
    return {"seconds": seconds, "skipped": skipped}


def machine(threads: int) -> dict:
    import onnxruntime as ort

    from nightowl.service.engines.profiles import gpu_name

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores_usable": len(os.sched_getaffinity(0)), "threads": threads,
            "onnxruntime": ort.__version__, "providers": ort.get_available_providers(),
            "gpu": gpu_name(), "load_average": os.getloadavg()}
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        info["torch"] = None
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and candidates "
                        "(under 2 minutes on a GPU host)")
    parser.add_argument("--model", default="mim_l1_cr.onnx")
    parser.add_argument("--sizes", nargs="+", default=["640x360", "1280x720"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--json", type=Path, help="also write the JSON summary here")
    args = parser.parse_args()
    if args.quick:
        args.rounds = min(args.rounds, 2)
    model = resolve(args.model)
    network = torch_network(model)
    summary: dict = {"model": model.path.name, "machine": machine(args.threads),
                     "command": " ".join(["python", "bench/bench_engines.py", *sys.argv[1:]]),
                     "sizes": {}}
    peak = matmul_peak(args.threads, 1024 if args.quick else 2048, 10 if args.quick else 20)
    summary["matmul_peak_gflops"] = peak
    peak_best = max(peak.values())
    print(f"fp32 matmul peak ({args.threads} threads): " +
          ", ".join(f"{k} {v:.1f} GFLOP/s" for k, v in peak.items()))
    gpu_peak = gpu_matmul_peak(args.rounds + 1)
    summary["gpu_matmul_peak_gflops"] = gpu_peak
    if gpu_peak:
        print("GPU matmul peak: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in
                                              gpu_peak.items()))
    for text in args.sizes:
        width, height = (int(v) for v in text.split("x"))
        flops = gflops_per_frame(network, model.input_channels, height, width)
        cpu = cpu_rows(model, network, (height, width), args)
        gpu = gpu_rows(model, network, (height, width), args)
        fused = fused_rows(model, (height, width), args.rounds)
        if fused.get("seconds"):
            gpu.setdefault("seconds", {}).update(fused["seconds"])
            gpu.setdefault("frames_per_call", {}).update(dict.fromkeys(fused["seconds"], 1))
        if fused.get("skipped"):
            gpu["skipped"]["fused warp+enhance"] = fused["skipped"]
        entry = _summarise(text, flops, peak_best, cpu, gpu, max(gpu_peak.values(), default=0))
        if model.input_channels > 3:
            entry["pipeline"] = _pipeline(entry, align_ms((height, width), 2 if args.quick
                                                          else 4), args.threads)
        summary["sizes"][text] = entry
        _print_size(text, flops, entry)
    summary["machine"]["load_average_end"] = os.getloadavg()
    text = json.dumps(summary, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


def _pipeline(entry: dict, align: float, cores: int) -> dict:
    """Align (CPU) + enhance per frame, from the measured parts: one after the other on one
    frame, and the throughput when ``cores`` frames are aligned at once while the best engine
    enhances (an estimate: the parts were timed apart)."""
    best = min(entry["rows"].items(), key=lambda item: item[1]["ms_per_frame"])
    enhance = best[1]["ms_per_frame"]
    return {"align_ms_one_core": align, "best_engine": best[0], "enhance_ms": enhance,
            "serial_fps": 1e3 / (align + enhance),
            "overlapped_fps_estimate": min(cores * 1e3 / align, 1e3 / enhance),
            "cores": cores}


def _summarise(size: str, flops: float | None, peak: float, cpu: dict, gpu: dict,
               gpu_peak: float) -> dict:
    rows = {}
    peak = max(peak, cpu["matmul_peak_same_rounds"])
    per_cpu_second = cpu["matmul_gflop_per_cpu_second"]
    for name, seconds in cpu["seconds"].items():
        rows[name] = _row(seconds, 1, flops, peak)
        busy = cpu["cpu_seconds"][name]
        rows[name]["cpu_ms_per_frame"] = 1e3 * busy
        if flops is not None:
            rows[name]["gflop_per_cpu_second"] = flops / busy
            rows[name]["fraction_of_matmul_per_cpu_second"] = flops / busy / per_cpu_second
    for name, seconds in gpu.get("seconds", {}).items():
        rows[name] = _row(seconds, gpu["frames_per_call"][name], flops, gpu_peak or None)
    torch_name = next((n for n in cpu["seconds"] if n.startswith("torch eager")), None)
    ort_names = [n for n in cpu["seconds"] if not n.startswith("torch")]
    best_ort = min(ort_names, key=lambda n: cpu["seconds"][n])
    engine_name = next(n for n in ort_names if n.startswith("nightowl engine"))
    entry = {"gflops_per_frame": flops, "matmul_peak_gflops": peak,
             "matmul_gflop_per_cpu_second": per_cpu_second, "rows": rows,
             "best_ort_cpu": best_ort,
             "max_abs_diff_torch_vs_ort": cpu["max_abs_diff_torch_vs_ort"],
             "gpu_skipped": gpu.get("skipped", {})}
    int8_name = next((n for n in ort_names if n.startswith("nightowl engine") and " int8 " in n),
                     None)
    if int8_name is not None:
        entry["speedup_int8_vs_fp32_engine"] = cpu["seconds"][engine_name] / cpu["seconds"][
            int8_name]
    if torch_name is not None:
        entry["speedup_engine_vs_torch"] = cpu["seconds"][torch_name] / cpu["seconds"][
            engine_name]
        entry["speedup_best_ort_vs_torch"] = cpu["seconds"][torch_name] / cpu["seconds"][best_ort]
    return entry


def _row(seconds: float, frames: int, flops: float | None, peak: float | None) -> dict:
    per_frame = seconds / frames
    row = {"ms_per_frame": 1e3 * per_frame, "fps": 1 / per_frame, "frames_per_call": frames}
    if flops is not None:
        row["gflop_per_s"] = flops / per_frame
        if peak:
            row["fraction_of_matmul_peak"] = flops / per_frame / peak
    if frames > 1:
        row["cameras_at_15fps"] = int(1 / per_frame // CAMERA_FPS)
    return row


def _print_size(size: str, flops: float | None, entry: dict) -> None:
    print(f"\n{size}: {flops or float('nan'):.1f} GFLOP per frame; CPU peak (best fp32 "
          f"matmul) {entry['matmul_peak_gflops']:.1f} GFLOP/s")
    print(f"matmul per CPU-second (all threads' time): "
          f"{entry['matmul_gflop_per_cpu_second']:.1f} GFLOP")
    print(f"{'candidate':48} {'ms/frame':>9} {'fps':>7} {'GFLOP/s':>8} {'of peak':>8} "
          f"{'CPU ms':>8} {'GFLOP/CPU-s':>11} {'of matmul':>9}")
    nan = float("nan")
    for name, row in entry["rows"].items():
        print(f"{name:48} {row['ms_per_frame']:9.1f} {row['fps']:7.2f} "
              f"{row.get('gflop_per_s', nan):8.1f} "
              f"{row.get('fraction_of_matmul_peak', nan):8.1%} "
              f"{row.get('cpu_ms_per_frame', nan):8.1f} "
              f"{row.get('gflop_per_cpu_second', nan):11.1f} "
              f"{row.get('fraction_of_matmul_per_cpu_second', nan):9.1%}")
    for key in ("speedup_int8_vs_fp32_engine", "speedup_engine_vs_torch",
                "speedup_best_ort_vs_torch"):
        if key in entry:
            print(f"{key}: {entry[key]:.2f}x")
    for backend, reason in entry["gpu_skipped"].items():
        print(f"skipped {backend}: {reason}")
    if "pipeline" in entry:
        p = entry["pipeline"]
        print(f"align+enhance: align {p['align_ms_one_core']:.1f} ms (CPU) + enhance "
              f"{p['enhance_ms']:.1f} ms ({p['best_engine']}): {p['serial_fps']:.2f} fps one "
              f"after the other; about {p['overlapped_fps_estimate']:.2f} fps with {p['cores']} "
              f"frames aligned at once")


if __name__ == "__main__":
    main()
