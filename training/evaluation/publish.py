"""The committed evaluation page: ``EVAL.md`` with the run's tables and its pictures.

``nightowl eval --publish models`` writes ``models/EVAL.md`` and ``models/eval/`` (the synthetic
contact sheet as a JPEG at 3/4 size, the photo contact sheet at full size, and the plot), so the
page always comes from one whole run.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from nightowl.training.evaluation.testset import PHOTO_SEED

# split -> (file under eval/, scale, JPEG quality): the photo sheet stays at full size, so that
# plates and colours can be judged on it
SHEET_FILES = {"synthetic": ("contact_sheet.jpg", 0.75, 82),
               "photo": ("contact_sheet_photo.jpg", 1.0, 90),
               "mono": ("contact_sheet_mono.jpg", 0.75, 82)}

HEAD = """# Evaluation: the paper's Table 1 on nightowl's test sets

Produced by `nightowl eval` (`training/evaluation/`) on the files in
this folder. Exact command (run from the repository root; {elapsed_s:.0f} s,
{hardware}):

```
{command}
```

`report.json` (the rows below, per S and overall, with intervals, and the targets) and
`report.md` are written under `--out`; this page holds that run's tables and pictures.
`nightowl eval --quick` runs the same on one sequence of each split; `--publish models`
rewrites this page.

## How it is measured

