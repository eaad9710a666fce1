"""Fit and check ``nightowl.service.frames.exposure``'s gain estimate: the darkening S of dark
frames from what auto-exposed night scenes look like.

Scenes: photo scenes (a photograph of one split relit for night, vehicles, half of them
photo-textured, and 1-3 moving photo patches, the frame auto-exposed: PHOTO_SCENE) and
rendered night streets (``SceneConfig()``), each darkened by every S in S_VALUES under each
noise model (the scene rendered once, then degraded exactly as
``make_sample(SampleConfig(scene, NoiseConfig(model, s_values=(S,))), seed, i)`` does).
``--fit`` fits the estimator's correction to the exposure rule (exposure.py, GainEstimator)
over the photo "train" split and rendered scenes of the training seed (frame T of each sample,
every noise model; rendered scenes weigh RENDER_WEIGHT, since real cameras expose like the
photo scenes) and writes it to service/frames/gain_estimator.json; the measurement uses that
file. It also prints the floor of the extended model: its per-channel gains scale a frame's
luminance by a factor that no estimate can tell from S, even one that knew the frame's exposure
and its colour ratios exactly. Measured: on the photo "val" split (for choosing) and the photo
"test" split (the final figure; never fitted or tuned on), and on rendered scenes of the
validation and test seeds, the median and 90th percentile of |estimate - S| / S over all S,
for frame T alone (``estimate_gain``) and for the window of T frames (``estimate_window_gain``,
the server's); frame T sent as JPEG (cv2, quality 90) against as PNG (lossless: the frame
itself), the relative difference of the two estimates (median, max); and the flicker of a
camera's estimate over a FLICKER_FRAMES-frame sequence (std / mean of the per-frame window
estimate), raw and smoothed by ``GainTracker``, with the smoothed one's restart on a new scene.

Run: python bench/bench_gain_estimate.py [--fit] [--count 40] [--noise eq6 extended sensor]
     [--jpeg-quality 90]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import time
from collections.abc import Iterator

import cv2
import numpy as np

from nightowl.service.frames.exposure import (
    AE_TARGET,
    ESTIMATOR_FILE,
    LUMA,
    METER,
    S_VALUES,
    TRAINED_GAINS,
    GainEstimator,
    estimate_gain,
    estimate_window_gain,
    gain_features,
)
from nightowl.service.frames.gain_tracker import GainTracker
from nightowl.training.evaluation.testset import TEST_SEED
from nightowl.training.fit.config import DataConfig
from nightowl.training.synth.degrade import NoiseConfig, degrade, draw_noise
from nightowl.training.synth.samples import sample_rng
from nightowl.training.synth.scenes import SceneConfig, render_sequence

MODELS = ("eq6", "extended", "sensor")
SEEDS = {"train": DataConfig().train_seed, "val": DataConfig().val_seed, "test": TEST_SEED}
# the fit's choices, made on the photo "val" split: rendered scenes' weight against photo ones
# (1 served the rendered streets better, 0 the photo scenes), hidden units (8-32 alike), steps
RENDER_WEIGHT = 0.3
HIDDEN = 16
FIT_STEPS = 6000
FIT_LR = 3e-3
WEIGHT_DECAY = 1e-3
FLICKER_FRAMES = 24  # frames of each flicker sequence
FLICKER_S = 25.0


def photo_scene(split: str, frames: int = 4) -> SceneConfig:
    """PHOTO_SCENE: a relit photograph of ``split`` behind the vehicles and moving photo
    patches, as the evaluation's photo split has them."""
    return SceneConfig(frames=frames, photo_backgrounds=1.0, textured_vehicles=0.5,
                       photo_patches=(1, 3), photo_split=split)


def scene_config(kind: str, split: str, frames: int = 4) -> SceneConfig:
    return photo_scene(split, frames) if kind == "photo" else SceneConfig(frames=frames)


def darkened(scene: SceneConfig, model: str, seed: int, index: int,
             s_values: tuple[float, ...] = S_VALUES) -> Iterator[tuple[float, np.ndarray]]:
    """(S, low) for each S: sample ``index`` of ``seed`` rendered once, degraded per S with the
    generator state make_sample would have (the same bytes as make_sample with s_values=(S,))."""
    rng = sample_rng(seed, index)
    params = draw_noise(NoiseConfig(model, s_values=(s_values[0],)), rng)
    sequence = render_sequence(scene, rng, exposure=params.exposure)
    source = sequence.blurred if sequence.blurred is not None else sequence.clean
    for s in s_values:
        yield s, degrade(source, dataclasses.replace(params, s=float(s)), copy.deepcopy(rng))


def jpeg(frame: np.ndarray, quality: int = 90) -> np.ndarray:
    """RGB frame -> the same through cv2's JPEG encoder and decoder."""
    ok, data = cv2.imencode(".jpg", frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]


