"""The manifest file: entries replaced by file name and kept sorted, written whole, and a file
that is not a manifest refused naming it."""

from __future__ import annotations

import json

import pytest

from nightowl.service.errors import ModelFileError
from nightowl.service.modelrepo.manifest import (
    MANIFEST,
    find_entry,
    read_manifest,
    update_manifest,
)


def test_update_creates_replaces_by_file_and_sorts(tmp_path):
    update_manifest(tmp_path, {"file": "b.onnx", "sha256": "1"})
    update_manifest(tmp_path, {"file": "a.onnx", "sha256": "2"})
    update_manifest(tmp_path, {"file": "b.onnx", "sha256": "3"})
    text = (tmp_path / MANIFEST).read_text()
    assert json.loads(text) == {"models": [{"file": "a.onnx", "sha256": "2"},
                                           {"file": "b.onnx", "sha256": "3"}]}
    assert text.endswith("}\n") and '\n "models": [\n' in text  # indent 1, one final newline
    assert [p.name for p in tmp_path.iterdir()] == [MANIFEST]  # the staging file is gone


def test_update_keeps_the_rest_of_the_manifest(tmp_path):
    (tmp_path / MANIFEST).write_text(json.dumps({"note": "kept", "models": []}))
    update_manifest(tmp_path, {"file": "a.onnx"})
    assert read_manifest(tmp_path) == {"note": "kept", "models": [{"file": "a.onnx"}]}


def test_find_entry_by_file_name(tmp_path):
    manifest = {"models": [{"file": "a.onnx", "sha256": "1"}, {"sha256": "no file"}]}
    assert find_entry(manifest, "a.onnx") == {"file": "a.onnx", "sha256": "1"}
    assert find_entry(manifest, "b.onnx") is None


@pytest.mark.parametrize("text", ["{not json", "[]", '{"models": {}}', '{"files": []}'])
def test_a_file_that_is_not_a_manifest_is_refused_naming_it(tmp_path, text):
    (tmp_path / MANIFEST).write_text(text)
    with pytest.raises(ModelFileError, match=rf"manifest .*{MANIFEST} is unreadable"):
        read_manifest(tmp_path)
