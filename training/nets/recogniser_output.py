"""What the character recogniser's output means, torch-free so that evaluation and the benches
read it without torch: class 0 is background, class i + 1 is ``CHARSET[i]``.
"""

from __future__ import annotations

from nightowl.training.synth.glyphs import DIGITS, LETTERS

CHARSET = DIGITS + LETTERS  # the plate characters it tells apart (the dash is not one)
