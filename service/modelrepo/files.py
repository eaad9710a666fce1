"""Model files and the manifest: resolve a model name, and refuse a file that is not the one
the manifest describes (missing, unlisted, or a sha256 that differs).

No runtime library: the check runs before any is touched.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from nightowl.service.errors import ModelFileError
from nightowl.service.modelrepo import entries
from nightowl.service.modelrepo.manifest import MANIFEST, find_entry, read_manifest

# service/modelrepo/files.py -> the repository (or editable install) root holds models/
DEFAULT_MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
T = TypeVar("T")


class _EntryField(Generic[T]):
    """A ModelFile attribute read from its manifest entry by one of ``entries``' readers."""

    def __init__(self, read: Callable[[dict], T]) -> None:
        self.read = read
        self.__doc__ = read.__doc__

    def __get__(self, model: ModelFile, owner: type | None = None) -> T:
        return self.read(model.entry)


@dataclass(frozen=True)
class ModelFile:
    """A model file whose bytes match its manifest entry; its fields read from that entry."""

    path: Path
    entry: dict  # the file's manifest entry (sha256, inputs, outputs, model_config, ...)
    manifest_dir: Path | None = None  # the folder of the manifest that listed it

    precision = _EntryField(entries.precision)  # "fp32", or a copy's ("fp16", "int8")
    sha256 = _EntryField(operator.itemgetter("sha256"))
    input_name = _EntryField(entries.input_name)
    input_channels = _EntryField(entries.input_channels)
    frames = _EntryField(entries.frames)  # RGB frames in the input
    memory_input = _EntryField(entries.memory_input)  # the camera's memory after the frames
    output_name = _EntryField(entries.output_name)
    output_channels = _EntryField(entries.output_channels)
    reference_gain = _EntryField(entries.reference_gain)  # inputs scaled by gain / this, as
    #   in training; None: the network takes frames as captured


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
