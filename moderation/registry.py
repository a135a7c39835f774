"""Which model file is current, and every model ever promoted, so a newsroom can roll back by version.

``models/registry.json``: ``{"abuse": {"current": "<file>", "history": [{"file", "version", "promoted_at",
"reason"}], "rollbacks": [{"from", "to", "at"}]}}``. Without a registry (or without an entry for a model)
the current model is ``models/<name>.joblib``, as shipped. Files named in the history are never deleted
or overwritten, so ``load(version=...)`` can always reach them.

Promotion rule (``promotion_check``): see ``RULE``, which model cards quote.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from moderation import artifacts
from moderation.corpora.abuse import NEWS_CORPORA
from moderation.rows import atomic_file

REGISTRY = "registry.json"
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


def read(folder: Path) -> dict:
    path = Path(folder) / REGISTRY
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _write(folder: Path, registry: dict) -> None:
    """Replace the registry atomically: a crash leaves the old one, never half a file."""
    with atomic_file(Path(folder) / REGISTRY) as handle:
        json.dump(registry, handle, indent=2)
        handle.write("\n")


def current(name: str, folder: Path) -> Path:
    """The file of the current ``name`` model (it may not exist: nothing trained yet)."""
    return Path(folder) / read(folder).get(name, {}).get("current", f"{name}.joblib")


def _version_of(path: Path) -> str:
    return artifacts.read_card(path).get("version", path.stem)


def _entry_for(name: str, folder: Path, registry: dict) -> dict:
    """The model's registry entry; the first time, it starts from the shipped default so rollback can reach it."""
    if name in registry:
        return registry[name]
    default = Path(folder) / f"{name}.joblib"
    history = [asdict(Entry(default.name, _version_of(default), now(), "the default before retraining"))] \
        if default.exists() else []
    return {"current": default.name, "history": history, "rollbacks": []}


def promote(name: str, path: Path, reason: str, folder: Path) -> Entry:
    """Make ``path`` (a model file inside ``folder``) the current ``name`` model and record why."""
    registry = read(folder)
    model = _entry_for(name, folder, registry)
    entry = Entry(Path(path).name, _version_of(Path(path)), now(), reason)
    model["current"] = entry.file
    model["history"].append(asdict(entry))
    _write(Path(folder), registry | {name: model})
    return entry


def rollback(name: str, folder: Path, to: str | None = None) -> Entry:
    """Make an earlier promoted model current again: version ``to``, else the one promoted before the current."""
    registry = read(folder)
    model = registry.get(name)
    if not model or not model["history"]:
        raise RegistryError(f"no {name} model was ever promoted in {folder}; nothing to roll back to")
    history = [Entry(**e) for e in model["history"]]
    if to is None:
        before = [i for i, e in enumerate(history) if e.file == model["current"]]
        earlier = [e for e in history[:before[-1] if before else len(history)] if e.file != model["current"]]
        if not earlier:
            raise RegistryError(f"{model['current']} is the oldest {name} model; nothing earlier to roll back to")
        target = earlier[-1]
    else:
        matches = [e for e in history if to in (e.version, e.file)]
        if not matches:
            known = ", ".join(e.version for e in history)
            raise RegistryError(f"{name} version {to!r} was never promoted (promoted: {known})")
        target = matches[-1]
    artifacts.load(Path(folder) / target.file)  # refuse to point at a file that no longer verifies
    model["rollbacks"] = model.get("rollbacks", []) + [{"from": model["current"], "to": target.file, "at": now()}]
    model["current"] = target.file
    _write(Path(folder), registry)
    return target


def find(version: str, folder: Path) -> tuple[str, Path]:
    """(model name, file) of a version: promoted ones first, then any model card in the folder."""
    folder = Path(folder)
    for name, model in read(folder).items():
        for entry in reversed(model.get("history", [])):
            if version in (entry["version"], entry["file"]):
                return name, folder / entry["file"]
    for card in sorted(folder.glob(f"*{artifacts.CARD_SUFFIX}")):
        data = artifacts.read_card(card.with_name(card.name.removesuffix(artifacts.CARD_SUFFIX)
                                                  + artifacts.ARTIFACT_SUFFIX))
        if version in (data.get("version"), data.get("artifact")):
            return data.get("name", "abuse"), folder / data["artifact"]
    raise RegistryError(f"no model with version {version!r} in {folder}")


def _figure(card: dict, label: str, corpus: str) -> dict | None:
    """A card's cross-validated figures for one label on one corpus, when it has them in that shape."""
    by_corpus = card.get("metrics", {}).get(label)
    figure = by_corpus.get(corpus) if isinstance(by_corpus, dict) else None
    return figure if isinstance(figure, dict) and figure.get("roc_auc") is not None else None


def shared_comparisons(old_card: dict, new_card: dict) -> list[Comparison]:
    """The two cards' cross-validated ROC AUC per category on each news corpus both were measured on."""
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
