"""Model files and the manifest: resolve a model name, and refuse a file that is not the one
the manifest describes (missing, unlisted, or a sha256 that differs).

Only hashlib and json: the check runs before any runtime library is touched.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from nightowl.service.engines.errors import ModelFileError

# service/engines/files.py -> the repository (or editable install) root holds models/
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ModelFile:
    """A model file whose bytes match its manifest entry."""

    path: Path
    entry: dict  # the file's manifest entry (sha256, inputs, outputs, model_config, ...)

    @property
    def sha256(self) -> str:
        return self.entry["sha256"]

    @property
    def input_name(self) -> str:
        return self.entry["inputs"][0]["name"]

    @property
    def input_channels(self) -> int:
        return int(self.entry["inputs"][0]["shape"][1])

    @property
    def output_name(self) -> str:
        return self.entry["outputs"][0]["name"]

    @property
    def reference_gain(self) -> float | None:
        """The gain the network's inputs are normalised to (inputs scaled by gain /
        reference_gain, as in training); None: it takes frames as captured."""
        value = self.entry.get("model_config", {}).get("reference_gain")
        return None if value is None else float(value)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def resolve(model: str | Path, models_dir: Path | None = None) -> ModelFile:
    """The checked model file for ``model``: a bare name is looked up in ``models_dir`` (default
    the repository's models/); a path is read with the manifest of ``models_dir`` or, when that
    is not given, of the folder the file is in."""
    model = Path(model)
    if model.parent == Path("."):
        folder = Path(models_dir) if models_dir is not None else DEFAULT_MODELS_DIR
        path = folder / model
    else:
        path = model
        folder = Path(models_dir) if models_dir is not None else model.parent
    entry = _manifest_entry(folder / MANIFEST, path.name)
    if not path.is_file():
        raise ModelFileError(f"model file {path} is missing (listed in {folder / MANIFEST})")
    actual = sha256(path)
    if actual != entry["sha256"]:
        raise ModelFileError(f"model file {path} has sha256 {actual[:12]}..., but "
                             f"{folder / MANIFEST} says {entry['sha256'][:12]}...: the file is "
                             f"corrupt or not the released one; restore it (git checkout, or "
                             f"nightowl export) and check with `nightowl export --check`")
    return ModelFile(path=path, entry=entry)


def _manifest_entry(manifest: Path, name: str) -> dict:
    if not manifest.is_file():
        raise ModelFileError(f"no manifest at {manifest}, so {name} cannot be checked")
    try:
        models = json.loads(manifest.read_text())["models"]
    except (ValueError, KeyError, TypeError) as error:
        raise ModelFileError(f"manifest {manifest} is unreadable: {error}") from None
    for entry in models:
        if entry.get("file") == name:
            return entry
    listed = ", ".join(sorted(m.get("file", "?") for m in models))
    raise ModelFileError(f"model file {name} is not listed in {manifest} (listed: {listed})")
