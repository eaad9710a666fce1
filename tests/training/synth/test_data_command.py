"""``nightowl data``: files on disk, byte-for-byte reproducibility, and clear refusals."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from nightowl.training.synth.sample_files import read_sample
from nightowl.training.synth.samples import SampleConfig, make_sample
from nightowl.training.synth.scenes import SceneConfig


def nightowl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nightowl.service.cli", *args],
                          capture_output=True, text=True, timeout=300)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_writes_sequences_that_read_back_exactly(tmp_path):
    out = tmp_path / "data"
    result = nightowl("data", "--out", str(out), "--count", "3", "--size", "96x64",
                      "--seed", "4")
    assert result.returncode == 0, result.stderr
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert [p.name for p in folders] == ["000000", "000001", "000002"]
    names = {p.name for p in folders[0].iterdir()}
    assert {"flows.npz", "background.png", "meta.json"} <= names
    for t in range(4):
        assert {f"clean_{t}.png", f"low_{t}.png", f"mask_{t}.png"} <= names
    meta = json.loads((folders[1] / "meta.json").read_text())
    assert meta["S"] in (20, 22, 25, 28, 30) and meta["noise"]["model"] == "eq6"
    assert meta["width"] == 96 and meta["height"] == 64 and meta["frames"] == 4
    assert all("box" in c and "label" in c for p in meta["plates"] for c in p["chars"])

    on_disk = read_sample(folders[1])
    fresh = make_sample(SampleConfig(scene=SceneConfig(width=96, height=64)), 4, 1)
    assert np.array_equal(on_disk.sequence.clean, fresh.sequence.clean)
    assert np.array_equal(on_disk.low, fresh.low)
    assert np.array_equal(on_disk.sequence.masks, fresh.sequence.masks)
    assert np.array_equal(on_disk.sequence.flows, fresh.sequence.flows)
    assert on_disk.sequence.plates[0].labels == fresh.sequence.plates[0].labels
    assert not list(out.glob(".*partial*"))


def test_same_seed_gives_the_same_bytes_with_any_number_of_jobs(tmp_path):
    common = ["--count", "4", "--size", "64x64", "--seed", "9", "--noise", "extended"]
    assert nightowl("data", "--out", str(tmp_path / "a"), *common).returncode == 0
    assert nightowl("data", "--out", str(tmp_path / "b"), *common, "--jobs", "2").returncode == 0
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert nightowl("data", "--out", str(tmp_path / "c"), *common[:-3], "10",
                    *common[-2:]).returncode == 0
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_preview_sheet(tmp_path):
    sheet = tmp_path / "sheet.png"
    result = nightowl("data", "--preview", str(sheet), "--preview-count", "2",
                      "--size", "128x96")
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(sheet))
    # two rows of 9 tiles (4 clean, dark, bright, mask, flow, characters) plus labels
    assert image.shape[0] > 2 * 96 and image.shape[1] > 9 * 128
    assert image.std() > 20


@pytest.mark.parametrize(("args", "reason"), [
    (["--count", "-3"], "--count must be >= 1"),
    (["--count", "0"], "--count must be >= 1"),
    (["--size", "0x256"], "--size sides must be between 16"),
    (["--size", "256"], "--size must be WxH"),
    (["--seed", "-1"], "--seed must be >= 0"),
    (["--frames", "0"], "--frames must be >= 1"),
    (["--noise", "poisson"], "invalid choice"),
])
def test_bad_arguments_exit_nonzero_with_one_line_and_write_nothing(tmp_path, args, reason):
    out = tmp_path / "never"
    result = nightowl("data", "--out", str(out), *args)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], result.stderr
    assert not out.exists()


def test_unwritable_output_exits_nonzero_and_writes_nothing(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = nightowl("data", "--out", str(blocker / "data"), "--count", "2")
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot write to --out" in lines[0], result.stderr
    assert blocker.read_text() == "not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_nothing_to_do_is_an_error():
    result = nightowl("data")
    assert result.returncode != 0 and "nothing to do" in result.stderr



def test_photo_scenes_under_the_sensor_model_are_written(tmp_path):
    result = nightowl("data", "--out", str(tmp_path / "d"), "--count", "2", "--size", "96x64",
                      "--photos", "1", "--noise", "sensor", "--seed", "5")
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "d" / "000001" / "meta.json").read_text())
    assert meta["noise"]["model"] == "sensor"


def test_a_photo_fraction_outside_0_1_is_refused(tmp_path):
    result = nightowl("data", "--out", str(tmp_path / "d"), "--photos", "1.5")
    assert result.returncode != 0 and "--photos" in result.stderr
