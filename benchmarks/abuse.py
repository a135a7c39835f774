"""The abuse model against alt-profanity-check: the protocol, ranking per corpus, calibration, toxic spans and
the behavioural suite (speed and memory: benchmarks/speed.py).

    python benchmarks/abuse.py [--quick] [--model FILE] [--peer-python PATH] [--protocol-only | --no-protocol]
                               [--corpora NAME…] [--params JSON] [--weights JSON] [--drop-label CORPUS:LABEL…]

0. The protocol every choice was made with: ROC AUC per corpus from heads that never saw the row's article,
   thread or author (grouped 5-fold) or its corpus (left out), beside the peer on the same rows.

1. Ranking: the calibrated out-of-fold probabilities of our heads (5-fold CV inside ``AbuseModel.fit``, fitted
   exactly as ``train_abuse`` does) next to the peer's ``predict_prob`` on the same texts, per corpus with both
   classes, for the news corpora together and for all. The peer is pre-trained on data of its own, so it is
   scored as shipped, without cross-validation (some of our texts may be in its training data).
1b. Wikipedia talk test comments (Conversation AI's evaluation sets, as written and with identity terms swapped):
   the model as given, never trained on them; reported, never used for a choice.
2. Calibration of the abusive head on the news corpora: reliability table and Brier score, the peer's Brier.
3. Toxic spans (SemEval-2021 task 5 trial posts): character F1 of the offsets of our ``explain`` reasons,
   by top-k and by weight cut-off, against the peer applied word by word.
3b. The CheckList-style cases of tests/test_behaviour.py, beside the peer's p >= 0.5 on the same cases.

``--model`` evaluates a model ``train_abuse`` already wrote from the shared corpora (e.g. models/abuse.joblib)
instead of fitting one. The peer pins its own scikit-learn, so it runs in its own virtual environment
(``benchmarks/.peer-venv``, created on first use) through ``benchmarks/_peer.py``. Temporary files go to a
temporary directory; nothing is cached.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import copy
import csv
import datetime
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import GroupKFold

import moderation
from moderation import artifacts
from moderation.abuse import WORD, AbuseModel, fit_calibrator
from moderation.corpora import dataset_path
from moderation.corpora.abuse import NEWS_CORPORA, Corpus, load_all, wikipedia_test_sets
from moderation.evaluate import (
    binary_metrics,
    calibration_error,
    decision_rates,
    pick_thresholds,
    reliability_table,
)
from moderation.train import (
    ABUSE_VERSION,
    APPROVE_MISS,
    abuse_training_table,
    head_weights,
    review_rule,
    target_rows,
    train_abuse,
    training_groups,
)

HEADS = ("abusive", "insult", "hate", "obscene", "threat")
HERE = Path(__file__).resolve().parent
PEER_VENV = HERE / ".peer-venv"
TOP_KS = (1, 2, 3, 5)
CUTOFFS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0)
QUICK_ROWS_PER_CORPUS = 2000


def print_table(rows: list[dict], indent: str = "  ") -> None:
    """Rows of equal keys as aligned columns; floats with 3 decimals, None as '-'."""
    if not rows:
        return
    cells = [[_cell(v) for v in row.values()] for row in rows]
    header = list(rows[0])
    widths = [max(len(str(h)), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    print(indent + "  ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for line in cells:
        print(indent + "  ".join(f"{c:>{w}}" for c, w in zip(line, widths, strict=True)))


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


# --- the peer ------------------------------------------------------------------------------------------------

def peer_python(given: str | None) -> Path:
    """The peer venv's Python: ``given``, else benchmarks/.peer-venv (created with pip when missing)."""
    if given:
        return Path(given)
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {PEER_VENV} with alt-profanity-check …", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "alt-profanity-check"], check=True)
    return python


def peer_predict(python: Path, texts: list[str], tmp: Path) -> tuple[np.ndarray, dict]:
    """The peer's probabilities for ``texts``, with its timings, versions, wall time and peak memory."""
    source, target, info_path = tmp / "peer-in.jsonl", tmp / "peer-out.npy", tmp / "peer-info.json"
    with open(source, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(text) + "\n" for text in texts)
    wall, peak, _ = run_measured([str(python), str(HERE / "_peer.py"), str(source), str(target), str(info_path)],
                                 tmp / "peer.log")
    info = json.loads(info_path.read_text()) | {"wall_seconds": wall, "peak_rss": peak}
    return np.load(target), info


