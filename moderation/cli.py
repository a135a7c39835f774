"""The `moderation` command: a thin shell over the library; each command calls one public function."""

from __future__ import annotations

import click

from moderation import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="moderation")
def main() -> None:
    """Moderate news-site reader comments offline: parse pages, score comments, retrain, serve."""
