"""Loaders for the public labeled corpora in ``../shared/datasets`` (read in place, never copied).

Each loader returns a pandas DataFrame with a ``text`` column, its label columns and ``corpus``; every
loader records the files it read so that a model card can list them with their sha256.
"""

from __future__ import annotations

import os
from pathlib import Path

from moderation.artifacts import sha256_file

ENV_VAR = "MODERATION_SHARED"


class MissingDataError(FileNotFoundError):
    """The shared corpora are not where they were looked for."""


def shared_dir() -> Path:
    """``$MODERATION_SHARED``, else the ``shared/`` folder beside the repository or the working directory."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    here = Path(__file__).resolve().parents[2]
    for candidate in (here.parent / "shared", Path.cwd().parent / "shared", Path.cwd() / "shared"):
        if (candidate / "datasets").is_dir():
            return candidate
    raise MissingDataError(
        f"no shared/datasets folder beside {here} or the working directory; set {ENV_VAR}=/path/to/shared"
    )


def dataset_path(*parts: str) -> Path:
    path = shared_dir().joinpath("datasets", *parts)
    if not path.exists():
        raise MissingDataError(f"{path}: not found (is {ENV_VAR} pointing at the shared folder?)")
    return path


def file_record(path: Path) -> dict[str, str]:
    """How a model card names one training file: its path under datasets/ and its sha256."""
    return {"file": str(path.relative_to(shared_dir() / "datasets")), "sha256": sha256_file(path)}
