"""The ``nightowl`` dispatcher: commands come from the registry, errors are one line."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from nightowl.service.cli import main, registry


def test_the_registry_holds_every_command_in_name_order():
    assert list(registry()) == ["data", "enhance", "eval", "export", "relay", "serve", "train"]


def test_no_command_prints_the_help_and_fails(capsys):
    assert main([]) == 2
    help_text = capsys.readouterr().err
    assert all(name in help_text for name in registry())


def test_an_unknown_command_is_one_line_naming_the_choices(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serv"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "invalid choice: 'serv'" in error and "serve" in error


def test_version(capsys):
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"nightowl {version('nightowl')}"