# Runs a command and writes its peak RSS (KiB on Linux) to a file. It is a fresh, small process, so the figure is
# the command's own: a child forked straight from this (large) process reports this process's size instead.
_MEASURE = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[2:]); "
            "open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)); "
            "sys.exit(code)")


def run_measured(command: list[str], log: Path) -> tuple[float, int, int]:
    """Run one child process (stderr to ``log``): wall seconds, peak RSS of its largest process and peak summed
    PSS of it and its workers (sampled every 0.2 s; PSS shares copy-on-write pages among the forks), in bytes."""
    peak_file = log.with_suffix(".rss")
    started = time.perf_counter()
    tree_peak = 0
    with open(log, "wb") as err:
        child = subprocess.Popen([sys.executable, "-c", _MEASURE, str(peak_file), *command],
                                 stdout=subprocess.DEVNULL, stderr=err)
        while child.poll() is None:
            tree_peak = max(tree_peak, tree_pss(child.pid))
            time.sleep(0.2)
    seconds = time.perf_counter() - started
    if child.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{log.read_text()[-3000:]}")
    return seconds, int(peak_file.read_text()) * 1024, tree_peak


def tree_pss(root: int) -> int:
    """Summed proportional set size in bytes of the descendants of ``root`` (0 where /proc cannot tell)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    tree, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - tree
        tree |= frontier
    total = 0
    for pid in tree:
        with contextlib.suppress(OSError):
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            total += int(re.search(r"^Pss:\s+(\d+)", rollup, re.M).group(1)) * 1024
    return total


# --- our model -----------------------------------------------------------------------------------------------

def corpora_for(quick: bool, model: str | None) -> list[Corpus]:
    """The shared corpora (those a given model's card names), or a sample of each for a quick run."""
    names = tuple(c["corpus"] for c in artifacts.read_card(model)["training_data"]) if model else None
    corpora = load_all(names)
    if not quick:
        return corpora
    return [replace(c, frame=c.frame.sample(min(len(c.frame), QUICK_ROWS_PER_CORPUS), random_state=0))
            for c in corpora]


def fitted_model(given: str | None, corpora: list[Corpus], table: pd.DataFrame, tmp: Path) -> Path:
    """``given`` after checking it was trained on ``table``, else a model fitted by ``train_abuse`` into tmp."""
    if given is None:
        started = time.perf_counter()
        path = tmp / "abuse.joblib"
        train_abuse(path, corpora=corpora)
        print(f"fitted with train_abuse in {time.perf_counter() - started:.0f} s (5-fold CV per head inside)\n")
        return path
    model = artifacts.load(given).estimator
    for category in model.classes_:
        rows, _ = model.oof_scores_[category]
        if rows.size != table[category].notna().sum() or rows.max() >= len(table):
            raise SystemExit(f"{given}: its {str(category)!r} head was not trained on the shared corpora alone; "
                             "run without --model to fit one")
    print(f"evaluating {given}: trained by train_abuse on the corpora its card names, {len(table):,} rows\n")
    return Path(given)


def out_of_fold(model: AbuseModel, table: pd.DataFrame, category: str, peer: np.ndarray) -> pd.DataFrame:
    """Per labelled row of a head: corpus, label, our calibrated out-of-fold probability, the peer's."""
    rows, ours = model.oof_probabilities(category)
    return pd.DataFrame({"corpus": table["corpus"].to_numpy()[rows],
                         "y": table[category].to_numpy()[rows].astype(int),
                         "ours": ours,
                         "peer": peer[rows]})


# --- 0. the protocol: grouped cross-validation and leave-one-corpus-out --------------------------------------

PROTOCOL_HEADS = ("abusive", "hate")
PROTOCOL = ("grouped: 5 folds grouped by article (c3, sfu-ctc), author (stormfront) or row; left out: trained on all "
            "the other corpora")
# The label each corpus is judged on: news comments for abuse in general, hate corpora for hate.
JUDGED_ON = {"insults-2012": "abusive", "c3": "abusive", "sfu-ctc": "abusive", "tweeteval-offensive": "abusive",
             "davidson": "hate", "ethos": "hate", "stormfront": "hate", "gab": "hate", "implicit-hate": "hate",
             "tweeteval-hate": "hate"}


def protocol_scores(table: pd.DataFrame, weights: np.ndarray, params: dict, folds: int = 5,
                    left_out: tuple[str, ...] = tuple(JUDGED_ON)) -> dict[tuple[str, str], np.ndarray]:
    """Decision scores of each head for every row, from heads that never saw the row's group ("grouped": k folds
    grouped by article, thread or author) or its whole corpus ("left out": trained on all the other corpora).

    The vectorisers are fitted once on all texts (unsupervised, as in ``AbuseModel.fit``); every head is refitted
    per split exactly as the shipped recipe fits it (same weights, C, identity-feature clipping).
    """
    model = AbuseModel(**params)
    features = model.fit_features(table["text"].tolist())
    groups = training_groups(table)
    scores = {}
    splits = {"grouped": list(GroupKFold(folds, shuffle=True, random_state=0).split(features, groups=groups))}
    corpus = table["corpus"].to_numpy()
    splits["left out"] = [(np.flatnonzero(corpus != name), np.flatnonzero(corpus == name)) for name in left_out]
    for kind, pairs in splits.items():
        for category in PROTOCOL_HEADS:
            known = table[category].notna().to_numpy()
            labels, weight = table[category].to_numpy(), head_weights(table, weights, category)
            found = np.full(len(table), np.nan)
            for train, test in pairs:
                train = train[known[train]]
                head = model._fit_head(category, features[train], labels[train].astype(int), weight[train])
                found[test] = head.decision_function(features[test])
            scores[kind, category] = found
            print(f"  {kind} {category}: {len(pairs)} fits", file=sys.stderr, flush=True)
    return scores


def protocol_rows(table: pd.DataFrame, scores: dict, peer: np.ndarray) -> list[dict]:
    """ROC AUC per judged corpus: our heads (grouped CV and left out) beside the peer on the same rows."""
    rows = []
    for name, label in JUDGED_ON.items():
        part = ((table["corpus"] == name) & table[label].notna()).to_numpy()
        y = table.loc[part, label].to_numpy().astype(int)
        if part.sum() == 0 or np.unique(y).size < 2:
            continue
        row = {"corpus": name, "label": label, "n": int(part.sum()), "pos": int(y.sum()),
               "peer": roc_auc_score(y, peer[part])}
        for kind in ("grouped", "left out"):
            for category in ("abusive", "hate"):
                row[f"{kind} p_{category}"] = roc_auc_score(y, scores[kind, category][part])
        row["grouped diff"] = row["grouped p_abusive"] - row["peer"]
        row["left-out diff"] = max(row["left out p_abusive"], row["left out p_hate"]) - row["peer"]
        rows.append(row)
    return rows


def left_out_decisions(table: pd.DataFrame, scores: dict, peer: np.ndarray) -> list[dict]:
    """Per judged corpus, whether the calibration and the review threshold keep their promise on a corpus no head
    saw: the sigmoid and the threshold are fitted as training fits them (on grouped out-of-fold scores of the rows
    the recipe calibrates on, ``target_rows``) but without the corpus's rows, then applied to the left-out head's
    scores of that corpus. The promise: 0.9 means nine in ten; the abusive review threshold catches
    1 - APPROVE_MISS of the abusive comments; hate reviews from 0.5, "more likely than not"."""
    corpus, rows = table["corpus"].to_numpy(), []
    for name, label in JUDGED_ON.items():
        part = (corpus == name) & table[label].notna().to_numpy()
        y = table[label].to_numpy()[part].astype(int)
        if np.unique(y).size < 2:
            continue
        fit = target_rows(table, label) & (corpus != name)
        fit_y = table[label].to_numpy()[fit].astype(int)
        sigmoid = fit_calibrator(scores["grouped", label][fit], fit_y)
        thresholds = pick_thresholds(fit_y, sigmoid.probability(scores["grouped", label][fit, None]),
                                     **review_rule(label))
        p = sigmoid.probability(scores["left out", label][part, None])
        rates, sure = decision_rates(y, p, thresholds), p >= 0.9
        rows.append({"corpus": name, "head": label, "n": len(y), "base rate": y.mean(), "mean p": p.mean(),
                     "ECE": calibration_error(y, p), "peer ECE": calibration_error(y, peer[part]),
                     "n p>=0.9": int(sure.sum()), "right p>=0.9": y[sure].mean() if sure.any() else np.nan,
                     "review at": thresholds["review"], "flagged": 1 - rates["approve_share"],
                     "flag recall": rates["flag_recall"], "flag precision": rates["flag_precision"]})
    return rows


def report_protocol(table: pd.DataFrame, weights: np.ndarray, params: dict, peer: np.ndarray) -> dict:
    """Print sections 0 and 0b; return their rows, rounded, as a card records them."""
    print("== 0. Protocol: ROC AUC on rows no head saw, beside alt-profanity-check on the same rows ==")
    print(textwrap.fill(f"{PROTOCOL}. Diffs: grouped p_abusive - peer; the better left-out head - peer.", 110,
                        initial_indent="   ", subsequent_indent="   "))
    scores = protocol_scores(table, weights, params)
    ranking = protocol_rows(table, scores, peer)
    print_table(ranking)
    print("\n== 0b. Decisions on the corpus left out: calibration and review threshold fitted without it ==")
    print(f"   promise: p means p; abusive review catches {1 - APPROVE_MISS:.0%} of the abusive comments; hate reviews")
    print("   from 0.5. The peer's ECE is of its own probabilities on the same rows, for scale.")
    decisions = left_out_decisions(table, scores, peer)
    print_table(decisions)
    print()
    rounded = [[{k: _recorded(v) for k, v in row.items()} for row in rows] for rows in (ranking, decisions)]
    return {"roc_auc": rounded[0], "left_out_decisions": rounded[1]}


def _recorded(value):
    """A figure as a card holds it: 4 decimals, and null (not NaN, which strict JSON readers refuse) for none."""
    if isinstance(value, float):
        return None if np.isnan(value) else round(value, 4)
    return value


def record_protocol(model: str, figures: dict) -> None:
    """Write the protocol's figures into the card of ``model``, a model of the recipe just measured (``main``
    checks that before the run: the protocol refits the recipe, so its figures belong only to that recipe's
    artifact)."""
    card = artifacts.read_card(model)
    card["protocol"] = {
        "measured": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "command": "python benchmarks/abuse.py --protocol-only --record " + str(model),
        "how": f"{PROTOCOL}; beside alt-profanity-check on the same rows. Corpora, label "
               "mapping, weights and calibration were chosen with it since abuse-2026.11.3 (ablations on its quick "
               "form, 2,000 rows per corpus); the features added for the behavioural suite (verbs of hatred, "
               "negation and reported-speech marking, body parts) were kept only where it moved no corpus beyond "
               "noise (README, 'The abuse model'). left_out_decisions: the calibration and review threshold, "
               "fitted without a corpus, checked on it.",
        **figures}
    artifacts.write_card(model, card)
    print(f"protocol figures recorded in the card of {model}")


# --- 1. ranking, 2. calibration ------------------------------------------------------------------------------

def news_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of the news corpora that label the head with both classes (as the card's calibration): an
    all-positive corpus would make any score look under-confident."""
    both = frame.groupby("corpus")["y"].transform("nunique") == 2
    return frame[both & frame["corpus"].isin(NEWS_CORPORA)]


def ranking_rows(frame: pd.DataFrame) -> list[dict]:
    """ROC and PR AUC, ours and the peer's, per corpus with both classes, the news corpora and all."""
    groups = [(name, frame[frame["corpus"] == name]) for name in sorted(frame["corpus"].unique())]
    groups += [("news corpora", news_rows(frame)), ("all", frame)]
    rows = []
    for name, part in groups:
        if part["y"].nunique() < 2:
            continue
        ours_roc, peer_roc = roc_auc_score(part["y"], part["ours"]), roc_auc_score(part["y"], part["peer"])
        ours_pr, peer_pr = (average_precision_score(part["y"], part[c]) for c in ("ours", "peer"))
        rows.append({"corpus": name, "n": len(part), "pos": int(part["y"].sum()), "ROC ours": ours_roc,
                     "ROC peer": peer_roc, "ROC diff": ours_roc - peer_roc, "PR ours": ours_pr,
                     "PR peer": peer_pr, "PR ratio": ours_pr / peer_pr})
    return rows


def report_ranking(model: AbuseModel, table: pd.DataFrame, peer: np.ndarray) -> None:
    print("== 1. Ranking: our calibrated out-of-fold probabilities vs alt-profanity-check's predict_prob ==")
    print("   (ours: 5-fold CV, never scored by a head that saw the row; the peer is pre-trained: scored as is)")
    for category in HEADS:
        print(f"\n {category} head vs the peer's one score; corpora without both classes left out:")
        print_table(ranking_rows(out_of_fold(model, table, category, peer)))
    print()


def report_evaluation_only(model: AbuseModel, python: Path, tmp: Path) -> None:
    """Conversation AI's Wikipedia talk test comments: no head was trained on them and no choice was made by them,
    so the model is scored as shipped; the fuzzed copy swaps identity terms, and a model that leans on them drops."""
    print("== 1b. Never trained on, never used for a choice: Wikipedia talk test comments (toxic), ROC AUC ==")
    both = pd.concat(wikipedia_test_sets(), names=["copy"]).reset_index("copy")
    both["peer"], _ = peer_predict(python, both["text"].tolist(), tmp)  # one peer process for both copies
    proba = model.predict_proba(both["text"].tolist())
    both = both.assign(**{f"p_{c}": proba[:, n] for n, c in enumerate(model.classes_) if c in ("abusive", "toxic")})
    scores = ["peer", *both.columns[both.columns.str.startswith("p_")]]
    rows = [{"copy": name, "n": len(frame), "toxic": int(frame["label"].sum())}
            | {score: roc_auc_score(frame["label"], frame[score]) for score in scores}
            for name, frame in both.groupby("copy", sort=False)]
    print_table(rows)
    print()


def report_calibration(model: AbuseModel, table: pd.DataFrame, peer: np.ndarray) -> None:
    frame = out_of_fold(model, table, "abusive", peer)
    news = news_rows(frame)
    print("== 2. Calibration of p_abusive on the news corpora with both classes (out-of-fold) ==")
    print_table(reliability_table(news["y"], news["ours"]))
    ours, theirs = (binary_metrics(news["y"], news[c])["brier"] for c in ("ours", "peer"))
    print(f"  Brier score: ours {ours:.4f}, peer {theirs:.4f} (n = {len(news)}, "
          f"{news['y'].mean():.1%} abusive)\n")


# --- 3. toxic spans ------------------------------------------------------------------------------------------

def span_f1(predicted: set[int], gold: set[int]) -> float:
    """SemEval-2021 task 5 per-post F1: both empty 1, one empty 0."""
    if not predicted and not gold:
        return 1.0
    if not predicted or not gold:
        return 0.0
    return 2 * len(predicted & gold) / (len(predicted) + len(gold))


def offsets(reasons: list[dict]) -> set[int]:
    return {i for r in reasons for i in range(r["start"], r["end"])}


def held_out_model(model: AbuseModel, table: pd.DataFrame, weights: np.ndarray, texts: set[str]) -> AbuseModel:
    """A copy of ``model`` whose abusive head is refitted without the rows whose stripped text is in ``texts``."""
    keep = (table["abusive"].notna() & ~table["text"].str.strip().isin(texts)).to_numpy()
    features = model.transform_features(table.loc[keep, "text"])
    head = model._fit_head("abusive", features, table.loc[keep, "abusive"].astype(int).to_numpy(),
                           head_weights(table, weights, "abusive")[keep])
    held = copy.copy(model)
    held.heads_ = {**model.heads_, "abusive": head}
    return held


def span_scores(model: AbuseModel, texts: list[str], gold: list[set[int]]) -> dict[str, float]:
    """Mean span F1 of the abusive reasons: the shipped ones cut at top k, and the top 50 words with any positive
    weight (no share of the strongest required) cut at each weight."""
    features = model.transform_features(texts)
    every = [["abusive"]] * len(texts)
    scores = {}
    shipped = model.explain(texts, features, every, top=max(TOP_KS))  # top k is the first k of these
    for k in TOP_KS:
        scores[f"top {k}"] = np.mean([span_f1(offsets(r[:k]), g) for r, g in zip(shipped, gold, strict=True)])
    reasons = model.explain(texts, features, every, top=50, min_share=0.0)
    scores["all w > 0"] = np.mean([span_f1(offsets(r), g) for r, g in zip(reasons, gold, strict=True)])
    for cut in CUTOFFS:
        kept = [[x for x in r if x["weight"] >= cut] for r in reasons]
        scores[f"w >= {cut}"] = np.mean([span_f1(offsets(r), g) for r, g in zip(kept, gold, strict=True)])
    return scores


def peer_word_spans(python: Path, texts: list[str], tmp: Path) -> list[set[int]]:
    """The peer applied to each word (\\w+) alone: the offsets of the words it gives p >= 0.5."""
    words = sorted({m.group() for text in texts for m in WORD.finditer(text)})
    proba, _ = peer_predict(python, words, tmp)
    bad = {w for w, p in zip(words, proba, strict=True) if p >= 0.5}
    return [{i for m in WORD.finditer(text) if m.group() in bad for i in range(*m.span())} for text in texts]


def report_spans(model: AbuseModel, table: pd.DataFrame, weights: np.ndarray, python: Path, tmp: Path) -> None:
    trial = pd.read_csv(dataset_path("abuse", "toxic-spans", "tsd_trial.csv.gz"))
    texts = trial["text"].tolist()
    gold = [set(ast.literal_eval(s)) for s in trial["spans"]]
    stripped = {t.strip() for t in texts}
    overlap = int(table["text"].str.strip().isin(stripped).sum())
    print("== 3. Toxic spans: SemEval-2021 task 5 trial posts, mean per-post character F1 ==")
    print(f"  {len(texts)} posts ({sum(not g for g in gold)} with no gold span). {overlap} training rows have the text "
          "of a trial post:\n  the civil-comments corpus is built from the same toxic-spans posts (all labelled "
          "abusive), so the shipped recipe saw them.\n  'held-out head' refits the abusive head without those rows "
          "(same features, weights and C).")
    shipped = span_scores(model, texts, gold)
    held = span_scores(held_out_model(model, table, weights, stripped), texts, gold)
    print_table([{"reasons kept": name, "shipped head": shipped[name], "held-out head": held[name]}
                 for name in shipped])
    peer = peer_word_spans(python, texts, tmp)
    print(f"  baseline, the peer word by word (p >= 0.5 -> the word's characters): "
          f"{np.mean([span_f1(p, g) for p, g in zip(peer, gold, strict=True)]):.3f}")
    print(f"  baseline, no span at all: {np.mean([span_f1(set(), g) for g in gold]):.3f}\n")


# --- 3b. the behavioural suite --------------------------------------------------------------------------------

def report_behaviour(model: Path, python: Path, tmp: Path) -> None:
    """The CheckList-style cases of tests/test_behaviour.py (written for the tests, never trained on), with the
    peer's share of p >= 0.5 on the same cases."""
    spec = importlib.util.spec_from_file_location("test_behaviour", HERE.parent / "tests" / "test_behaviour.py")
    suite = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(suite)
    scored = suite.score_cases(moderation.load(model))
    peer, _ = peer_predict(python, scored["text"].tolist(), tmp)
    table = suite.summary(scored).join(scored.assign(peer=peer >= 0.5).groupby("function")["peer"].mean())
    print("== 3b. Behavioural suite (tests/test_behaviour.py): share flagged by the default policy, mean "
          "probabilities; peer: share with p >= 0.5 ==")
    print(table.round(3).to_string())
    hateful = scored["function"].str.startswith("hateful: ")
    print(f"  ROC AUC, hateful vs every contrast: ours p_hate {roc_auc_score(hateful, scored['p_hate']):.3f}, "
          f"p_abusive {roc_auc_score(hateful, scored['p_abusive']):.3f}; peer {roc_auc_score(hateful, peer):.3f}\n")


# --- shared with benchmarks/speed.py and benchmarks/cluster.py ---------------------------------------------

def tag(i: int) -> str:
    """A word of letters unique to row ``i`` (numbers do not count in the near-duplicate key)."""
    letters = ""
    while True:
        i, r = divmod(i, 26)
        letters += chr(97 + r)
        if i == 0:
            return "ref" + letters


def write_comments(path: Path, texts: np.ndarray, n: int, seed: int, chunk: int = 100_000,
                   distinct: bool = False) -> None:
    """``n`` comments sampled with replacement from ``texts`` as a CSV ``id,text``, written in chunks; with
    ``distinct``, each ends in a word of its own (``tag``), so that no two are copies of each other, as in a real
    input (copies are counted over the whole input and would send resampled comments to review)."""
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for start in range(0, n, chunk):
            picks = texts[rng.integers(0, len(texts), min(chunk, n - start))]
            if distinct:
                picks = [f"{text} {tag(start + k)}" for k, text in enumerate(picks)]
            writer.writerows(zip(range(start, start + len(picks)), picks, strict=True))


# --- main ----------------------------------------------------------------------------------------------------

def header(python: Path, tmp: Path) -> None:
    print(f"$ {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {platform.platform()}; "
          f"{os.cpu_count()} cores; load average {load} (other work on the machine slows every timing)")
    ours = ", ".join(f"{name} {version(name)}" for name in ("moderation", "scikit-learn", "numpy", "pandas"))
    print(f"ours: Python {platform.python_version()}, {ours}")
    _, info = peer_predict(python, ["hello"], tmp)
    print("peer: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()) + f" (venv {python})\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {QUICK_ROWS_PER_CORPUS} rows per corpus")
    parser.add_argument("--model", help="a model train_abuse wrote from the shared corpora, instead of fitting")
    parser.add_argument("--peer-python", help="Python of a venv with alt-profanity-check (default: .peer-venv)")
    parser.add_argument("--protocol-only", action="store_true", help="only the protocol (section 0)")
    parser.add_argument("--no-protocol", action="store_true", help="skip the protocol (section 0)")
    parser.add_argument("--record", metavar="MODEL",
                        help="write the protocol's figures into this model's card (a model of the current recipe)")
    parser.add_argument("--corpora", nargs="+", help="train and judge on these corpora only (an ablation)")
    parser.add_argument("--params", type=json.loads, default={},
                        help='AbuseModel parameters for the protocol, as JSON (e.g. \'{"generalized_ngrams": null}\')')
    parser.add_argument("--weights", type=json.loads, default={},
                        help='corpus weights replacing train.CORPUS_WEIGHTS\' (an ablation), e.g. \'{"gab": 0.5}\'')
    parser.add_argument("--drop-label", nargs="+", default=[], metavar="CORPUS:LABEL",
                        help="forget one corpus's labels for one head (an ablation), e.g. implicit-hate:abusive")
    args = parser.parse_args()
    if args.record and (args.no_protocol or args.quick or args.corpora or args.params or args.weights
                        or args.drop_label):
        parser.error("--record takes the full protocol of the shipped recipe: no --quick, ablation or --no-protocol")
    if args.record and (version := artifacts.read_card(args.record).get("version")) != ABUSE_VERSION:
        parser.error(f"--record: {args.record} is {version}, the recipe this code fits is {ABUSE_VERSION}")
    python = peer_python(args.peer_python)
    with tempfile.TemporaryDirectory(prefix="abuse-bench-") as folder:
        tmp = Path(folder)
        header(python, tmp)
        corpora = corpora_for(args.quick, args.model)
        corpora = [c for c in corpora if args.corpora is None or c.name in args.corpora]
        table, weights = abuse_training_table(corpora, args.weights)
        for name, label in (item.split(":") for item in args.drop_label):
            table.loc[table["corpus"] == name, label] = np.nan
        peer, _ = peer_predict(python, table["text"].tolist(), tmp)
        if not args.no_protocol:
            figures = report_protocol(table, weights, args.params, peer)
            if args.record:
                record_protocol(args.record, figures)
        if args.protocol_only:
            return
        path = fitted_model(args.model, corpora, table, tmp)
        model = artifacts.load(path).estimator
        report_ranking(model, table, peer)
        report_evaluation_only(model, python, tmp)
        report_calibration(model, table, peer)
        report_spans(model, table, weights, python, tmp)
        report_behaviour(path, python, tmp)


if __name__ == "__main__":
    main()
