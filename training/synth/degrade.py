"""Low-light degradation: the paper's Eq. 6 and an extended, physically based camera model.

Eq. 6 (the default):  I_low = Q(I / S + N), with N ~ Gaussian(0, sigma) per pixel and channel,
and Q rounding to the nearest 8-bit level (values clipped to [0, 255]). S is drawn per sequence
from S_VALUES (service/frames/exposure.py, {20, 22, 25, 28, 30}); every frame of a sequence
shares S but gets its own noise.

Extended model, in the order a camera applies it (all levels are 8-bit levels of the dark image):
1. exposure motion blur: the renderer averages sub-frames while the shutter is open
   (``exposure`` = open fraction of the frame interval; 0 means a sharp frame);
2. illuminant/sensor colour shift: channel c is multiplied by ``channel_gain[c]``;
3. shot noise: ``Poisson(signal * electrons_per_level) / electrons_per_level``;
4. read noise: Gaussian with std ``read_noise``;
5. Q: rounding to 8 bits;
6. JPEG compression at ``jpeg_quality`` (0 = none).

Sensor model ("sensor"), a raw camera pipeline with published noise ranges:
1. the dark frame is taken as linear raw intensity and un-white-balanced: red divided by a gain
   in RED_GAINS, blue by one in BLUE_GAINS (Brooks et al., "Unprocessing Images for Learned
   Raw Denoising", CVPR 2019, section 3.2);
2. with ``demosaic`` it is mosaicked to an RGGB Bayer pattern;
3. Poisson-Gaussian noise (Foi et al., "Practical Poissonian-Gaussian noise modeling and
   fitting for single-image raw-data", IEEE TIP 2008): variance = shot * x + read, x in [0, 1]
   of full scale, with shot log-uniform in SHOT_NOISE and log(read) = 2.18 log(shot) + 1.2
   + N(0, 0.26) (Brooks et al., the fit to their cameras);
4. demosaicked (OpenCV's bilinear Bayer demosaicing), which correlates the noise between
   neighbouring pixels and channels; white balance restored (mean colour unchanged, the red
   and blue noise amplified by their gains);
5. Q, then JPEG at ``jpeg_quality`` or H.264 at ``h264_crf`` (through PyAV's bundled FFmpeg,
   libx264, the T frames as one clip), or neither.

"mixture" (training) draws each sequence's model with ``NoiseConfig.mixture_weights`` (default
MIXTURE_WEIGHTS). No model is told which was drawn: a server knows only the frames (and the
gain, when told).

Any model can be shot by a monochrome camera (``NoiseParams.mono``, drawn with
``mono_probability``; ``monochrome`` turns a draw into its mono twin): the frames are grey on
three equal channels (``training/synth/infrared.py``), and the camera has no Bayer mosaic and
no colour gains; each pixel, having no colour filter, takes the light of all three filters, so
its noise is the mean of three draws of the model's (a third of the variance), rounded to one
8-bit value. The dark frames stay grey through the codec.
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, replace
from typing import Literal

import cv2
import numpy as np

from nightowl.service.frames.exposure import S_VALUES

NoiseModel = Literal["eq6", "extended", "sensor", "mixture"]
NOISE_MODELS: tuple[str, ...] = ("eq6", "extended", "sensor", "mixture")
SHOT_NOISE = (1e-4, 1.2e-2)  # sensor: shot-noise variance per unit of signal (Brooks et al.)
RED_GAINS = (1.9, 2.4)  # sensor: white-balance gains of red and blue (Brooks et al.)
BLUE_GAINS = (1.5, 1.9)
MIXTURE_WEIGHTS = {"eq6": 0.35, "extended": 0.25, "sensor": 0.4}


@dataclass(frozen=True)
class NoiseConfig:
    """Ranges from which each sequence's degradation is drawn."""

    model: NoiseModel = "eq6"
    s_values: tuple[float, ...] = S_VALUES  # darkening factor S, drawn uniformly
    sigma: float = 2.0  # eq6: std of N, in 8-bit levels of the dark image
    electrons_per_level: tuple[float, float] = (2.0, 8.0)  # extended: fewer = more shot noise
    read_noise: tuple[float, float] = (0.8, 2.5)  # extended: std, 8-bit levels
    channel_gain: tuple[float, float] = (0.75, 1.25)  # extended: per-channel gain range
    motion_blur_probability: float = 0.5  # extended: sequences shot with exposure blur
    exposure: tuple[float, float] = (0.3, 0.9)  # extended: shutter-open fraction when blurred
    jpeg_probability: float = 0.5  # extended: sequences JPEG-compressed
    jpeg_quality: tuple[int, int] = (35, 90)  # extended, sensor: JPEG quality range
    demosaic_probability: float = 0.7  # sensor: sequences shot through a Bayer mosaic
    h264_probability: float = 0.25  # sensor: sequences H.264-compressed (else JPEG or none)
    h264_crf: tuple[int, int] = (18, 32)  # sensor: x264 constant rate factor range
    mono_probability: float = 0.0  # any model: sequences shot by a monochrome (IR) camera
    mixture_weights: tuple[float, float, float] = tuple(MIXTURE_WEIGHTS.values())  # mixture:
    #   the share of eq6, extended and sensor sequences

    def __post_init__(self) -> None:
        if self.model not in NOISE_MODELS:
            raise ValueError(f"noise model must be one of {', '.join(NOISE_MODELS)}, got "
                             f"{self.model!r}")
        if not self.s_values or min(self.s_values) <= 1:
            raise ValueError(f"S values must be > 1, got {self.s_values}")
        if self.sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {self.sigma}")
        if (len(self.mixture_weights) != len(MIXTURE_WEIGHTS) or min(self.mixture_weights) < 0
                or sum(self.mixture_weights) <= 0):
            raise ValueError(f"mixture_weights must be {len(MIXTURE_WEIGHTS)} shares >= 0 of "
                             f"{', '.join(MIXTURE_WEIGHTS)}, not all 0, got "
                             f"{self.mixture_weights}")
        if not 0 <= self.mono_probability <= 1:
            raise ValueError(f"mono_probability must be in [0, 1], got {self.mono_probability}")


