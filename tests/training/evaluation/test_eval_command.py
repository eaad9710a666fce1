"""``nightowl eval`` end to end on the shipped models, with the real Tesseract."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nightowl.service.cli import main
from nightowl.service.frames.exposure import S_VALUES
from nightowl.training.synth import photos

ROOT = Path(__file__).resolve().parents[3]
TOLD = ["ground truth", "gain", "classical", "SIM L1", "SIM L1+L_CR", "MIM L1", "MIM L1+L_CR"]
METHODS = TOLD + [m + " (estimated gain)" for m in TOLD[2:]]
NOISES = ("eq6", "extended", "sensor")
SPLITS = ("synthetic", "photo", "mono")
KEYS = {"split", "method", "noise", "S", "char_rate", "char_rate_ocr", "psnr", "ssim",
        "psnr_moving", "colour_error", "s_told", "ms_per_frame", "n_chars"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("eval")
    # --quick: one sequence of each split, the whole pipeline, every output, in under a minute
    assert main(["eval", "--quick", "--out", str(out), "--publish", str(out / "page"),
                 "--models", str(ROOT / "models")]) == 0
    return out


def test_quick_run_writes_every_output(quick_run):
    for name in ("report.json", "report.md", "contact_sheet.png", "contact_sheet_photo.png",
                 "contact_sheet_mono.png", "rate_vs_s.png", "records.jsonl"):
        assert (quick_run / name).stat().st_size > 0, name


def test_publish_writes_the_page_and_its_pictures(quick_run):
    text = (quick_run / "page" / "EVAL.md").read_text()
    assert f"--publish {quick_run / 'page'}" in text and "| MIM L1+L_CR |" in text
    assert "the networks ran in **int8** on ONNX Runtime's CPU engine" in text
    assert "](eval/contact_sheet_photo.jpg)" in text and "### Targets" in text
    for name in ("contact_sheet.jpg", "contact_sheet_photo.jpg", "contact_sheet_mono.jpg",
                 "rate_vs_s.png"):
        assert (quick_run / "page" / "eval" / name).stat().st_size > 0, name


def test_report_json_has_the_schema(quick_run):
    report = json.loads((quick_run / "report.json").read_text())
    assert report["precision"] == "int8"  # the CPU server's default
    assert report["splits"] == {"synthetic": {"seed": 424_242, "sequences": 1},
                                "photo": {"seed": 525_252, "sequences": 1},
                                "mono": {"seed": 424_242, "sequences": 1}}
    rows = report["rows"]
    assert len(rows) == len(METHODS) * len(SPLITS) * len(NOISES) * (len(S_VALUES) + 1)
    assert [r["method"] for r in rows[::len(S_VALUES) + 1]][:len(METHODS)] == METHODS
    for row in rows:
        assert set(row) >= KEYS
        assert row["split"] in SPLITS and row["noise"] in NOISES
        assert row["S"] in (*S_VALUES, "all")
        if row["split"] != "photo":  # the photo sequence may have no scored plate
            assert row["n_chars"] > 0
            assert row["char_rate"] <= 1 and row["char_rate_ocr"] <= 1
            assert min(row["char_rate"], row["char_rate_ocr"]) >= 0
        if row["method"] == "ground truth":
            assert row["psnr"] is None and row["ms_per_frame"] is None
        else:
            assert row["psnr"] > 5 and 0 < row["ssim"] <= 1 and row["ms_per_frame"] > 0
            assert 0 <= row["colour_error"] < 255 and 20 <= row["s_told"] <= 30
    truth = [r for r in rows if r["method"] == "ground truth" and r["S"] == "all"
             and r["split"] == "synthetic"]
    assert all(r["char_rate"] >= 0.75 for r in truth)  # our recogniser reads clean plates
    assert set(report["targets"]) == set(SPLITS)
    assert all(set(by_noise) == set(NOISES) for by_noise in report["targets"].values())
    assert "| MIM L1+L_CR (estimated gain) |" in (quick_run / "report.md").read_text()
    grey = [t["target"] for t in report["targets"]["mono"]["eq6"]]
    assert sum("on grey frames reads at least as many" in t for t in grey) == 2  # both readers


def test_the_mono_split_is_scored_on_grey_answers(quick_run):
    records = [json.loads(line)
               for line in (quick_run / "records.jsonl").read_text().splitlines()]
    mono = {(r["noise"], r["S"], r["method"]): r for r in records if r["split"] == "mono"}
    colour = {(r["noise"], r["S"], r["method"]): r for r in records
              if r["split"] == "synthetic"}
    assert mono.keys() == colour.keys()
    for key, record in mono.items():  # the same scene and plates, seen by another camera
        assert record["n_chars"] == colour[key]["n_chars"] > 0
        assert [truth for truth, _, _ in record["reads"]] == [
            truth for truth, _, _ in colour[key]["reads"]]


def test_counts_pair_the_mono_split_with_the_first_synthetic_scenes():
    import argparse

    from nightowl.training.evaluation.eval_command import add_arguments, counts

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert counts(parser.parse_args([])) == {"synthetic": 100, "photo": 40, "mono": 40}
    assert counts(parser.parse_args(["--count", "10"]))["mono"] == 10
    assert counts(parser.parse_args(["--splits", "mono", "--mono-count", "5"])) == {"mono": 5}


def test_missing_tesseract_fails_naming_the_package(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SystemExit) as error:
        main(["eval", "--quick", "--out", str(tmp_path / "out")])
    assert error.value.code == 2
    assert "tesseract-ocr" in capsys.readouterr().err


def test_missing_photographs_fail_naming_the_install_command(tmp_path, monkeypatch, capsys):
    def missing(split, share=photos.SHARE):
        raise photos.PhotosUnavailableError(f"no photographs: install them with: "
                                            f"{photos.INSTALL}")

    monkeypatch.setattr(photos, "photos_of", missing)
    with pytest.raises(SystemExit) as error:
        main(["eval", "--quick", "--out", str(tmp_path / "out")])
    assert error.value.code == 2
    assert "apt-get install plasma-workspace-wallpapers" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing ran
