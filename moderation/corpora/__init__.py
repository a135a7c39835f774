"""Loaders for the public labeled corpora in ``../shared/datasets`` (read in place, never copied; ``shared_dir``
says where they are looked for).

Each loader returns a pandas DataFrame with a ``text`` column, its label columns and ``corpus``; every
loader records the files it read so that a model card can list them with their sha256.
"""

from __future__ import annotations

import os
from pathlib import Path

from moderation.artifacts import sha256_file

ENV_VAR = "MODERATION_CORPORA"
LEGACY_ENV_VAR = "MODERATION_SHARED"  # its earlier name, still read
HOW = f"pass --corpora DIR (the folder holding datasets/) or set ${ENV_VAR}"


class MissingDataError(FileNotFoundError):
    """The shared corpora are not where they were looked for."""


def _shared_root(folder: Path) -> Path | None:
    """The folder holding ``datasets/``, given it or its ``datasets/`` folder."""
    if (folder / "datasets").is_dir():
        return folder
    return folder.parent if folder.name == "datasets" and folder.is_dir() else None


def shared_dir() -> Path:
    """The shared folder (``datasets/``, ``seeds/``): ``$MODERATION_CORPORA`` (or ``$MODERATION_SHARED``), else
    the ``shared/`` folder beside the repository or the working directory."""
    for var in (ENV_VAR, LEGACY_ENV_VAR):
        if os.environ.get(var):
            root = _shared_root(Path(os.environ[var]))
            if root is None:
                raise MissingDataError(f"${var}={os.environ[var]}: no datasets/ folder there; {HOW}")
            return root
    here = Path(__file__).resolve().parents[2]
    for candidate in (here.parent / "shared", Path.cwd().parent / "shared", Path.cwd() / "shared"):
        if (candidate / "datasets").is_dir():
            return candidate
    raise MissingDataError(f"the shared training corpora were not found (looked for shared/datasets beside {here} "
                           f"and the working directory {Path.cwd()}); {HOW}")


def use(folder: str | os.PathLike) -> Path:
    """Read the corpora from ``folder`` (the shared folder or its ``datasets/``) from now on, in this process and
    the ones it starts; what ``--corpora`` does."""
    root = _shared_root(Path(folder))
    if root is None:
        raise MissingDataError(f"{folder}: no datasets/ folder there; {HOW}")
    os.environ[ENV_VAR] = str(root)
    return root


def dataset_path(*parts: str) -> Path:
    path = shared_dir().joinpath("datasets", *parts)
    if not path.exists():
        raise MissingDataError(f"{path}: not found in the shared corpora; {HOW}")
    return path


def file_record(path: Path) -> dict[str, str]:
    """How a model card names one training file: its path under datasets/ and its sha256."""
    return {"file": str(path.relative_to(shared_dir() / "datasets")), "sha256": sha256_file(path)}