@dataclass(frozen=True)
class NoiseParams:
    """The degradation actually applied to one sequence (written to its JSON)."""

    model: NoiseModel
    s: float
    sigma: float = 0.0
    electrons_per_level: float = 0.0
    read_noise: float = 0.0
    channel_gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    exposure: float = 0.0
    jpeg_quality: int = 0
    shot: float = 0.0  # sensor: shot-noise variance per unit signal
    read: float = 0.0  # sensor: read-noise variance (units of full scale squared)
    demosaic: bool = False
    h264_crf: int = 0  # 0: no H.264
    mono: bool = False  # a monochrome camera: grey frames, one 8-bit value per pixel

    def to_dict(self) -> dict:
        return asdict(self)


def draw_noise(config: NoiseConfig, rng: np.random.Generator) -> NoiseParams:
    """Draw one sequence's degradation parameters (a colour camera's draws are the same as
    before mono cameras existed: the mono draw comes last, and only when it can be drawn)."""
    params = _draw_colour(config, rng)
    if config.mono_probability > 0 and rng.random() < config.mono_probability:
        return monochrome(params)
    return params


def monochrome(params: NoiseParams) -> NoiseParams:
    """The same camera with a monochrome sensor: no mosaic, one gain for the three channels
    (the mean of the colour gains for the extended model, 1 for the raw pipeline, whose white
    balance a mono sensor does not have)."""
    gain = float(np.mean(params.channel_gain)) if params.model == "extended" else 1.0
    return replace(params, mono=True, demosaic=False, channel_gain=(gain, gain, gain))


def _draw_colour(config: NoiseConfig, rng: np.random.Generator) -> NoiseParams:
    s = float(config.s_values[int(rng.integers(len(config.s_values)))])
    model = config.model
    if model == "mixture":
        names = list(MIXTURE_WEIGHTS)
        weights = np.asarray(config.mixture_weights, np.float64)
        model = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    if model == "eq6":
        return NoiseParams(model="eq6", s=s, sigma=config.sigma)
    if model == "sensor":
        return _draw_sensor(config, s, rng)
    exposure = (float(rng.uniform(*config.exposure))
                if rng.random() < config.motion_blur_probability else 0.0)
    quality = (int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
               if rng.random() < config.jpeg_probability else 0)
    gain = rng.uniform(*config.channel_gain, size=3)
    return NoiseParams(model="extended", s=s,
                       electrons_per_level=float(rng.uniform(*config.electrons_per_level)),
                       read_noise=float(rng.uniform(*config.read_noise)),
                       channel_gain=(float(gain[0]), float(gain[1]), float(gain[2])),
                       exposure=exposure, jpeg_quality=quality)


