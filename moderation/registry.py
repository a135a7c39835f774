"""Which model is current, and every model ever promoted, so a newsroom can roll back by version.

The registry lives in the model home (``artifacts.model_home()``: ``$MODERATION_MODELS`` or the user's data
folder), never inside the installed package: ``registry.json``: ``{"abuse": {"current": "<file>", "history":
[{"file", "version", "promoted_at", "reason", "shipped"}], "rollbacks": [{"from", "to", "at"}]}}``. The shipped
model, read-only in the package, is every history's first entry (``shipped: true``); every other file the
registry names is its own copy in the home: a model promoted from elsewhere is copied in with its card,
atomically, under a lock, so moving or deleting the file it was trained to cannot break scoring. Files named
in the history are never deleted or overwritten, so ``load(version=...)`` can always reach them. Without a
registry entry the current model is the home's ``<name>.joblib`` when there is one (a folder of models named
by ``$MODERATION_MODELS``), else the shipped one.

Promotion rule (``promotion_check``): see ``RULE``, which model cards quote.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from moderation import artifacts
from moderation.rows import atomic_file

REGISTRY = "registry.json"
LOCK = ".registry.lock"
TOLERANCE = 0.01
MIN_CLASS = 5
MIN_CLASS_SHARED = 30
SITE = "site held-back"
RULE = (f"A new model replaces the current one only when no ROC AUC it is measured on drops by more than {TOLERANCE} "
        "or, where the data are too few to measure such a drop, by more than two standard errors of the difference "
        "(Hanley and McNeil's AUC standard error from the figure's positives and negatives): per label on the site's "
        "held-back labels and per category and news corpus among the cross-validated figures of the two model cards. "
        f"A figure counts with at least {MIN_CLASS} (site) or {MIN_CLASS_SHARED} (corpora) examples of each class. "
        "And the current model must not rank the site's labels worse than chance beyond two standard errors: "
        "labels it contradicts that strongly are inverted or mis-mapped, and no comparison on them means anything.")


class RegistryError(artifacts.ArtifactError):
    """A model or version the registry does not know (an ArtifactError, so every command reports it alike)."""


@dataclass(frozen=True)
class Entry:
    file: str
    version: str
    promoted_at: str
    reason: str
    shipped: bool = False

    def path(self, home: Path) -> Path:
        return (artifacts.shipped_dir() if self.shipped else Path(home)) / self.file


@dataclass(frozen=True)
class Comparison:
    """One figure measured on the current and the new model."""

    label: str
    data: str
    old: float | None
    new: float | None
    n: int
    positives: int
    old_pr: float | None = None
    new_pr: float | None = None

    @property
    def counts(self) -> bool:
        return self.old is not None and self.new is not None

    @property
    def allowed(self) -> float:
        """The drop tolerated: ``TOLERANCE``, or two standard errors of the difference where that is larger."""
        spread = math.hypot(*(auc_se(a, self.positives, self.n - self.positives) for a in (self.old, self.new)))
        return max(TOLERANCE, 2 * spread)

    @property
    def worse(self) -> bool:
        return self.counts and self.new < self.old - self.allowed


def auc_se(auc: float, positives: int, negatives: int) -> float:
    """Standard error of a ROC AUC from its class sizes (Hanley and McNeil 1982)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    return math.sqrt(max(variance, 0.0) / max(positives * negatives, 1))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _home(home: Path | None) -> Path:
    return Path(home) if home is not None else artifacts.model_home()


def read(home: Path | None = None) -> dict:
    path = _home(home) / REGISTRY
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except json.JSONDecodeError as exc:
        raise RegistryError(f"{path}: not valid JSON ({exc.msg}); restore it or remove it to use the shipped "
                            "models") from exc


def _write(home: Path, registry: dict) -> None:
    """Replace the registry atomically: a crash leaves the old one, never half a file."""
    with atomic_file(Path(home) / REGISTRY) as handle:
        json.dump(registry, handle, indent=2)
        handle.write("\n")


def _lock(home: Path):
    """One writer of the home at a time (two `moderation train` runs, or train and rollback)."""
    from filelock import FileLock

    return FileLock(str(Path(home) / LOCK), timeout=600)


def _default(name: str, home: Path) -> Entry:
    """The model in use before any promotion: the home's ``<name>.joblib`` if there is one, else the shipped."""
    file = f"{name}{artifacts.ARTIFACT_SUFFIX}"
    shipped = not (home / file).exists()
    where = artifacts.shipped_dir() if shipped else home
    version = artifacts.read_card(where / file).get("version", name) if (where / file).exists() else name
    return Entry(file, version, now(), "shipped with the package" if shipped else "the default before retraining",
                 shipped)