def fit(count: int, models: tuple[str, ...]) -> GainEstimator:
    """The estimator fitted on frame T of ``count`` photo "train" scenes and ``count`` rendered
    scenes of the training seed per noise model, each darkened by every S: full-batch Adam on
    the weighted squared error of log S (deterministic: seeded, fixed steps)."""
    features, targets, weights = [], [], []
    for kind, weight in (("photo", 1.0), ("render", RENDER_WEIGHT)):
        for model in models:
            for i in range(count):
                for s, low in darkened(scene_config(kind, "train"), model, SEEDS["train"], i):
                    features.append(gain_features(low[-1]))
                    targets.append(np.log(s))
                    weights.append(weight)
    x, w = np.asarray(features), np.asarray(weights) / np.sum(weights)
    rule = np.log(AE_TARGET) - x[:, METER]
    y = np.asarray(targets) - rule  # the correction the rule needs
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / std
    rng = np.random.default_rng(0)
    params = [rng.normal(0, 1 / np.sqrt(z.shape[1]), (z.shape[1], HIDDEN)), np.zeros(HIDDEN),
              rng.normal(0, 0.1 / np.sqrt(HIDDEN), HIDDEN), np.array([y.mean()])]
    moments = [[np.zeros_like(q), np.zeros_like(q)] for q in params]
    for step in range(1, FIT_STEPS + 1):
        hidden = np.tanh(z @ params[0] + params[1])
        residual = (hidden @ params[2] + params[3][0] - y) * w
        back = np.outer(residual, params[2]) * (1 - hidden ** 2)
        grads = [z.T @ back + WEIGHT_DECAY * params[0], back.sum(axis=0),
                 hidden.T @ residual + WEIGHT_DECAY * params[2], np.array([residual.sum()])]
        for q, g, m in zip(params, grads, moments, strict=True):
            m[0] = 0.9 * m[0] + 0.1 * g
            m[1] = 0.999 * m[1] + 0.001 * g * g
            q -= FIT_LR * (m[0] / (1 - 0.9 ** step)) / (np.sqrt(m[1] / (1 - 0.999 ** step)) + 1e-8)
    return GainEstimator(mean=mean, std=std, hidden_weights=params[0], hidden_bias=params[1],
                         output_weights=params[2], output_bias=float(params[3][0]))


def extended_floor(samples: int = 1_000_000) -> dict[str, float]:
    """Median and 90th percentile of the relative error of the best estimate of S under the
    extended model for one that knew each frame's exposure and its colour ratios (red / green,
    blue / green) exactly: the common scale of the channel gains stays unknown. Unclamped, and
    clamped to TRAINED_GAINS as the server's estimate is, with S drawn from S_VALUES as the
    measurement draws it (the clamp cancels the errors that point out of the range at its
    ends: S = 20 read low, S = 30 read high)."""
    low, high = NoiseConfig().channel_gain
    rng = np.random.default_rng(0)
    gains = rng.uniform(low, high, (samples, 3))
    log_luma = np.log(gains @ LUMA.astype(np.float64))
    edges = np.linspace(np.log(low / high), np.log(high / low), 41)
    cells = (np.digitize(np.log(gains[:, 0] / gains[:, 1]), edges) * 64
             + np.digitize(np.log(gains[:, 2] / gains[:, 1]), edges))
    best = np.empty_like(log_luma)  # the estimate: the median log luminance gain of its cell
    order = np.argsort(cells, kind="stable")
    starts = np.flatnonzero(np.diff(cells[order], prepend=-1))
    for begin, end in zip(starts, [*starts[1:], len(order)], strict=True):
        members = order[begin:end]
        best[members] = np.median(log_luma[members])
    error = np.abs(np.exp(best - log_luma) - 1)
    s = rng.choice(np.asarray(S_VALUES, np.float64), samples)
    clamped = np.abs(np.clip(s * np.exp(best - log_luma), *TRAINED_GAINS) - s) / s
    return {"median": float(np.median(error)), "p90": float(np.percentile(error, 90)),
            "clamped median": float(np.median(clamped)),
            "clamped p90": float(np.percentile(clamped, 90))}


def measure(kind: str, split: str, model: str, count: int, quality: int = 90
            ) -> dict[str, float]:
    """Errors of frame T and window estimates, the difference JPEG of ``quality`` makes, and
    the error of the exposure rule alone (AE_TARGET over frame T's meter, clamped) on ``count``
    scenes."""
    frame_err, window_err, jpeg_diff, rule_err = [], [], [], []
    for i in range(count):
        for s, low in darkened(scene_config(kind, split), model, SEEDS[split], i):
            frame = estimate_gain(low[-1])
            frame_err.append(abs(frame - s) / s)
            rule = AE_TARGET / math.exp(gain_features(low[-1])[METER])
            rule_err.append(abs(float(np.clip(rule, *TRAINED_GAINS)) - s) / s)
            window_err.append(abs(estimate_window_gain(low) - s) / s)
            jpeg_diff.append(abs(estimate_gain(jpeg(low[-1], quality)) - frame) / frame)
    return {"frame median": np.median(frame_err), "frame p90": np.percentile(frame_err, 90),
            "window median": np.median(window_err), "window p90": np.percentile(window_err, 90),
            "jpeg median": np.median(jpeg_diff), "jpeg max": np.max(jpeg_diff),
            "rule median": np.median(rule_err), "rule p90": np.percentile(rule_err, 90)}