def _draw_sensor(config: NoiseConfig, s: float, rng: np.random.Generator) -> NoiseParams:
    shot = float(np.exp(rng.uniform(*np.log(SHOT_NOISE))))
    read = float(np.exp(2.18 * np.log(shot) + 1.2 + rng.normal(0, 0.26)))
    wb = (float(rng.uniform(*RED_GAINS)), 1.0, float(rng.uniform(*BLUE_GAINS)))
    demosaic = bool(rng.random() < config.demosaic_probability)
    crf = quality = 0
    codec = rng.random()
    if codec < config.h264_probability:
        crf = int(rng.integers(config.h264_crf[0], config.h264_crf[1] + 1))
    elif codec < config.h264_probability + config.jpeg_probability:
        quality = int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1))
    return NoiseParams(model="sensor", s=s, channel_gain=wb, shot=shot, read=read,
                       demosaic=demosaic, jpeg_quality=quality, h264_crf=crf)


def degrade(frames: np.ndarray, params: NoiseParams, rng: np.random.Generator) -> np.ndarray:
    """Dark, noisy uint8 frames from clean uint8 RGB frames of any leading shape (..., 3)."""
    if params.mono:
        return _grey(_mono(frames, params, rng))
    if params.model == "eq6":
        return eq6(frames, params.s, params.sigma, rng)
    if params.model == "sensor":
        return sensor(frames, params, rng)
    return extended(frames, params, rng)


def _mono(frames: np.ndarray, params: NoiseParams, rng: np.random.Generator) -> np.ndarray:
    """A monochrome camera: a pixel without a colour filter takes the light that a colour
    pixel's three filters split between them, so its noisy signal is the mean of three draws
    of ``params.model``'s noise on grey ``frames`` (..., H, W, 3), one 8-bit value per pixel
    (three equal channels until the codec)."""
    _check_frames(frames)
    grey = frames.astype(np.float32)  # grey: the three channels are equal
    if params.model == "eq6":
        signal = grey * np.float32(1.0 / params.s) + _gaussian(grey.shape, params.sigma, rng)
    elif params.model == "sensor":
        signal = _poisson_gaussian(grey * np.float32(1 / (255 * params.s)), params, rng) * 255
    else:
        k = params.electrons_per_level
        gain = np.float32(params.channel_gain[0] / params.s)
        signal = rng.poisson(grey * gain * k).astype(np.float32) / np.float32(k)
        signal += _gaussian(grey.shape, params.read_noise, rng)
    signal = signal.mean(axis=-1, keepdims=True, dtype=np.float32)
    return _codec(_quantise(np.repeat(signal, 3, axis=-1)), params)


