"""Manifest entries: the builders rebuild every shipped entry key for key (so an export writes
the manifest the models folder holds), and the readers find what the card and the check need."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nightowl.service.modelrepo.entries import (
    abs_diff_parity,
    copy_entry,
    fp32_entry,
    frames,
    memory_input,
    precision,
    psnr_bound,
    psnr_parity,
    tensor_spec,
    training_record,
    training_stages,
    worst_abs_diff,
    worst_psnr_vs_fp32,
)
from nightowl.service.modelrepo.manifest import read_manifest

MODELS = Path(__file__).resolve().parents[3] / "models"
SHIPPED = {e["file"]: e for e in read_manifest(MODELS)["models"]}


def rebuilt(entry: dict) -> dict:
    """A shipped entry built again from its parts."""
    path, parity = MODELS / entry["file"], entry["parity"]
    if precision(entry) == "fp32":
        def specs(key: str) -> list[dict]:
            return [tensor_spec(s["name"], s["shape"], s["dtype"], s.get("range"))
                    for s in entry[key]]

        return fp32_entry(path, what=entry["what"], task=entry["task"], inputs=specs("inputs"),
                          outputs=specs("outputs"), reference=MODELS / entry["reference"],
                          parity=abs_diff_parity(parity["max_abs_diff"], parity["tolerance"]),
                          training=entry["training"], model_config=entry["model_config"])
    fp32 = SHIPPED[entry["fp32"]]
    if precision(entry) == "fp16":
        return copy_entry(fp32, path, precision="fp16", what=entry["what"],
                          parity=abs_diff_parity(parity["max_abs_diff"], parity["tolerance"],
                                                 parity["tolerance_uniform_inputs"]))
    against = parity["psnr_db_vs_fp32"]
    return copy_entry(fp32, path, precision="int8", what=entry["what"],
                      reference=MODELS / entry["reference"], quantisation=entry["quantisation"],
                      parity=psnr_parity(against["held_out_min"], against["held_out_mean"],
                                         held_out=parity["held_out"],
                                         max_abs_diff=parity["max_abs_diff"]["held_out"],
                                         min_psnr_db=parity["min_psnr_db"],
                                         mean_psnr_db=parity["mean_psnr_db"]))


@pytest.mark.parametrize("file", sorted(SHIPPED))
def test_the_builders_rebuild_every_shipped_entry_key_for_key(file):
    entry = SHIPPED[file]
    assert json.dumps(rebuilt(entry), indent=1) == json.dumps(entry, indent=1)


def test_training_records_rebuild_key_for_key():
    records = [t for e in SHIPPED.values() for t in training_stages(e) if "lr" in t]
    assert records  # every stage since lr was recorded
    for record in records:
        assert json.dumps(training_record(**record)) == json.dumps(record)


def test_training_stages_run_oldest_first():
    first = training_record(config="a", steps=1, batch_size=8, crop=96, validation={},
                            wall_seconds=1.0, hardware="cpu", lr=1e-3, lr_schedule="constant")
    second = training_record(config="a", steps=2, batch_size=16, crop=96, validation={},
                             wall_seconds=2.0, hardware="gpu", lr=3e-4, lr_schedule="cosine",
                             continued_from=first)
    third = {**second, "steps": 3, "continued_from": second}
    assert [t["steps"] for t in training_stages({"training": third})] == [1, 2, 3]
    assert "continued_from" not in first


def test_parity_readers_tell_a_tolerance_from_a_psnr_bound():
    fp32 = {"parity": abs_diff_parity({"random": 1e-6, "real": 3e-5}, 1e-4)}
    int8 = {"parity": psnr_parity(38.4, 46.1, held_out="seed 1 samples 16-31",
                                  max_abs_diff=0.05, min_psnr_db=33.0, mean_psnr_db=42.0)}
    assert worst_abs_diff(fp32) == 3e-5 and worst_psnr_vs_fp32(fp32) is None
    assert psnr_bound(fp32) is None
    assert worst_abs_diff(int8) == 0.05 and worst_psnr_vs_fp32(int8) == 38.4
    assert psnr_bound(int8) == 33.0
    assert precision({}) == "fp32" and precision({"precision": "int8"}) == "int8"


def test_a_memory_network_takes_its_frames_and_the_memory():
    plain = SHIPPED["mim_l1_cr.onnx"]
    assert frames(plain) == 4 and not memory_input(plain)
    wider = {**plain, "inputs": [{**plain["inputs"][0], "shape": ["batch", 16, "height",
                                                                  "width"]}],
             "model_config": {**plain["model_config"], "memory": True}}
    assert frames(wider) == 4 and memory_input(wider)
    assert frames(SHIPPED["sim_l1.onnx"]) == 1
