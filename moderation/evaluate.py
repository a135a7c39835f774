"""Measuring models: ranking quality, calibration, threshold choice and unintended identity bias.

Pure functions over labels and probabilities, shared by training (model cards), benchmarks and tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from moderation import _callable_module

# The identity terms of Jigsaw's bias madlibs (Dixon et al. 2018).
IDENTITY_TERMS = (
    "lesbian", "gay", "bisexual", "transgender", "trans", "queer", "lgbt", "lgbtq", "homosexual", "straight",
    "heterosexual", "male", "female", "nonbinary", "african", "african american", "black", "white", "european",
    "hispanic", "latino", "latina", "latinx", "mexican", "canadian", "american", "asian", "indian",
    "middle eastern", "chinese", "japanese", "christian", "muslim", "jewish", "buddhist", "catholic",
    "protestant", "sikh", "taoist", "old", "older", "young", "younger", "teenage", "millenial", "middle aged",
    "elderly", "blind", "deaf", "paralyzed",
)


def _auc(y: np.ndarray, p: np.ndarray) -> float | None:
    return float(roc_auc_score(y, p)) if np.unique(y).size == 2 else None


def binary_metrics(y, p) -> dict:
    """ROC AUC, PR AUC and Brier score; AUCs are None where one class is missing."""
    y, p = np.asarray(y, int), np.asarray(p, float)
    both = np.unique(y).size == 2
    return {
        "n": int(y.size),
        "positives": int(y.sum()),
        "roc_auc": _auc(y, p),
        "pr_auc": float(average_precision_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p, pos_label=1)) if y.size else None,
    }


def reliability_table(y, p, bins: int = 10) -> list[dict]:
    """Per probability bin: how many comments, the mean predicted probability and the observed share."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        if mask.any():
            rows.append({"bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}", "n": int(mask.sum()),
                         "mean_predicted": round(float(p[mask].mean()), 4),
                         "observed": round(float(y[mask].mean()), 4)})
    return rows


def calibration_error(y, p, bins: int = 10) -> float:
    """Expected calibration error: the bins' gaps between mean predicted and observed share, weighted by size."""
    table = reliability_table(y, p, bins)
    return sum(row["n"] * abs(row["mean_predicted"] - row["observed"]) for row in table) / max(len(np.asarray(p)), 1)


def _lowest_threshold_with_precision(ys: np.ndarray, ps: np.ndarray, precision: float,
                                     min_flagged: int = 20) -> float | None:
    """Over probabilities sorted high to low: the lowest cut whose flagged set (of at least ``min_flagged``
    comments, so a handful of lucky top scores does not count) keeps ``precision``."""
    achieved = np.cumsum(ys) / np.arange(1, len(ys) + 1)
    last = np.flatnonzero(np.r_[ps[1:] != ps[:-1], True])  # only cut between distinct probabilities
    good = last[(achieved[last] >= precision) & (last + 1 >= min_flagged)]
    return round(float(ps[good].min()), 4) if good.size else None


def pick_thresholds(y, p, reject_precision: float = 0.95, approve_miss: float = 0.05,
                    review_at: float | None = None) -> dict:
    """``reject``: the lowest threshold whose rejections are at least ``reject_precision`` right (None when no
    threshold is that precise). ``review``: the highest threshold that approves at most ``approve_miss`` of
    the positives, or the fixed probability ``review_at``."""
    y, p = np.asarray(y, int), np.asarray(p, float)
    order = np.argsort(-p, kind="stable")
    ys, ps = y[order], p[order]
    reject = _lowest_threshold_with_precision(ys, ps, reject_precision)
    if review_at is not None:
        review = review_at
    else:
        recall = np.cumsum(ys) / max(int(ys.sum()), 1)
        review = round(float(ps[np.flatnonzero(recall >= 1 - approve_miss)[0]]), 4) if ys.any() else None
    if review is not None and reject is not None:
        review = min(review, reject)
    return {"review": review, "reject": reject}


