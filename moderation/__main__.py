"""``python -m moderation``: the ``moderation`` command, run from this source tree."""

from moderation.cli import main

main()