- **Test sets** ({split_counts}): 256x256 sequences, T = 4, in splits with their own data
  set seeds, which no training or validation config uses. *synthetic* (seed {test_seed}): the
  generator's rendered night streets (`SceneConfig()` defaults). *photo* (seed {photo_seed}):
  relit photographs as static scenes, half the vehicles textured with photographs and 1-3 free
  moving photo patches, every photograph from the "test" split of the Debian wallpaper
  packages (`training/synth/photos.py`, split by file hash, so no network was trained on them).
  *mono*: the first synthetic sequences again, seen by a monochrome camera under an infrared
  illuminator (`training/synth/infrared.py`: grey with IR-like contrast, light foliage, the
  beam's falloff) with each noise model's mono twin (no mosaic or colour gains; a pixel
  without a colour filter takes the light of all three, so its noise is the mean of three
  draws, rounded to one 8-bit value); every method gets the grey frame on three equal channels
  and is scored on the luma of its answer, as the server answers a grey frame.
  Paired design: each clean sequence is rendered once and darkened under every condition:
  S in {{20, 22, 25, 28, 30}} x three noise models, each its own table: the paper's Eq. 6
  (sigma 2); the extended camera model (shot and read noise, colour shift, motion blur and
  JPEG in half of the sequences); and the sensor model (a raw pipeline: white balance undone,
  Bayer mosaic in 70% of the sequences, Poisson-Gaussian noise, demosaicking, then JPEG or
  H.264) (`training/synth/degrade.py`). The extended and sensor cameras are drawn once per
  sequence; each condition replaces only their S.
- **Rows**: *ground truth* (the clean frame T); *gain* (dark frame T times S); *classical*
  (the 4 frames aligned onto frame T with the server's optical flow,
  `nightowl.service.frames.alignment.align_to_last`, averaged, times S, then OpenCV's non-local
  means `fastNlMeansDenoisingColored` with h = 0.8 x the estimated noise std, chosen by PSNR on a
  seed outside the test set); the four shipped networks. These rows are told the true S: a
  network trained on exposure-normalised frames (`reference_gain` in its manifest entry) gets
  its input scaled by S / reference_gain, as in training and as the server does with a told
  gain; a network without one takes the frames as captured, so S changes nothing for it. The
  served default is `mim_l1_cr.onnx`, the *MIM L1+L_CR* row.
- **Estimated rows** (*... (estimated gain)*): classical and each network again, told instead
  the server's own estimate of S from the T dark frames
  (`nightowl.service.frames.exposure.estimate_window_gain`, what a camera that sends no gain
  gets on its first full window; later windows are also smoothed over time; its time is
  included). *gain* is told S only. The *S told* column is the mean S a row was
  told: the true mean for told rows, the estimate's mean for estimated ones.
- **Precision**: the networks ran in **{precision}** on ONNX Runtime's CPU engine, as the
  server runs them there (`--precision`; int8: each file's listed `*.int8.onnx` copy, the
  server's CPU default; fp32: the files themselves).
- **Correct-answer rate** (the paper's measure): characters read correctly / all characters,
  over every plate whose characters are all visible on frame T. Each plate is read as a
  *string* and aligned with the truth by edit distance: a plate of n characters scores
  max(0, n - distance), so a wrong, missed or extra character each count as wrong
  (`training/evaluation/scoring.py`).
  - *our recogniser* (`recogniser.onnx`, the network behind L_CR): it is given only the plate's
    text lines (where each row of characters lies) and finds the characters itself: along each
    row, the most likely class per 4-px cell column, runs of one class read as one character
    (`training/evaluation/reading.py`). Validation reads at the true character boxes instead,
    which is why the ground-truth row is a little below the model card's figure.
  - *Tesseract* 5 (Debian's `tesseract-ocr`, LSTM, `eng`), trained by nobody here: the
    plate's text region in grey, scaled to 48-px lines, stretched, made dark-on-light,
    whitelisted to the plate characters (`training/evaluation/ocr.py`). It reads clean
    synthetic plates imperfectly (the ground-truth row), so compare rows against that ceiling.
  - 95% intervals: percentile bootstrap over the test sequences, within each split (2000
    resamples; characters of one sequence are not independent). Differences between rows use
    the same resamples (paired) and are called significant when their interval excludes the
    target's line.
- **PSNR / SSIM**: against the clean frame T, whole frame (SSIM: Gaussian window sigma 1.5,
  channel mean), and PSNR on the *moving* pixels only (the generator's true moving-object mask
  of frame T), averaged over sequences.
- **Colour error**: how far colour and brightness are off, blind to noise and fine detail: the
  mean absolute difference between the 16x16-px block means of the output and of the clean
  frame T, in 8-bit levels, averaged over the three channels
  (`nightowl.service.frames.quality.colour_error`).
- **ms/frame**: wall time to produce one output frame, one thread of ONNX Runtime / OpenCV per
  process, measured inside the run while the worker processes shared the machine with other
  work; the multi-frame rows include the alignment. Compare rows with each other, not with the
  serving benchmarks.
- **Targets**, per split and noise model: MIM L1+L_CR against classical (whole-frame PSNR at
  least 1 dB higher, lower colour error, at least as many characters read by each recogniser),
  each with the gain told and with it estimated; the paper's ordering (SIM L1 < SIM L1+L_CR,
  MIM L1 < MIM L1+L_CR, SIM < MIM); and, on the synthetic split under Eq. 6, MIM L1+L_CR's
  rate over the ground truth's at S = 30.

{pictures}

![Correct-answer rate against S, per method, split and noise model](eval/rate_vs_s.png)

## Results

"""

CAPTIONS = {
    "synthetic": ("Contact sheet: each method on synthetic test sequences, plates enlarged",
                  "*Synthetic test sequences 0-5 under Eq. 6 at S = 20, 22, 25, 28, 30, 20: the "
                  "dark frame brightened by S, the classical baseline, SIM L1, SIM L1+L_CR, "
                  "MIM L1, MIM L1+L_CR and the clean frame, each with its plate enlarged below "
                  "(the red box on the frame).*"),
    "photo": ("Contact sheet: each method on photo test sequences, at full size",
              "*Photo test sequences 0-5 under the sensor model at S = 20, 22, 25, 28, 30, 20, "
              "at the frames' own 256x256 size: the same columns, and MIM L1+L_CR told the "
              "estimated gain before the clean frame; the first scored plate, if any, enlarged "
              "below.*"),
    "mono": ("Contact sheet: each method on grey (mono) test sequences, plates enlarged",
             "*Mono test sequences 0-5 (the synthetic ones seen by a monochrome IR camera) "
             "under Eq. 6's mono twin at S = 20, 22, 25, 28, 30, 20: the same columns as the "
             "synthetic sheet, every answer the luma of the method's output.*"),
}


def publish(folder: Path, report: dict, tables: str, sheets: dict[str, np.ndarray],
            plot: np.ndarray) -> Path:
    """Write ``folder``/EVAL.md and its pictures from one run; returns the page's path."""
    pictures = folder / "eval"
    pictures.mkdir(parents=True, exist_ok=True)
    shown = []
    for split, sheet in sheets.items():
        name, scale, quality = SHEET_FILES[split]
        if scale != 1:
            sheet = cv2.resize(sheet, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(pictures / name), sheet[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        alt, caption = CAPTIONS[split]
        shown.append(f"![{alt}](eval/{name})\n\n{caption}")
    cv2.imwrite(str(pictures / "rate_vs_s.png"), plot[..., ::-1],
                [cv2.IMWRITE_PNG_COMPRESSION, 9])
    splits = report["splits"]
    fields = {**report, "pictures": "\n\n".join(shown),
              "split_counts": ", ".join(f"{v['sequences']} {k}" for k, v in splits.items()),
              "photo_seed": PHOTO_SEED}
    page = folder / "EVAL.md"
    page.write_text(HEAD.format(**fields) + tables.split("\n", 1)[1].lstrip())
    return page