def decision_rates(y, p, thresholds: dict) -> dict:
    """Where the decisions send comments, and precision/recall of reject and of flagging (review or reject)."""
    y, p = np.asarray(y, int), np.asarray(p, float)
    reject = p >= (np.inf if thresholds["reject"] is None else thresholds["reject"])
    flag = reject | (p >= (np.inf if thresholds["review"] is None else thresholds["review"]))
    positives = max(int(y.sum()), 1)
    return {
        "approve_share": round(float((~flag).mean()), 4),
        "review_share": round(float((flag & ~reject).mean()), 4),
        "reject_share": round(float(reject.mean()), 4),
        "reject_precision": round(float(y[reject].mean()), 4) if reject.any() else None,
        "reject_recall": round(float(y[reject].sum() / positives), 4),
        "flag_precision": round(float(y[flag].mean()), 4) if flag.any() else None,
        "flag_recall": round(float(y[flag].sum() / positives), 4),
    }


def review_tradeoff(y, p, misses=(0.05, 0.1, 0.2, 0.3, 0.4)) -> list[dict]:
    """For each share of abusive comments a site accepts to approve: the review threshold and where it sends
    comments, so a site can pick its own point between catching more and reviewing less."""
    rows = []
    for miss in misses:
        thresholds = pick_thresholds(y, p, approve_miss=miss)
        rows.append({"approve_miss": miss, "review": thresholds["review"]} | decision_rates(y, p, thresholds))
    return rows


def bias_metrics(texts, y, p, terms=IDENTITY_TERMS) -> dict:
    """Per identity term: false positive rate at 0.5 and Jigsaw's subgroup, BPSN and BNSP AUCs.

    Subgroup AUC ranks within comments naming the term; BPSN (background positive, subgroup negative) is
    low when civil mentions of the term score above abuse elsewhere; BNSP the reverse.
    """
    y, p = np.asarray(y, int), np.asarray(p, float)
    out = {}
    for term, sub in _naming(texts, terms):
        neg, pos = sub & (y == 0), sub & (y == 1)
        bpsn, bnsp = neg | (~sub & (y == 1)), pos | (~sub & (y == 0))
        out[term] = {
            "n": int(sub.sum()),
            "false_positive_rate": round(float((p[neg] >= 0.5).mean()), 4) if neg.any() else None,
            "subgroup_auc": _round(_auc(y[sub], p[sub])),
            "bpsn_auc": _round(_auc(y[bpsn], p[bpsn])),
            "bnsp_auc": _round(_auc(y[bnsp], p[bnsp])),
        }
    return out


def civil_flagged(texts, y, flags: dict[str, np.ndarray], terms=IDENTITY_TERMS) -> dict:
    """Per identity term, the share of its civil sentences (``y == 0``) each rule of ``flags`` (a boolean per text)
    sends to review: what moderators see of a group's civil mentions, at the thresholds a site really uses."""
    civil = np.asarray(y, int) == 0
    return {term: {name: round(float(flag[sub & civil].mean()), 4) for name, flag in flags.items()}
            for term, sub in _naming(texts, terms) if (sub & civil).any()}


def _naming(texts, terms) -> Iterator[tuple[str, np.ndarray]]:
    """(term, mask of the texts naming it) for each term some text names."""
    lowered = [str(t).lower() for t in texts]
    for term in terms:
        pattern = re.compile(rf"\b{re.escape(term)}\b")
        sub = np.fromiter((bool(pattern.search(t)) for t in lowered), bool, len(lowered))
        if sub.any():
            yield term, sub


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def label_report(y, p, decisions, thresholds: dict | None) -> dict:
    """How one label's probabilities and the moderator's decisions fare against moderators' labels: ranking,
    precision/recall at the thresholds, where each decision sends the comments and how many carry the label
    there, and calibration. ``y`` may hold NaN (not said): those rows are left out."""
    y, p, decisions = np.asarray(y, float), np.asarray(p, float), np.asarray(decisions, object)
    known = ~np.isnan(y)
    y, p, decisions = y[known].astype(int), p[known], decisions[known]
    report = binary_metrics(y, p)
    if thresholds is not None:
        report["thresholds"] = thresholds
        report["at_thresholds"] = decision_rates(y, p, thresholds)
    report["decisions"] = {d: {"share": round(float((decisions == d).mean()), 4),
                               "labeled_1": round(float(y[decisions == d].mean()), 4)}
                           for d in ("approve", "review", "reject") if (decisions == d).any()}
    report["calibration"] = reliability_table(y, p)
    return report


