"""The evaluation run on one scene: a record per method under each condition, each plate read
by the recogniser and by Tesseract and scored, and the contact sheet's images."""

from __future__ import annotations

from pathlib import Path

from nightowl.training.evaluation.runner import EvalSettings, run_scenes
from nightowl.training.evaluation.scoring import correct_chars

MODELS = Path(__file__).resolve().parents[3] / "models"


def test_one_scene_gives_a_scored_record_per_method_and_its_sheet_images():
    settings = EvalSettings(models=MODELS, networks=(("SIM L1+L_CR", "sim_l1_cr.onnx"),),
                            noises=("eq6",), s_values=(20.0,))
    ((records, sheet),) = run_scenes(settings, [0])
    assert settings.methods == ["ground truth", "gain", "classical", "SIM L1+L_CR"]
    assert [r["method"] for r in records] == settings.methods
    for record in records:
        assert (record["index"], record["noise"], record["S"]) == (0, "eq6", 20.0)
        assert record["n_chars"] == sum(len(truth) for truth, _, _ in record["reads"]) > 0
        assert record["correct"] == sum(correct_chars(t, ours) for t, ours, _ in record["reads"])
        assert record["correct_ocr"] == sum(correct_chars(t, ocr) for t, _, ocr in
                                            record["reads"])
        timed = record["method"] != "ground truth"
        assert (record["ms"] is not None) == timed and (record["psnr"] is not None) == timed
    truth = records[0]
    assert truth["correct"] >= 0.75 * truth["n_chars"]  # our recogniser reads clean plates
    assert sheet is not None and (sheet["noise"], sheet["S"]) == ("eq6", 20.0)
    assert set(sheet["images"]) == set(settings.methods)
