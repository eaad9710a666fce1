"""Scoring a plate read as a string: edit-distance alignment with the true characters.

A plate of n characters read as some string scores ``max(0, n - d)`` correct characters, where
d is the Levenshtein distance (substitutions, missed and extra characters each cost one): every
true character counts, a wrong, missed or extra character is wrong, and a plate never scores
below zero. The correct-answer rate of a set of plates is the sum of their scores over the sum
of their lengths, as in the paper (characters read correctly / all characters).
"""

from __future__ import annotations


def edit_distance(truth: str, read: str) -> int:
    """Levenshtein distance: the fewest substitutions, deletions and insertions from truth."""
    previous = list(range(len(read) + 1))
    for i, t in enumerate(truth, 1):
        current = [i]
        for j, r in enumerate(read, 1):
            current.append(min(previous[j] + 1,  # a true character missed
                               current[j - 1] + 1,  # an extra character read
                               previous[j - 1] + (t != r)))  # read right or wrong
        previous = current
    return previous[-1]


def correct_chars(truth: str, read: str) -> int:
    """True characters counted as read correctly: ``max(0, len(truth) - edit distance)``."""
    return max(0, len(truth) - edit_distance(truth, read))