def flicker(split: str, model: str, count: int) -> tuple[float, float]:
    """Median over ``count`` photo sequences of FLICKER_FRAMES frames at FLICKER_S of the std /
    mean of the raw and the smoothed per-frame estimate (window of the last 4 frames)."""
    raw_flicker, smooth_flicker = [], []
    scene = photo_scene(split, FLICKER_FRAMES)
    for i in range(count):
        _, low = next(darkened(scene, model, SEEDS[split], i, (FLICKER_S,)))
        tracker = GainTracker()
        raw, smooth = [], []
        for t in range(len(low)):
            raw.append(estimate_window_gain(low[max(0, t - 3):t + 1]))
            smooth.append(tracker.update(raw[-1]))
        raw_flicker.append(np.std(raw) / np.mean(raw))
        smooth_flicker.append(np.std(smooth) / np.mean(smooth))
    return float(np.median(raw_flicker)), float(np.median(smooth_flicker))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true",
                        help="fit the estimator on the train split and write its file")
    parser.add_argument("--fit-count", type=int, default=120,
                        help="training scenes per kind and noise model (default 120)")
    parser.add_argument("--count", type=int, default=40,
                        help="scenes per split, kind and noise model (default 40)")
    parser.add_argument("--flicker-count", type=int, default=6,
                        help="sequences per noise model for the flicker (default 6)")
    parser.add_argument("--noise", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--jpeg-quality", type=int, default=90,
                        help="quality of the JPEG frame T is compared as (default 90)")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.fit:
        estimator = fit(args.fit_count, tuple(args.noise))
        ESTIMATOR_FILE.write_text(estimator.to_json(
            fitted_by=f"python bench/bench_gain_estimate.py --fit --fit-count {args.fit_count}",
            data=f"frame T of {args.fit_count} photo 'train' scenes and {args.fit_count} "
                 f"rendered scenes of seed {SEEDS['train']} (weight {RENDER_WEIGHT}) per noise "
                 f"model ({', '.join(args.noise)}), each darkened by S in {S_VALUES}",
            features="gain_features", hidden=HIDDEN))
        print(f"wrote {ESTIMATOR_FILE} ({time.perf_counter() - start:.0f} s); rerun without "
              "--fit to measure it")
        return
    floor = extended_floor()
    print(f"floor of the extended model (exposure and colour ratios known): median "
          f"{floor['median']:.1%}, 90th percentile {floor['p90']:.1%}; clamped to "
          f"{TRAINED_GAINS[0]:g}-{TRAINED_GAINS[1]:g} as the estimate is, over S in {S_VALUES}: "
          f"median {floor['clamped median']:.1%}, 90th percentile {floor['clamped p90']:.1%}")
    print(f"relative error |estimate - S| / S over S in {S_VALUES}, {args.count} scenes per "
          f"row; JPEG: frame T as JPEG q{args.jpeg_quality} vs as PNG, relative difference "
          "of the estimates")
    print(f"{'scenes':22} {'noise':9} {'frame T med':>11} {'p90':>6} {'window med':>10} "
          f"{'p90':>6} {'JPEG med':>8} {'max':>6} {'rule med':>8} {'p90':>6}")
    for kind, split in (("photo", "val"), ("photo", "test"), ("render", "val"),
                        ("render", "test")):
        name = f"{kind} {split}" if kind == "photo" else f"rendered, seed {SEEDS[split]}"
        for model in args.noise:
            r = measure(kind, split, model, args.count, args.jpeg_quality)
            print(f"{name:22} {model:9} {r['frame median']:11.1%} {r['frame p90']:6.1%} "
                  f"{r['window median']:10.1%} {r['window p90']:6.1%} {r['jpeg median']:8.2%} "
                  f"{r['jpeg max']:6.2%} {r['rule median']:8.1%} {r['rule p90']:6.1%}",
                  flush=True)
    print(f"flicker: std / mean of a camera's per-frame estimate over {FLICKER_FRAMES} frames, "
          f"S = {FLICKER_S:g}, {args.flicker_count} photo sequences (median)")
    for split in ("val", "test"):
        for model in args.noise:
            raw, smooth = flicker(split, model, args.flicker_count)
            print(f"photo {split:5} {model:9} raw {raw:6.2%}  smoothed {smooth:6.2%}",
                  flush=True)
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
