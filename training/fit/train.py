"""The training loop, the same for every task; scales out with DDP under ``torchrun``.

    nightowl train training/configs/mim_l1_cr.toml --out runs/mim_l1_cr [--resume]
    torchrun --nproc_per_node 2 -m nightowl.service.cli train CONFIG --out DIR

Writes into ``--out``: ``log.csv`` (one line per validation), ``checkpoint.pt`` (every
``checkpoint_every`` steps, for ``--resume``), and ``final.pt`` (weights and configs).
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from nightowl.training.fit.config import TrainConfig
from nightowl.training.fit.tasks import Batch, make_task, stack
from nightowl.training.synth.samples import make_sample
from nightowl.training.synth.stream import SyntheticSequences


def train(config: TrainConfig, out: Path, resume: bool = False) -> dict[str, float]:
    """Train ``config`` into ``out``; returns the last validation figures (rank 0)."""
    rank, world, device = _init_distributed()
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    task = make_task(config, device)
    if config.init_from and not resume:
        _initialise(task.model, config.init_from)
    model: nn.Module = task.model.to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    clock = _Clock(config)
    schedule = _schedule(config, optimiser, clock)
    out.mkdir(parents=True, exist_ok=True)
    step, elapsed = _resume(out, model, optimiser, schedule, device) if resume else (0, 0.0)
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model)
    validation = validation_batches(config, task, device) if rank == 0 else []
    per_sample = config.data.crop.per_sample if config.task in ("enhancer", "flow") else 1
    stream = SyntheticSequences(config.data.samples(), seed=config.data.train_seed,
                                start=step * config.batch_size * world // per_sample,
                                transform=task.examples.many if per_sample > 1
                                else task.examples, rank=rank, world_size=world)
    loader = iter(DataLoader(stream, batch_size=config.batch_size, num_workers=config.workers,
                             persistent_workers=config.workers > 0))
    log = _CsvLog(out / "log.csv", append=resume) if rank == 0 else None
    running: dict[str, float] = {}
    figures: dict[str, float] = {}
    started = time.monotonic() - elapsed  # a resumed run's clock goes on where it stopped
    clock.started = started
    progress = tqdm(total=config.steps, initial=step, disable=rank != 0 or None,
                    desc=config.name, unit="step")
    while step < config.steps:
        last = step + 1 == config.steps or _out_of_time(clock, world)
        model.train()
        batch = {k: v.to(device) for k, v in next(loader).items()}
        parts = task.loss(model, batch)
        optimiser.zero_grad(set_to_none=True)
        parts["loss"].backward()
        optimiser.step()
        schedule.step()
        step += 1
        for name, value in parts.items():
            running[name] = running.get(name, 0.0) + float(value.detach())
        running["_steps"] = running.get("_steps", 0.0) + 1
        progress.update()
        progress.set_postfix(loss=f"{parts['loss'].item():.4f}")
        if rank == 0 and (step % config.val_every == 0 or last):
            model.eval()
            figures = task.validate(_core(model), validation)
            count = running.pop("_steps", 1.0)
            averages = {k: v / count for k, v in running.items()}
            log.write({"step": step, "seconds": round(time.monotonic() - started, 1),
                       "lr": schedule.get_last_lr()[0], **averages, **figures})
            running = {}
            progress.write(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in
                                                           {**averages, **figures}.items()))
        if rank == 0 and (step % config.checkpoint_every == 0 or last):
            _save_checkpoint(out / "checkpoint.pt", _core(model), optimiser, schedule, step,
                             config, time.monotonic() - started)
        if last:
            break
    progress.close()
    if rank == 0:
        _save_final(out / "final.pt", _core(model), config, step, figures,
                    {"wall_seconds": round(time.monotonic() - started, 1),
                     "hardware": hardware(device, world)})
    if world > 1:
        (out / f"weights-rank{rank}.sha256").write_text(weights_digest(_core(model)) + "\n")
        dist.barrier()
        dist.destroy_process_group()
    return figures


def weights_digest(model: nn.Module) -> str:
    """sha256 of every parameter and buffer, in order: equal digests mean equal weights."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _init_distributed() -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0"))) \
        if torch.cuda.is_available() else torch.device("cpu")
    if world == 1:
        return 0, 1, device
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), world, device


def _core(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)


class _Clock:
    """How far a run is: by steps, or by training time when it has a time budget."""

    def __init__(self, config: TrainConfig) -> None:
        self.steps = config.steps
        self.budget = config.max_minutes * 60.0
        self.started = time.monotonic()

    def progress(self, step: int) -> float:
        """0 at the start, 1 at the last step or when the time budget is spent."""
        done = min(step, self.steps) / self.steps
        if self.budget > 0:
            done = max(done, (time.monotonic() - self.started) / self.budget)
        return min(done, 1.0)


def _out_of_time(clock: _Clock, world: int) -> bool:
    """Whether the time budget is spent; under DDP rank 0 decides, so every rank stops at the
    same step."""
    if clock.budget <= 0:
        return False
    spent = torch.tensor([float(time.monotonic() - clock.started >= clock.budget)])
    if world > 1:
        if dist.get_backend() == "nccl":
            spent = spent.cuda()
        dist.broadcast(spent, src=0)
    return bool(spent.item())


