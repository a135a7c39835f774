"""Save, verify and load model artifacts: one joblib file plus a JSON card beside it; and where they live.

Pickle runs code when loaded, so the file's sha256 is checked against its card before unpickling, and the
card's scikit-learn range is checked against the installed version; either mismatch is refused with a
message that says how to get a loadable model again (retrain with one command).

Two places hold models: the shipped ones, read-only, inside the installed package (``shipped_dir``), and the
model home, where the models a site trains and the registry are written (``model_home``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import json
import os
import platform
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib

from moderation.rows import atomic_file

# The layout of the saved estimators: 2 since their fitted state is numpy arrays and scoring imports no
# scikit-learn (moderation 0.2.0); an artifact of another layout would fail mid-scoring, so it is refused at load.
ARTIFACT_FORMAT = 2
CARD_SUFFIX = ".card.json"
ARTIFACT_SUFFIX = ".joblib"
MODELS_ENV = "MODERATION_MODELS"


class ArtifactError(RuntimeError):
    """A model file that must not or cannot be loaded."""


@dataclass
class Artifact:
    """A loaded estimator with its card."""

    estimator: Any
    card: dict[str, Any]
    path: Path


def shipped_dir() -> Path:
    """The models shipped with the package: ``moderation/models`` in an installed wheel or sdist (found through
    importlib.resources), else the repository's ``models/`` (a source checkout or an editable install)."""
    packaged = importlib.resources.files("moderation") / "models"
    if packaged.is_dir():
        return Path(str(packaged))
    return Path(__file__).resolve().parents[1] / "models"


def model_home() -> Path:
    """Where a site's own models and the registry are written: ``$MODERATION_MODELS``, else the user's data
    folder (``platformdirs``: ~/.local/share/moderation/models on Linux). Never inside the package."""
    if os.environ.get(MODELS_ENV):
        return Path(os.environ[MODELS_ENV])
    import platformdirs

    return platformdirs.user_data_path("moderation") / "models"


def writable_home() -> Path:
    """The model home, created if needed, checked writable now (before minutes of training), not at the end."""
    home = model_home()
    try:
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=home):
            pass
    except OSError as exc:
        raise ArtifactError(f"{home}: the model home is not writable ({exc.strerror or exc}); set {MODELS_ENV} "
                            "to a folder you can write") from exc
    return home


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sklearn_version() -> str:
    """The installed scikit-learn's version, read from its metadata: importing it would take most of a second."""
    return importlib.metadata.version("scikit-learn")


def sklearn_range(version: str | None = None) -> str:
    """The scikit-learn versions that can read a pickle made with ``version``: the same minor release."""
    major, minor = (int(part) for part in (version or sklearn_version()).split(".")[:2])
    return f">={major}.{minor},<{major}.{minor + 1}"


def _in_range(version: str, spec: str) -> bool:
    low, high = (part.lstrip("<>=") for part in spec.split(","))

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".")[:2])

    return key(low) <= key(version) < key(high)


def card_path(artifact_path: str | os.PathLike) -> Path:
    path = Path(artifact_path)
    return path.with_name(path.name.removesuffix(ARTIFACT_SUFFIX) + CARD_SUFFIX)


def save(estimator: Any, path: str | os.PathLike, card: dict[str, Any]) -> Path:
    """Write ``estimator`` to ``path`` (.joblib) and its card beside it; returns the card's path.

    The card gets the artifact's sha256, size, library versions and the readable scikit-learn range added.
    Uncompressed: joblib's zlib reader took 0.2 s of every start-up for the abuse model (its arrays load ten
    times faster raw), for a file half as large again.
    """
    path = Path(path)
    if path.suffix != ARTIFACT_SUFFIX:
        raise ValueError(f"{path}: model files end in {ARTIFACT_SUFFIX}")
    with atomic_file(path, "wb") as handle:
        joblib.dump(estimator, handle)
    full = {
        **card,
        "artifact": path.name,
        "format": ARTIFACT_FORMAT,
        "sha256": sha256_file(path),
        "size_bytes": path.stat().st_size,
        "libraries": {
            "python": platform.python_version(),
            "scikit-learn": sklearn_version(),
            "joblib": joblib.__version__,
        },
        "scikit_learn_compatible": sklearn_range(),
    }
    return write_card(path, full)


def write_card(path: str | os.PathLike, card: dict[str, Any]) -> Path:
    """Write (or rewrite) the card beside the artifact at ``path``, atomically."""
    target = card_path(path)
    text = json.dumps(card, indent=2, ensure_ascii=False, default=float) + "\n"
    with atomic_file(target) as handle:
        handle.write(text)
    return target


def read_card(path: str | os.PathLike) -> dict[str, Any]:
    target = card_path(path)
    try:
        return json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path}: no model card at {target}; a model without its card is not loaded") from exc
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{target}: model card is not valid JSON ({exc.msg})") from exc


def verify(path: str | os.PathLike) -> dict[str, Any]:
    """The card of ``path`` once the file is there and matches the sha256 in it (nothing is unpickled)."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"{path}: no such model file")
    card = read_card(path)
    actual = sha256_file(path)
    if actual != card.get("sha256"):
        raise ArtifactError(
            f"{path}: sha256 {actual[:12]}… does not match its card ({str(card.get('sha256'))[:12]}…); "
            "the file was changed or corrupted and is not loaded. Restore it (reinstall moderation for a "
            "shipped model), go back to an earlier model with `moderation rollback`, or retrain with "
            "`moderation train`."
        )
    return card


def load(path: str | os.PathLike) -> Artifact:
    """Verify ``path`` against its card, then unpickle it."""
    path = Path(path)
    card = verify(path)
    if card.get("format", 1) != ARTIFACT_FORMAT:
        raise ArtifactError(
            f"{path}: saved in model format {card.get('format', 1)} by another version of moderation; this one reads "
            f"format {ARTIFACT_FORMAT}. Retrain with `moderation train` (or go back with `moderation rollback`)."
        )
    spec = card.get("scikit_learn_compatible", sklearn_range(card.get("libraries", {}).get("scikit-learn", "0.0")))
    installed = sklearn_version()
    if not _in_range(installed, spec):
        raise ArtifactError(
            f"{path}: made with scikit-learn {card.get('libraries', {}).get('scikit-learn')}, readable with "
            f"scikit-learn{spec}, but {installed} is installed. Install a matching version "
            f"(pip install 'scikit-learn{spec}') or retrain with `moderation train`."
        )
    return Artifact(joblib.load(path), card, path)
