"""The flow network against DIS: end-point error, and what MIM L1+L_CR makes of each alignment.

Run: python bench/bench_flow.py [--count N] [--splits synthetic photo] [--models models]
                                [--flow flow.onnx|RUN/final.pt] [--backend B] [--timing N]
                                [--out FILE.json]
On the evaluation's test scenes (``training/evaluation/testset.py``: the synthetic and photo
splits, every noise model, S in {20, 22, 25, 28, 30}), each window of T = 4 dark frames is
aligned onto frame T by DIS (``align_to_last``, the server's default) and by the flow network
(``align_with_network``), and printed per split, noise model and S, for each:
- EPE: mean |flow - true flow| (px) over frames 1..T-1, on moving pixels (true flow non-zero)
  and static ones;
- the served MIM L1+L_CR (int8, ONNX Runtime CPU, told the true S) on those aligned frames:
  whole-frame PSNR and the share of plate characters our recogniser reads (the evaluation's
  reading, ``runner.read_scene``);
- with --timing N, the time per 1280x720 window of each alignment (best of N): DIS on this
  CPU, the network on --backend (the warp included, on the CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2
import numpy as np
from tqdm import tqdm

from nightowl.service.engines import load_engine
from nightowl.service.frames import quality
from nightowl.service.frames.alignment import align_to_last
from nightowl.service.frames.exposure import S_VALUES
from nightowl.service.frames.flow_network import align_with_network
from nightowl.training.evaluation import methods
from nightowl.training.evaluation.runner import read_scene
from nightowl.training.evaluation.scoring import correct_chars
from nightowl.training.evaluation.testset import NOISE_MODELS, darken, split_scene

ALIGNERS = ("DIS", "flow network")


class TorchFlow:
    """A training run's flow network (checkpoint.pt / final.pt) in torch, behind the engine
    interface ``align_with_network`` calls: for runs not exported."""

    backend = "torch-cpu"

    def __init__(self, path: Path) -> None:
        import torch

        from nightowl.training.nets.flow import FlowConfig, FlowNet

        torch.set_num_threads(1)
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        config = FlowConfig(**(checkpoint.get("model_config")
                               or checkpoint["config"]["flow_model"]))
        self.model = FlowNet(config).eval()
        self.model.load_state_dict(checkpoint["model"])
        self.name, self.frames, self.torch = path.name, config.frames, torch

    def run(self, batch: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            return self.model(self.torch.from_numpy(batch)).numpy()


def end_point_errors(flows: np.ndarray, truth: np.ndarray) -> tuple[float, float, int, int]:
    """(sum of EPE on moving pixels, on static ones, their counts) over frames 0..T-2."""
    error = np.linalg.norm(flows[:-1] - truth[:-1], axis=-1)
    moving = np.linalg.norm(truth[:-1], axis=-1) > 0.05
    return (float(error[moving].sum()), float(error[~moving].sum()), int(moving.sum()),
            int((~moving).sum()))


def measure(args: argparse.Namespace) -> dict:
    cv2.setNumThreads(1)
    flow = (TorchFlow(Path(args.flow)) if args.flow.endswith(".pt") else
            load_engine(args.flow, args.backend, models_dir=args.models, threads=1,
                        cpu_precision="fp32"))
    recogniser = load_engine("recogniser.onnx", "onnxruntime-cpu", models_dir=args.models,
                             threads=1, cpu_precision="fp32")
    network = methods.Network(args.models / "mim_l1_cr.onnx")
    table: dict[str, dict] = {}
    tasks = [(split, i) for split in args.splits for i in range(args.count)]
    for split, index in tqdm(tasks, desc="scenes", unit="scene"):
        scene = split_scene(split, index)
        clean = scene.sequence.clean[-1].astype(np.float32) / 255
        for noise in NOISE_MODELS:
            for s in S_VALUES:
                low = darken(scene, noise, s)
                aligned = {"DIS": align_to_last(low), "flow network": align_with_network(low,
                                                                                        flow)}
                images = {}
                for name, (frames, flows) in aligned.items():
                    condition = methods.Condition(low=low, s=s, aligned=frames)
                    images[name] = network(condition)[0]
                    row = table.setdefault(f"{split}|{noise}|{s:g}|{name}",
                                           dict.fromkeys(("moving", "static", "n_moving",
                                                          "n_static", "psnr", "scenes",
                                                          "correct", "chars"), 0.0))
                    epe = end_point_errors(flows, scene.sequence.flows)
                    for key, value in zip(("moving", "static", "n_moving", "n_static"), epe,
                                          strict=True):
                        row[key] += value
                    row["psnr"] += quality.psnr(images[name], clean)
                    row["scenes"] += 1
                reads = read_scene(recogniser, scene, images)
                for name in images:
                    row = table[f"{split}|{noise}|{s:g}|{name}"]
                    for plate, read in zip(scene.plates, reads[name], strict=True):
                        row["correct"] += correct_chars(plate.labels, read)
                        row["chars"] += len(plate.labels)
    rows = []
    for key, row in table.items():
        split, noise, s, name = key.split("|")
        rows.append({"split": split, "noise": noise, "S": float(s), "alignment": name,
                     "epe_moving": row["moving"] / max(row["n_moving"], 1),
                     "epe_static": row["static"] / max(row["n_static"], 1),
                     "psnr": row["psnr"] / row["scenes"],
                     "char_rate": row["correct"] / row["chars"] if row["chars"] else None,
                     "chars": int(row["chars"])})
    result = {"count": args.count, "splits": args.splits, "backend": flow.backend, "rows": rows}
    if args.timing:
        result["ms_1280x720"] = timing(flow, args.timing)
    return result


def timing(flow, repeats: int) -> dict[str, float]:
    """Best-of-``repeats`` ms per T = 4 window of 1280x720 dark frames, per alignment."""
    rng = np.random.default_rng(0)
    low = rng.integers(0, 12, (4, 720, 1280, 3), dtype=np.uint8)
    out = {}
    for name, fn in (("DIS", lambda: align_to_last(low)),
                     ("flow network", lambda: align_with_network(low, flow))):
        fn()
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            best = min(best, (time.perf_counter() - start) * 1e3)
        out[name] = round(best, 1)
    return out


def print_table(result: dict) -> None:
    rows = result["rows"]
    print(f"{result['count']} scenes per split; EPE in px (moving / static pixels); MIM L1+L_CR "
          "(int8) on each alignment: PSNR dB, characters read")
    print("| split | noise | S | DIS EPE moving | network EPE moving | DIS EPE static | "
          "network EPE static | PSNR DIS | PSNR network | chars DIS | chars network |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    keyed = {(r["split"], r["noise"], r["S"], r["alignment"]): r for r in rows}
    for split in result["splits"]:
        for noise in NOISE_MODELS:
            for s in [*S_VALUES, None]:
                pair = []
                for name in ALIGNERS:
                    picked = [r for r in rows if r["split"] == split and r["noise"] == noise
                              and r["alignment"] == name and (s is None or r["S"] == s)]
                    pair.append(_pool(picked) if s is None else keyed[(split, noise, s, name)])
                d, n = pair
                print(f"| {split} | {noise} | {'all' if s is None else f'{s:g}'} | "
                      f"{d['epe_moving']:.2f} | {n['epe_moving']:.2f} | {d['epe_static']:.3f} | "
                      f"{n['epe_static']:.3f} | {d['psnr']:.2f} | {n['psnr']:.2f} | "
                      f"{_rate(d)} | {_rate(n)} |")
    if "ms_1280x720" in result:
        print(f"ms per 1280x720 window of 4 frames (DIS: this CPU, one thread; flow network: "
              f"{result['backend']}):", result["ms_1280x720"])


def _rate(row: dict) -> str:
    return "-" if row["char_rate"] is None else f"{row['char_rate']:.3f}"


def _pool(rows: list[dict]) -> dict:
    """Rows over every S, each S weighted alike (same scenes under each)."""
    chars = sum(r["chars"] for r in rows)
    correct = sum(r["char_rate"] * r["chars"] for r in rows if r["char_rate"] is not None)
    return {"epe_moving": float(np.mean([r["epe_moving"] for r in rows])),
            "epe_static": float(np.mean([r["epe_static"] for r in rows])),
            "psnr": float(np.mean([r["psnr"] for r in rows])),
            "char_rate": correct / chars if chars else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20, help="scenes per split (default 20)")
    parser.add_argument("--splits", nargs="+", default=["synthetic", "photo"],
                        choices=["synthetic", "photo"])
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--flow", default="flow.onnx", help="flow network file in --models, or "
                        "a training run's checkpoint.pt / final.pt (run in torch)")
    parser.add_argument("--backend", default="onnxruntime-cpu", help="the flow network's "
                        "engine backend (default onnxruntime-cpu; the enhancer always runs "
                        "int8 on the CPU, as in the evaluation)")
    parser.add_argument("--timing", type=int, default=0, metavar="N",
                        help="also time each alignment at 1280x720, best of N")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args(argv)
    result = measure(args)
    print_table(result)
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