def _schedule(config: TrainConfig, optimiser: torch.optim.Optimizer, clock: _Clock):
    if config.lr_schedule == "cosine":
        # by progress, so that a time-budgeted run still decays to zero at its end
        return torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda s: 0.5 * (1 + math.cos(math.pi * clock.progress(s))))
    return torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: 1.0)


def _initialise(model: nn.Module, source: str) -> None:
    """Start from released weights (an exported .onnx) or another run's final.pt. A residual
    model started from a direct one keeps the U-Nets' features and zeroes their image heads,
    so it starts as its base (see ``enhancers``)."""
    config = getattr(model, "config", None)
    widen = getattr(config, "memory", False)  # a memory network may have gained inputs since
    if source.endswith(".onnx"):
        from nightowl.service.modelrepo.manifest import find_entry, read_manifest
        from nightowl.training.nets.onnx_weights import load_onnx_weights

        load_onnx_weights(model, source, widen=widen)
        entry = find_entry(read_manifest(Path(source).parent), Path(source).name) or {}
        source_config = entry.get("model_config", {})
    else:
        checkpoint = torch.load(source, map_location="cpu", weights_only=False)
        state = checkpoint["model"]
        if widen:
            from nightowl.training.nets.onnx_weights import widened_state

            state = widened_state(state, model)
        model.load_state_dict(state)
        source_config = checkpoint.get("model_config", {})
    formulation = getattr(config, "formulation", None)
    if formulation and formulation != source_config.get("formulation", "direct"):
        from nightowl.training.nets.enhancers import zero_image_heads

        zero_image_heads(model)


def validation_batches(config: TrainConfig, task, device: torch.device) -> list[Batch]:
    make = getattr(task, "val_examples", task.examples)
    samples = config.data.val_samples()
    examples = [make(make_sample(samples, config.data.val_seed, i))
                for i in range(config.data.val_count)]
    size = config.batch_size
    return [stack(examples[i:i + size], device) for i in range(0, len(examples), size)]


def _save_checkpoint(path: Path, model: nn.Module, optimiser, schedule, step: int,
                     config: TrainConfig, seconds: float) -> None:
    staging = path.with_suffix(".partial")
    torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                "schedule": schedule.state_dict(), "step": step, "config": asdict(config),
                "seconds": seconds}, staging)
    staging.replace(path)


def _resume(out: Path, model: nn.Module, optimiser, schedule,
            device: torch.device) -> tuple[int, float]:
    """Load the checkpoint; returns its step and the training seconds spent so far."""
    path = out / "checkpoint.pt"
    if not path.exists():
        raise FileNotFoundError(f"--resume: no checkpoint at {path}")
    checkpoint = torch.load(path, map_location=device, weights_only=False)
    model.load_state_dict(checkpoint["model"])
    optimiser.load_state_dict(checkpoint["optimiser"])
    schedule.load_state_dict(checkpoint["schedule"])
    return int(checkpoint["step"]), float(checkpoint.get("seconds", _logged_seconds(out)))


def _logged_seconds(out: Path) -> float:
    """Seconds of the last logged validation (for checkpoints that did not record them)."""
    log = out / "log.csv"
    if not log.exists():
        return 0.0
    with log.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return float(rows[-1]["seconds"]) if rows else 0.0


def hardware(device: torch.device, world: int = 1) -> str:
    """What a run trained on, e.g. '1 x cpu (Intel Xeon, 2 cores, 2 torch threads)'."""
    if device.type == "cuda":
        return f"{world} x {torch.cuda.get_device_name(device)}"
    cpu = _cpu_name()
    return (f"{world} x cpu ({cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch "
            f"threads)")


def _cpu_name() -> str:
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _save_final(path: Path, model: nn.Module, config: TrainConfig, step: int,
                figures: dict[str, float], run: dict[str, object]) -> None:
    model_config = {"recogniser": config.recogniser_model,
                    "flow": config.flow_model}.get(config.task, config.model)
    staging = path.with_suffix(".partial")
    torch.save({"model": model.state_dict(), "model_config": asdict(model_config),
                "task": config.task, "config": asdict(config), "steps": step,
                "validation": figures, "run": run}, staging)
    staging.replace(path)


class _CsvLog:
    """Appends one row per validation; the header grows if new columns appear."""

    def __init__(self, path: Path, append: bool) -> None:
        self.path = path
        if not append and path.exists():
            path.unlink()

    def write(self, row: dict[str, float]) -> None:
        rows = []
        if self.path.exists():
            with self.path.open(newline="") as handle:
                rows = list(csv.DictReader(handle))
        columns = list(dict.fromkeys([*(rows[0].keys() if rows else []), *row]))
        rows.append({k: f"{v:.6g}" if isinstance(v, float) else v for k, v in row.items()})
        with self.path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            writer.writerows(rows)
