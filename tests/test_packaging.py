"""The distribution: every package is shipped, the CLI works without torch, the service
never imports torch, the model repository's modules import on their own."""

from __future__ import annotations

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    for top, folder in (("nightowl.service", "service"), ("nightowl.training", "training")):
        assert config["package-dir"][top] == folder
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            assert ".".join((top, *parts)) in listed, f"{init.parent} missing from pyproject"


def help_with_blocked_imports(commands: list[list[str]], blocked: tuple[str, ...],
                              imports: list[str] = ()) -> str:
    """What ``nightowl <command> --help`` prints for each command, in a fresh process where any
    import of a module starting with one of ``blocked`` fails; ``imports`` are imported first.
    Fails the test if anything goes wrong or a blocked module was loaded anyway."""
    code = (
        "import importlib, sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.startswith({blocked!r}):\n"
        "            raise ImportError(f'blocked: {name}')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for module in {list(imports)!r}:\n"
        "    importlib.import_module(module)\n"
        "from nightowl.service.cli import main\n"
        f"for argv in {commands!r}:\n"
        "    try:\n        main(argv + ['--help'])\n    except SystemExit as e:\n"
        "        assert e.code == 0, e.code\n"
        f"assert not [m for m in sys.modules if m.startswith({blocked!r})]\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_cli_help_works_without_torch():
    shown = help_with_blocked_imports([[], ["data"]], blocked=("torch",))
    assert "data" in shown and "--count" in shown


def test_service_never_imports_torch():
    for path in (ROOT / "service").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n == "torch" or n.startswith("torch.") for n in names), path


