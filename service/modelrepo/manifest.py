"""The manifest file, ``manifest.json`` in a model repository: ``{"models": [entry, ...]}``,
one entry per file, sorted by file name (what an entry holds: ``entries.py``)."""

from __future__ import annotations

import json
from pathlib import Path

from nightowl.service.errors import ModelFileError

MANIFEST = "manifest.json"


def read_manifest(folder: Path) -> dict:
    """The manifest in ``folder``; ModelFileError when it is not one (the caller says what to
    do when it is missing)."""
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except ValueError as error:
        raise ModelFileError(f"manifest {path} is unreadable: {error}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("models"), list):
        raise ModelFileError(f"manifest {path} is unreadable: it holds no list of \"models\"")
    return manifest


def find_entry(manifest: dict, file: str) -> dict | None:
    """The entry of model file ``file`` (a name, not a path), or None when it is not listed."""
    return next((entry for entry in manifest["models"] if entry.get("file") == file), None)


def update_manifest(folder: Path, entry: dict) -> None:
    """List ``entry`` in the manifest of ``folder`` (created when missing), replacing the entry
    of the same file; written to a staging file first so that a reader never sees half."""
    path = folder / MANIFEST
    manifest = read_manifest(folder) if path.exists() else {"models": []}
    manifest["models"] = [m for m in manifest["models"] if m["file"] != entry["file"]]
    manifest["models"].append(entry)
    manifest["models"].sort(key=lambda m: m["file"])
    staging = path.with_suffix(".partial")
    staging.write_text(json.dumps(manifest, indent=1) + "\n")
    staging.replace(path)
