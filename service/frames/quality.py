"""Image quality against a reference, for images in [0, 1]: the one PSNR, SSIM and block colour
error of nightowl (the evaluation, the int8 copies' bound, the training loop's validation and the
benches)."""

from __future__ import annotations

import cv2
import numpy as np

_C1, _C2 = 0.01**2, 0.03**2  # SSIM constants for a data range of 1


def psnr(output: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    """PSNR in dB (peak 1) of images in [0, 1] of any one shape, (H, W, 3) say, over the pixels
    where ``mask`` (H, W) is True (all pixels when None); None when the mask selects nothing."""
    error = (output.astype(np.float32) - target.astype(np.float32)) ** 2
    if mask is not None:
        if not mask.any():
            return None
        error = error[mask]
    return float(-10 * np.log10(max(float(error.mean()), 1e-10)))


def psnr_each(output: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(N,) PSNR in dB of each item of ``output`` (N, ...) against ``reference`` (N, ...)."""
    return np.array([psnr(o, r) for o, r in zip(output, reference, strict=True)])


def ssim(output: np.ndarray, target: np.ndarray) -> float:
    """Mean SSIM of (H, W, 3) images in [0, 1] (Gaussian window, sigma 1.5, channel mean)."""
    x, y = output.astype(np.float32), target.astype(np.float32)

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    index = ((2 * mx * my + _C1) * (2 * cxy + _C2)) / ((mx * mx + my * my + _C1) * (vx + vy + _C2))
    return float(index.mean())


def colour_error(output: np.ndarray, target: np.ndarray, block: int = 16) -> float:
    """Mean absolute difference, in 8-bit levels averaged over channels, of the ``block`` x
    ``block`` means of (H, W, 3) images in [0, 1]: how far colour and brightness are off,
    blind to the noise and fine detail that PSNR and SSIM also weigh. Edge rows and columns
    that fill no whole block are left out."""
    height, width = target.shape[0] // block * block, target.shape[1] // block * block
    if not height or not width:
        raise ValueError(f"images must be at least {block} x {block} px, got {target.shape}")

    def means(image: np.ndarray) -> np.ndarray:
        cut = image[:height, :width].astype(np.float32)
        return cut.reshape(height // block, block, width // block, block, -1).mean(axis=(1, 3))

    return float(np.abs(means(output) - means(target)).mean() * 255)
