"""An independent reader: Tesseract OCR (Debian's ``tesseract-ocr``) on enlarged plate crops.

Nobody here trained it, so it cannot be flattered by outputs tuned to our recogniser. Each crop
is the plate's text region, in grey, scaled so that text lines are about
:data:`LINE_HEIGHT` px tall, stretched to the full range and made dark-on-light (plates with
light ink are inverted, judged from the crop itself). Many crops go to one ``tesseract`` call.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

from nightowl.training.evaluation.reading import plate_box, plate_rows
from nightowl.training.nets.recogniser_output import CHARSET
from nightowl.training.synth.scenes import PlateLabel

LINE_HEIGHT = 48.0  # px, text lines are scaled to this height
PAD = 0.0  # margin around the ink, in line heights: plate borders next to the text confuse
# Tesseract (both chosen on clean plates of a seed that is not the test set's)
WHITELIST = CHARSET + "-"  # the dash helps Tesseract segment; it is dropped from the read
INSTALL = "install Debian's tesseract-ocr package (apt-get install tesseract-ocr)"


class OcrUnavailableError(RuntimeError):
    """The tesseract binary is missing or does not run."""


def check_tesseract() -> str:
    """The tesseract binary's path; raises :class:`OcrUnavailableError` naming how to install it."""
    path = shutil.which("tesseract")
    if path is None:
        raise OcrUnavailableError(f"the OCR column needs Tesseract, which is not on PATH: "
                                  f"{INSTALL}")
    return path


def plate_crop(image: np.ndarray, plate: PlateLabel) -> np.ndarray:
    """(h, w) uint8 dark-on-light enlarged crop of the plate's text from (H, W, 3) uint8 RGB."""
    rows = plate_rows(plate)
    line = max(r.height for r in rows)
    x0, y0, x1, y1 = plate_box(plate)
    pad = PAD * line
    height, width = image.shape[:2]
    left, top = max(0, int(x0 - pad)), max(0, int(y0 - pad))
    right, bottom = min(width, int(np.ceil(x1 + pad))), min(height, int(np.ceil(y1 + pad)))
    grey = cv2.cvtColor(image[top:bottom, left:right], cv2.COLOR_RGB2GRAY).astype(np.float32)
    scale = float(np.clip(LINE_HEIGHT / line, 1.0, 8.0))
    grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    lo, hi = np.percentile(grey, (1, 99))
    grey = np.clip((grey - lo) / max(hi - lo, 1.0), 0, 1)
    if np.median(grey) < 0.5:  # light ink on a dark plate
        grey = 1.0 - grey
    grey = (grey * 255 + 0.5).astype(np.uint8)
    return cv2.copyMakeBorder(grey, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=255)


def read_crops(crops: list[tuple[np.ndarray, int]], tesseract: str | None = None) -> list[str]:
    """Tesseract's reading of each (crop, text line count), restricted to the plate charset."""
    binary = tesseract or check_tesseract()
    reads = [""] * len(crops)
    for single in (True, False):
        chosen = [i for i, (_, lines) in enumerate(crops) if (lines == 1) == single]
        if chosen:
            texts = _run(binary, [crops[i][0] for i in chosen], psm=7 if single else 6)
            for i, text in zip(chosen, texts, strict=True):
                reads[i] = "".join(c for c in text.upper() if c in CHARSET)
    return reads


def _run(binary: str, images: list[np.ndarray], psm: int) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="nightowl-ocr-") as folder:
        paths = []
        for i, image in enumerate(images):
            path = Path(folder) / f"{i:05d}.png"
            cv2.imwrite(str(path), image)
            paths.append(str(path))
        listing = Path(folder) / "images.txt"
        listing.write_text("\n".join(paths) + "\n")
        command = [binary, str(listing), "stdout", "--psm", str(psm), "-l", "eng",
                   "-c", f"tessedit_char_whitelist={WHITELIST}", "tsv"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                                    env={**os.environ, "OMP_THREAD_LIMIT": "1"})
        except OSError as error:
            raise OcrUnavailableError(f"tesseract did not run ({error}): {INSTALL}") from None
        if result.returncode != 0:
            raise OcrUnavailableError(f"tesseract failed (exit {result.returncode}): "
                                 f"{result.stderr.strip()[-300:]}")
    return _pages(result.stdout, len(images))


def _pages(tsv: str, count: int) -> list[str]:
    """The text of each page from Tesseract's TSV output (words in reading order)."""
    pages: list[list[str]] = [[] for _ in range(count)]
    seen = set()
    for line in tsv.splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) < 12 or not fields[1].isdigit():
            continue
        page = int(fields[1]) - 1
        if not 0 <= page < count:
            raise OcrUnavailableError(f"tesseract reported page {page + 1} of {count} images")
        seen.add(page)
        if fields[0] == "5":
            pages[page].append(fields[11])
    if len(seen) != count:
        raise OcrUnavailableError(f"tesseract reported {len(seen)} pages for {count} images")
    return [" ".join(words) for words in pages]
