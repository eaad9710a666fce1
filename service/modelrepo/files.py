"""Model files and the manifest: resolve a model name, and refuse a file that is not the one
the manifest describes (missing, unlisted, or a sha256 that differs).

No runtime library: the check runs before any is touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nightowl.service.errors import ModelFileError
from nightowl.service.modelrepo import entries
from nightowl.service.modelrepo.manifest import MANIFEST, find_entry, read_manifest

# service/modelrepo/files.py -> the repository (or editable install) root holds models/
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


@dataclass(frozen=True)
class ModelFile:
    """A model file whose bytes match its manifest entry."""

    path: Path
    entry: dict  # the file's manifest entry (sha256, inputs, outputs, model_config, ...)
    manifest_dir: Path | None = None  # the folder of the manifest that listed it

    @property
    def precision(self) -> str:
        """"fp32", or the precision of a copy ("fp16", "int8")."""
        return entries.precision(self.entry)

    @property
    def sha256(self) -> str:
        return self.entry["sha256"]

    @property
    def input_name(self) -> str:
        return entries.input_name(self.entry)

    @property
    def input_channels(self) -> int:
        return entries.input_channels(self.entry)

    @property
    def output_name(self) -> str:
        return entries.output_name(self.entry)

    @property
    def output_channels(self) -> int:
        return entries.output_channels(self.entry)

    @property
    def reference_gain(self) -> float | None:
        """The gain the network's inputs are normalised to (inputs scaled by gain /
        reference_gain, as in training); None: it takes frames as captured."""
        return entries.reference_gain(self.entry)


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
    entry = _manifest_entry(folder, path.name)
    if not path.is_file():
        raise ModelFileError(f"model file {path} is missing (listed in {folder / MANIFEST})")
    actual = entries.sha256(path)
    if actual != entry["sha256"]:
        raise ModelFileError(f"model file {path} has sha256 {actual[:12]}..., but "
                             f"{folder / MANIFEST} says {entry['sha256'][:12]}...: the file is "
                             f"corrupt or not the released one; restore it (git checkout, or "
                             f"nightowl export) and check with `nightowl export --check`")
    return ModelFile(path=path, entry=entry, manifest_dir=folder)


def listed_copy(model: ModelFile, precision: str) -> ModelFile | None:
    """The checked copy of fp32 ``model`` in ``precision`` ("int8", "fp16") that its manifest
    lists (the entry whose "fp32" names it), or None when none is listed. A listed copy that
    is missing or altered raises ModelFileError, like any model file."""
    folder = model.manifest_dir if model.manifest_dir is not None else model.path.parent
    for entry in read_manifest(folder)["models"]:
        if entry.get("fp32") == model.path.name and entry.get("precision") == precision:
            return resolve(model.path.parent / entry["file"], folder)
    return None


def _manifest_entry(folder: Path, name: str) -> dict:
    if not (folder / MANIFEST).is_file():
        raise ModelFileError(f"no manifest at {folder / MANIFEST}, so {name} cannot be checked")
    manifest = read_manifest(folder)
    entry = find_entry(manifest, name)
    if entry is None:
        listed = ", ".join(sorted(m.get("file", "?") for m in manifest["models"]))
        raise ModelFileError(f"model file {name} is not listed in {folder / MANIFEST} "
                             f"(listed: {listed})")
    return entry