def _grey(frames: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) uint8 -> its BT.601 luma on three equal channels (what a grey camera's
    decoder gives: the codec's rounding leaves the channels a level apart)."""
    weights = np.asarray([0.299, 0.587, 0.114], np.float32)
    luma = np.rint(frames.astype(np.float32) @ weights).astype(np.uint8)
    return np.repeat(luma[..., None], 3, axis=-1)


def sensor(frames: np.ndarray, params: NoiseParams, rng: np.random.Generator) -> np.ndarray:
    """The raw-pipeline model (see the module docstring): (..., H, W, 3) uint8 clean frames ->
    dark frames, the clean mean colour kept (white balance undone and redone)."""
    _check_frames(frames)
    wb = np.asarray(params.channel_gain, np.float32)
    raw = frames.astype(np.float32) * (np.float32(1 / (255 * params.s)) / wb)
    shape = raw.shape
    flat = raw.reshape(-1, *shape[-3:])
    out = np.empty(flat.shape, np.float32)
    for i, frame in enumerate(flat):
        if params.demosaic:
            mosaic = _mosaic(frame)
            noisy = _poisson_gaussian(mosaic, params, rng)
            bayer = np.clip(noisy * 65535 + 0.5, 0, 65535).astype(np.uint16)
            # OpenCV names Bayer patterns from the second row: RGGB is its "BG"
            out[i] = cv2.cvtColor(bayer, cv2.COLOR_BayerBG2RGB).astype(np.float32) / 65535
        else:
            out[i] = _poisson_gaussian(frame, params, rng)
    return _codec(_quantise((out * wb * 255).reshape(shape)), params)


def _codec(low: np.ndarray, params: NoiseParams) -> np.ndarray:
    """The camera's compression of its 8-bit frames: H.264, JPEG or none."""
    if params.h264_crf:
        return _h264(low, params.h264_crf)
    if params.jpeg_quality:
        return _jpeg(low, params.jpeg_quality)
    return low


def _mosaic(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) RGGB Bayer samples."""
    mosaic = np.empty(frame.shape[:2], np.float32)
    mosaic[0::2, 0::2] = frame[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = frame[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = frame[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = frame[1::2, 1::2, 2]
    return mosaic


def _poisson_gaussian(signal: np.ndarray, params: NoiseParams,
                      rng: np.random.Generator) -> np.ndarray:
    """Signal in [0, 1] of full scale plus heteroscedastic Gaussian noise of variance
    shot * x + read (the Gaussian approximation of Poisson-Gaussian noise)."""
    std = np.sqrt(np.maximum(signal, 0) * np.float32(params.shot) + np.float32(params.read))
    return signal + std * rng.standard_normal(signal.shape, dtype=np.float32)


def _h264(frames: np.ndarray, crf: int) -> np.ndarray:
    """(T, H, W, 3) or (..., T, H, W, 3) uint8 frames through an H.264 encode and decode."""
    import av  # PyAV: its wheels carry FFmpeg with libx264

    flat = frames.reshape(-1, *frames.shape[-4:]) if frames.ndim > 4 else frames[None]
    out = np.empty_like(flat)
    for k, clip in enumerate(flat):
        height, width = clip.shape[1:3]
        even = np.pad(clip, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="h264") as container:
            stream = container.add_stream("libx264", rate=25)
            stream.width, stream.height = even.shape[2], even.shape[1]
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(crf), "preset": "veryfast", "tune": "zerolatency"}
            for image in even:
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        buffer.seek(0)
        with av.open(buffer, "r", format="h264") as container:
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        if len(decoded) != len(clip):
            raise RuntimeError(f"H.264 round trip returned {len(decoded)} of {len(clip)} frames")
        out[k] = np.stack(decoded)[:, :height, :width]
    return out.reshape(frames.shape)


def eq6(frames: np.ndarray, s: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """The paper's Eq. 6: ``Q(I / S + N)`` with Gaussian ``N`` of std ``sigma`` (8-bit levels)."""
    _check_frames(frames)
    signal = frames.astype(np.float32) * np.float32(1.0 / s)
    signal += _gaussian(frames.shape, sigma, rng)
    return _quantise(signal)


def extended(frames: np.ndarray, params: NoiseParams,
             rng: np.random.Generator) -> np.ndarray:
    """Shot + read noise with a colour shift and optional JPEG (see the module docstring).

    Motion blur is not applied here: pass frames rendered with ``exposure`` (``Sequence.blurred``).
    """
    _check_frames(frames)
    gain = np.asarray(params.channel_gain, np.float32) / np.float32(params.s)
    signal = frames.astype(np.float32) * gain
    k = params.electrons_per_level
    signal = rng.poisson(signal * k).astype(np.float32) / np.float32(k)
    signal += _gaussian(frames.shape, params.read_noise, rng)
    low = _quantise(signal)
    if params.jpeg_quality:
        low = _jpeg(low, params.jpeg_quality)
    return low


def _check_frames(frames: np.ndarray) -> None:
    if frames.dtype != np.uint8 or frames.ndim < 3 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 RGB frames of shape (..., H, W, 3), got "
                         f"{frames.dtype} {frames.shape}")


def _gaussian(shape: tuple[int, ...], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise from OpenCV's generator (4x faster than numpy's), seeded from ``rng``."""
    noise = np.empty((int(np.prod(shape[:-1])), shape[-1]), np.float32)
    if sigma == 0:
        noise[:] = 0
    else:
        cv2.setRNGSeed(int(rng.integers(2**31 - 1)))
        cv2.randn(noise, 0.0, float(sigma))
    return noise.reshape(shape)


def _quantise(signal: np.ndarray) -> np.ndarray:
    np.rint(signal, out=signal)
    np.clip(signal, 0, 255, out=signal)
    return signal.astype(np.uint8)


def _jpeg(frames: np.ndarray, quality: int) -> np.ndarray:
    out = np.empty_like(frames)
    flat_in, flat_out = frames.reshape(-1, *frames.shape[-3:]), out.reshape(-1, *frames.shape[-3:])
    for src, dst in zip(flat_in, flat_out, strict=True):
        ok, data = cv2.imencode(".jpg", src[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        dst[:] = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    return out
