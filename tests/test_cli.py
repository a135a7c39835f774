"""Every command is documented: it has help text and the README mentions it."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from moderation.cli import main

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(main.commands))
def test_command_has_help_and_a_readme_mention(name):
    command = main.commands[name]
    assert command.help and len(command.help.strip()) > 20
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    assert f"moderation {name}" in README


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and "moderation, version" in result.output