def labels_report(scored, labels, thresholds: dict, slices=("source", "file")) -> dict:
    """``label_report`` for every label the moderators gave and the model scores, overall and per slice.

    ``scored``: the moderator's output (``p_<label>``, ``decision``) row-aligned with ``labels``.
    """
    out = {}
    for label in [c.removeprefix("p_") for c in scored.columns if c.startswith("p_")]:
        if label not in labels or labels[label].notna().sum() == 0:
            continue
        y, p, decisions = labels[label].to_numpy(float), scored[f"p_{label}"].to_numpy(float), scored["decision"]
        out[label] = label_report(y, p, decisions, thresholds.get(label))
        out[label]["slices"] = {
            f"{column}={value}": label_report(y[mask], p[mask], decisions[mask], thresholds.get(label))
            for column in slices if column in labels
            for value, mask in ((v, (labels[column] == v).to_numpy()) for v in labels[column].dropna().unique())
            if np.isfinite(y[mask]).any() and not mask.all()}  # a slice that is everything repeats "all"
    return out


def evaluate_model(labels, model: str | None = None, slices=("source", "file")) -> tuple[dict, list]:
    """``labels_report`` of a model on label files, and the label rows left out as unusable.

    ``model``: a model file (with or without ``.joblib``), a version (any promoted one) or None for the current
    models.
    """
    from moderation.labels import read_labels
    from moderation.scoring import load

    frame, problems = read_labels(labels)
    moderator = load(version=model)
    scored = moderator.score(frame[["text", "article"]], reasons="none")
    thresholds = moderator.policy.thresholds()
    return labels_report(scored, frame, thresholds, slices), problems


def format_report(report: dict) -> str:
    """``labels_report`` as terminal tables: one line per label and slice, then decisions and calibration."""
    head = f"{'label':<10} {'data':<36} {'n':>6} {'pos':>5} {'ROC AUC':>8} {'PR AUC':>7} {'flag P':>7} {'flag R':>7} " \
           f"{'rej P':>6} {'rej R':>6}"
    lines = [head]
    for label, figures in report.items():
        for name, part in {"all": figures, **figures.get("slices", {})}.items():
            rates = part.get("at_thresholds", {})
            cells = [cell(part["roc_auc"], 8), cell(part["pr_auc"], 7), cell(rates.get("flag_precision"), 7),
                     cell(rates.get("flag_recall"), 7), cell(rates.get("reject_precision"), 6),
                     cell(rates.get("reject_recall"), 6)]
            lines.append(f"{label:<10} {name[:36]:<36} {part['n']:>6} {part['positives']:>5} " + " ".join(cells))
    for label, figures in report.items():
        sent = ", ".join(f"{d} {v['share']:.0%} ({v['labeled_1']:.0%} labeled {label})"
                         for d, v in figures["decisions"].items())
        bins = ", ".join(f"{b['bin']}: {b['mean_predicted']:.2f} -> {b['observed']:.2f} (n={b['n']})"
                         for b in figures["calibration"])
        lines.append(f"\n{label}: decisions: {sent}\n  calibration (predicted -> observed): {bins}")
    return "\n".join(lines)


def cell(value: float | None, width: int = 8) -> str:
    """A figure for a terminal table column; "-" where there is none."""
    return f"{value:>{width}.3f}" if value is not None else f"{'-':>{width}}"


_callable_module(__name__, "evaluate_model")  # moderation.evaluate(...) is evaluate_model(...)
