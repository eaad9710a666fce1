"""The ``nightowl`` command: one entry point whose subcommands load only when they run."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

# subcommand -> (module with add_arguments(parser) and run(args, fail) -> int, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("nightowl.training.synth.data_command",
             "render synthetic low-light traffic sequences, or a preview sheet of them"),
    "train": ("nightowl.training.fit.train_command",
              "train a network from an experiment config (needs the train extra)"),
    "export": ("nightowl.training.release.export_command",
               "export trained networks to ONNX in models/, or --check the shipped ones"),
    "serve": ("nightowl.service.serve_command",
              "run the REST and gRPC enhancement servers (default 127.0.0.1:8000 and :50051)"),
    "enhance": ("nightowl.service.enhance_command",
                "enhance an image sequence or a video offline, with the server's pipeline"),
    "eval": ("nightowl.training.evaluation.eval_command",
             "score every method on the fixed synthetic test set (the paper's Table 1)"),
}


class OneLineErrorParser(argparse.ArgumentParser):
    """Reports bad arguments in one line, naming what was wrong and what is allowed."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="nightowl",
        description="Bright, readable frames from dark, noisy roadside camera video.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND",
                                     parser_class=OneLineErrorParser)
    for name, (module, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(module).add_arguments(sub)
        sub.set_defaults(_module=module, _parser=sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    module = importlib.import_module(args._module)
    return int(module.run(args, args._parser.error) or 0)


def _version() -> str:
    from nightowl.training import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
