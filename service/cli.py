"""The ``nightowl`` command: one entry point over a registry of subcommands.

The registry is the ``nightowl.commands`` entry-point group in ``pyproject.toml``: each entry
names a module with ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args, fail) -> int``.
Tools read it with ``importlib.metadata``; this module names no command, so the server never
imports the training side, and ``nightowl serve`` loads only its own module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from types import ModuleType
from typing import NoReturn

GROUP = "nightowl.commands"


class OneLineErrorParser(argparse.ArgumentParser):
    """Reports bad arguments in one line, naming what was wrong and what is allowed."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def registry() -> dict[str, EntryPoint]:
    """Every registered subcommand by name, in name order."""
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    return dict(sorted(found.items()))


def build_parser(commands: dict[str, ModuleType]) -> argparse.ArgumentParser:
    """The parser of ``nightowl`` with a subparser per loaded command module."""
    parser = OneLineErrorParser(
        prog="nightowl",
        description="Bright, readable frames from dark, noisy roadside camera video.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=OneLineErrorParser)
    for name, module in commands.items():
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_module=module, _parser=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    known = registry()
    if not known:
        raise SystemExit(f"nightowl: no commands registered in {GROUP!r}; reinstall the "
                         "package (pip install -e .)")
    chosen = next((arg for arg in argv if not arg.startswith("-")), None)
    names = [chosen] if chosen in known else list(known)  # help or a typo: all of them
    parser = build_parser({name: known[name].load() for name in names})
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return int(args._module.run(args, args._parser.error) or 0)


def _version() -> str:
    try:
        return version("nightowl")
    except PackageNotFoundError:  # a source tree that was never installed
        return "0+unknown"


if __name__ == "__main__":
    sys.exit(main())