def history(name: str, home: Path | None = None) -> list[Entry]:
    """Every model that was current, oldest first, the default (shipped) one first."""
    home = _home(home)
    model = read(home).get(name)
    if model:
        return [Entry(**e) for e in model["history"]]
    default = _default(name, home)
    return [default] if default.path(home).exists() else []


def current_entry(name: str, home: Path | None = None) -> Entry:
    home = _home(home)
    model = read(home).get(name)
    if not model:
        return _default(name, home)
    entries = [e for e in history(name, home) if e.file == model["current"]]
    return entries[-1] if entries else Entry(model["current"], model["current"], "", "unknown", False)


def current(name: str, home: Path | None = None) -> Path:
    """The file of the current ``name`` model (it may not exist: nothing trained yet)."""
    return current_entry(name, home).path(_home(home))


def last_good(name: str, home: Path | None = None) -> Entry | None:
    """The most recent model before the current one whose file is there and matches its card."""
    home = _home(home)
    now_current = current_entry(name, home)
    for entry in reversed(history(name, home)):
        if entry.file == now_current.file and entry.shipped == now_current.shipped:
            continue
        try:
            artifacts.verify(entry.path(home))
        except artifacts.ArtifactError:
            continue
        return entry
    return None


def load_current(name: str, home: Path | None = None, required: bool = True) -> artifacts.Artifact | None:
    """The current ``name`` model, verified. A registry naming a file that is gone or changed is an error that
    says how to get back (``moderation rollback``); a model never trained nor shipped is None unless required."""
    home = _home(home)
    entry = current_entry(name, home)
    path = entry.path(home)
    if not required and name not in read(home) and not path.exists():
        return None
    try:
        return artifacts.load(path)
    except artifacts.ArtifactError as exc:
        if name not in read(home):
            raise
        good = last_good(name, home)
        back = (f"`moderation rollback {name} --to {good.version}` returns to {good.version}, the last good version"
                if good else f"no earlier version that `moderation rollback {name}` could return to verifies either: "
                "reinstall moderation or retrain")
        raise RegistryError(f"the current {name} model {entry.version} (registry: {home / REGISTRY}) cannot be "
                            f"used: {str(exc).rstrip('.')}. {back}.") from exc


def _adopt(path: Path, home: Path) -> str:
    """The file name of ``path`` in the home: a model from elsewhere is copied in with its card (atomically;
    a different file of the same name gets its sha256 prefix added), so the registry owns what it names."""
    card = artifacts.verify(path)
    if path.resolve().parent == home.resolve():
        return path.name
    target = home / path.name
    if target.exists() and artifacts.sha256_file(target) != card["sha256"]:
        target = home / f"{path.stem}-{card['sha256'][:8]}{artifacts.ARTIFACT_SUFFIX}"
    if not target.exists():
        with open(path, "rb") as source, atomic_file(target, "wb") as copy:
            shutil.copyfileobj(source, copy)
    artifacts.write_card(target, card | {"artifact": target.name})
    artifacts.verify(target)
    return target.name


def promote(name: str, path: Path, reason: str, home: Path | None = None) -> Entry:
    """Make the model at ``path`` the current ``name`` model, as the home's own copy, and record why."""
    home = _home(home)
    home.mkdir(parents=True, exist_ok=True)
    with _lock(home):
        registry = read(home)
        model = registry.get(name) or {"current": None, "history": [asdict(e) for e in history(name, home)],
                                       "rollbacks": []}
        file = _adopt(Path(path), home)
        entry = Entry(file, artifacts.read_card(home / file).get("version", Path(file).stem), now(), reason)
        model["current"] = entry.file
        model["history"].append(asdict(entry))
        _write(home, registry | {name: model})
    return entry


def rollback(name: str, home: Path | None = None, to: str | None = None) -> Entry:
    """Make an earlier promoted model current again: version ``to``, else the one promoted before the current."""
    home = _home(home)
    with _lock(home):
        registry = read(home)
        model = registry.get(name)
        if not model or not model["history"]:
            raise RegistryError(f"no {name} model was ever promoted in {home}; nothing to roll back to")
        entries = [Entry(**e) for e in model["history"]]
        if to is None:
            before = [i for i, e in enumerate(entries) if e.file == model["current"]]
            earlier = [e for e in entries[:before[-1] if before else len(entries)] if e.file != model["current"]]
            if not earlier:
                raise RegistryError(f"{model['current']} is the oldest {name} model; nothing earlier to roll back to")
            target = earlier[-1]
        else:
            matches = [e for e in entries if to in (e.version, e.file)]
            if not matches:
                known = ", ".join(e.version for e in entries)
                raise RegistryError(f"{name} version {to!r} was never promoted (promoted: {known})")
            target = matches[-1]
        artifacts.load(target.path(home))  # refuse to point at a file that no longer verifies
        model["rollbacks"] = model.get("rollbacks", []) + [{"from": model["current"], "to": target.file, "at": now()}]
        model["current"] = target.file
        _write(home, registry)
    return target