def _imported_names(path: Path, strings: bool = True) -> list[str]:
    """Every module ``path`` imports, statically or (``strings``) by any string constant, as
    one given to importlib would be."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif strings and isinstance(node, ast.Constant) and isinstance(node.value, str):
            names += [node.value]  # import_module("..."), __import__("..."), entry points
    return names


def test_service_never_names_the_training_side():
    for path in (ROOT / "service").rglob("*.py"):
        for name in _imported_names(path):
            assert "nightowl.training" not in name, f"{path.relative_to(ROOT)}: {name}"


def test_the_server_runs_with_the_training_side_and_torch_blocked():
    """Every service module imports, and ``serve``/``enhance`` build their parsers, with any
    import of nightowl.training or torch failing: no path from the server to training."""
    modules = sorted(".".join(("nightowl", *p.relative_to(ROOT).with_suffix("").parts))
                     .removesuffix(".__init__") for p in (ROOT / "service").rglob("*.py"))
    shown = help_with_blocked_imports([["serve"], ["enhance"], ["relay"]], imports=modules,
                                      blocked=("torch", "nightowl.training"))
    assert "--grpc-port" in shown and "--side-by-side" in shown and "--max-in-flight" in shown


def test_every_command_module_is_registered_and_loads():
    from importlib.metadata import entry_points

    registered = {ep.value: ep for ep in entry_points(group="nightowl.commands")}
    on_disk = {".".join(("nightowl", *p.relative_to(ROOT).with_suffix("").parts))
               for folder in ("service", "training") for p in (ROOT / folder).rglob("*_command.py")}
    assert set(registered) == on_disk
    for value, ep in registered.items():
        module = ep.load()
        assert module.HELP and callable(module.add_arguments) and callable(module.run), value
        assert ep.name == value.rsplit(".", 1)[1].removesuffix("_command"), value


def test_every_module_imports_on_its_own():
    """Each module imported first, in a fresh set of nightowl modules: no import cycle that only
    works in one order."""
    modules = sorted(".".join(("nightowl", *p.relative_to(ROOT).with_suffix("").parts))
                     .removesuffix(".__init__")
                     for folder in ("service", "training") for p in (ROOT / folder).rglob("*.py"))
    code = ("import importlib, sys\n"
            f"for module in {modules!r}:\n"
            "    for name in [m for m in sys.modules if m.startswith('nightowl')]:\n"
            "        del sys.modules[name]\n"
            "    importlib.import_module(module)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]


# What each part of service/ may import, lowest first: a frame's path runs one way, and only the
# translators and the server that wires them know a web framework.
LAYERS = {
    "errors": set(), "settings": set(), "cli": set(), "video": set(),
    "frames": {"errors"},
    "modelrepo": {"errors", "frames"},
    "engines": {"errors", "settings", "modelrepo"},
    "serving": {"errors", "settings", "frames", "engines"},
    "rest": {"errors", "settings", "frames", "serving"},
    "rpc": {"errors", "settings", "frames", "serving"},
    "server": {"settings", "serving", "rest", "rpc"},
    "serve_command": {"settings", "engines", "server"},
    "enhance_command": {"errors", "settings", "frames", "engines", "serving", "video"},
    "relay": {"rpc", "video"},  # a gRPC client of the server: its stubs, never its servicer
    "relay_command": {"relay", "video"},
}
FRAMEWORKS = ("fastapi", "starlette", "grpc", "uvicorn", "google.protobuf")
SPEAKS_THE_PROTOCOLS = {"rest", "rpc", "server", "relay"}


def test_service_parts_import_only_the_layers_below_them():
    assert {p.stem if p.is_file() else p.name for p in (ROOT / "service").iterdir()
            if p.name != "__init__.py" and (p.suffix == ".py" or (p / "__init__.py").exists())
            } == set(LAYERS)
    for path in (ROOT / "service").rglob("*.py"):
        part = path.relative_to(ROOT / "service").parts[0].removesuffix(".py")
        if part == "__init__":
            continue
        for name in _imported_names(path):
            if name.startswith("nightowl.service."):
                used = name.split(".")[2]
                assert used == part or used in LAYERS[part], f"{path.relative_to(ROOT)}: {name}"
        if part not in SPEAKS_THE_PROTOCOLS:
            spoken = [n for n in _imported_names(path, strings=False) if n.startswith(FRAMEWORKS)]
            assert not spoken, f"{path.relative_to(ROOT)} imports {spoken}"


# What each part of training/ may import: the generator at the bottom, the release on top; the
# evaluation scores shipped files with the server's own code, never with the training loop.
TRAINING_LAYERS = {
    "synth": {"service.frames", "service.errors"},
    "nets": {"training.synth", "service.frames.layout"},  # layout: the memory planes a
    #   memory network takes, as the server lays them out
    "fit": {"service.frames", "service.errors", "service.modelrepo", "training.synth",
            "training.nets"},  # modelrepo: the manifest of a released file it starts from
    "release": {"service", "training.synth", "training.nets", "training.fit"},
    "evaluation": {"service", "training.synth", "training.nets"},
}


def test_training_parts_import_only_the_layers_below_them():
    assert {p.name for p in (ROOT / "training").iterdir() if (p / "__init__.py").exists()
            } == set(TRAINING_LAYERS)
    for path in (ROOT / "training").rglob("*.py"):
        parts = path.relative_to(ROOT / "training").parts
        if len(parts) == 1:
            continue  # training/__init__.py
        allowed = TRAINING_LAYERS[parts[0]] | {f"training.{parts[0]}"}
        allowed_exactly = {"training"}  # the package itself: its version
        for name in _imported_names(path, strings=False):
            if name.startswith("nightowl."):
                used = name.removeprefix("nightowl.")
                assert used in allowed_exactly or any(
                    used == a or used.startswith(a + ".") for a in allowed), (
                    f"{path.relative_to(ROOT)}: {name}")


def test_the_live_page_ships_every_file_it_serves():
    from nightowl.service.rest.live import ASSETS, STATIC

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["nightowl.service.rest"]
    for name in ("live.html", *ASSETS):
        assert (STATIC / name).is_file(), name
        assert any(Path(f"static/{name}").match(p) for p in patterns), name