def find(version: str, home: Path | None = None) -> tuple[str, Path]:
    """(model name, file) of a version: a model file (the ``.joblib`` may be left out), a promoted version, or
    any model card in the home or among the shipped models."""
    home = _home(home)
    for candidate in (Path(version), Path(version + artifacts.ARTIFACT_SUFFIX)):
        if candidate.is_file() and candidate.suffix == artifacts.ARTIFACT_SUFFIX:
            return artifacts.read_card(candidate).get("name", "abuse"), candidate
    for name in read(home):
        for entry in reversed(history(name, home)):
            if version in (entry.version, entry.file):
                return name, entry.path(home)
    for folder in (home, artifacts.shipped_dir()):
        for card in sorted(folder.glob(f"*{artifacts.CARD_SUFFIX}")):
            data = artifacts.read_card(card.with_name(card.name.removesuffix(artifacts.CARD_SUFFIX)
                                                      + artifacts.ARTIFACT_SUFFIX))
            if version in (data.get("version"), data.get("artifact")):
                return data.get("name", "abuse"), folder / data["artifact"]
    raise RegistryError(f"no model with version {version!r} in {home} or the shipped models")


def _figure(card: dict, label: str, corpus: str) -> dict | None:
    """A card's cross-validated figures for one label on one corpus, when it has them in that shape."""
    by_corpus = card.get("metrics", {}).get(label)
    figure = by_corpus.get(corpus) if isinstance(by_corpus, dict) else None
    return figure if isinstance(figure, dict) and figure.get("roc_auc") is not None else None


def shared_comparisons(old_card: dict, new_card: dict) -> list[Comparison]:
    """The two cards' cross-validated ROC AUC per category on each news corpus both were measured on."""
    from moderation.corpora.abuse import NEWS_CORPORA  # with pandas: not for loading a model

    out = []
    for label in new_card.get("metrics", {}):
        for corpus in NEWS_CORPORA:
            old, new = _figure(old_card, label, corpus), _figure(new_card, label, corpus)
            if old and new and min(new["positives"], new["n"] - new["positives"]) >= MIN_CLASS_SHARED:
                out.append(Comparison(label, f"{corpus} (cross-validated)", old["roc_auc"], new["roc_auc"], new["n"],
                                      new["positives"], old["pr_auc"], new["pr_auc"]))
    return out


def site_comparisons(old: dict, new: dict) -> list[Comparison]:
    """ROC AUC per label on the site's held-back labels (``evaluate`` reports for both models)."""
    out = []
    for label, figures in new.items():
        enough = figures["n"] and min(figures["positives"], figures["n"] - figures["positives"]) >= MIN_CLASS
        if label in old and enough:
            out.append(Comparison(label, SITE, old[label]["roc_auc"], figures["roc_auc"], figures["n"],
                                  figures["positives"], old[label]["pr_auc"], figures["pr_auc"]))
    return out


def contradicted(report: dict) -> dict[str, float]:
    """Labels the current model ranks worse than chance beyond two standard errors (``evaluate``'s report of the
    current model on all the site's labels): such labels are inverted or mis-mapped, not a harder domain."""
    out = {}
    for label, figures in report.items():
        auc, positives, negatives = figures["roc_auc"], figures["positives"], figures["n"] - figures["positives"]
        if auc is None or min(positives, negatives) < MIN_CLASS:
            continue
        if auc + 2 * auc_se(auc, positives, negatives) < 0.5:
            out[label] = auc
    return out


def promotion_check(comparisons: list[Comparison], contradicted: dict[str, float] | None = None) -> tuple[bool, str]:
    """Whether to promote, and the reason in one line."""
    if contradicted:
        return False, "; ".join(f"the current model's {label} ROC AUC on all the site's labels is {auc:.3f}"
                                for label, auc in contradicted.items()) + \
            ", worse than chance: are these labels inverted or mis-mapped?"
    worse = [c for c in comparisons if c.worse]
    if worse:
        return False, "; ".join(f"{c.label} ROC AUC on {c.data} {c.old:.3f} -> {c.new:.3f} (more than "
                                f"{c.allowed:.3f} lower)" for c in worse)
    counted = sum(c.counts for c in comparisons)
    return True, f"no ROC AUC of {counted} compared dropped by more than {TOLERANCE} (or 2 standard errors)"
