"""Does retraining on a few hundred of a new site's labels lift that site's ROC AUC?

A "new site" is one shared corpus held out of training (default insults-2012, news comments). A few hundred of
its rows play the site's labels; the rest of it is the site's test set. The model is trained without the site,
then retrained with n = 100, 200, 400, 800 site labels weighted as ``moderation train`` does
(``train.SITE_SHARE`` of the training weight, or each ``--share``), and measured on the test set.

    python benchmarks/retrain.py                      # full shared data (minutes per fit on 2 cores)
    python benchmarks/retrain.py --site stormfront insults-2012 --sizes 0 400
    python benchmarks/retrain.py --quick --sizes 200 400   # sampled shared data, seconds per fit
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from moderation import artifacts
from moderation.corpora.abuse import CATEGORIES, LOADERS, load_all
from moderation.evaluate import binary_metrics
from moderation.labels import site_weight, split_holdout
from moderation.train import (
    QUICK_PARAMS,
    SITE_MAX_WEIGHT,
    SITE_SHARE,
    abuse_training_table,
    quick_sample,
    site_table,
    train_abuse,
)


def fit_and_measure(corpora, site, share, max_weight, test, label, quick) -> tuple[dict, float]:
    """Train on ``corpora`` plus ``site`` rows at ``share`` of the weight (each at most ``max_weight``); the
    figures on ``test``, and seconds."""
    _, shared = abuse_training_table(corpora)
    extra = site.assign(weight=site_weight(len(site), float(shared.sum()), share, max_weight)) if len(site) else None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "abuse.joblib"
        train_abuse(path, corpora, extra, fairness=False, **(QUICK_PARAMS if quick else {}))
        seconds = time.perf_counter() - started
        model = artifacts.load(path).estimator
    p = model.predict_proba(test["text"])[:, list(model.classes_).index(label)]
    return binary_metrics(test[label], p), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--site", nargs="+", default=["insults-2012"], choices=list(LOADERS), metavar="CORPUS",
                        help="shared corpora playing the new site")
    parser.add_argument("--label", default="abusive")
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 100, 200, 400, 800], help="0: no site labels")
    parser.add_argument("--shares", type=float, nargs="+", default=[SITE_SHARE])
    parser.add_argument("--max-weight", type=float, default=SITE_MAX_WEIGHT, help="largest weight of a site row")
    parser.add_argument("--test", type=int, default=2000, help="site rows kept as its test set")
    parser.add_argument("--quick", action="store_true", help="train on a sample of the shared data, small features")
    args = parser.parse_args()

    corpora = load_all()
    for name in args.site:
        run_site(corpora, name, args)


def run_site(corpora, name: str, args) -> None:
    """The table for one shared corpus playing the new site."""
    site_corpus = next(c for c in corpora if c.name == name)
    if args.test >= len(site_corpus.frame):
        raise SystemExit(f"--test {args.test}: {name} has only {len(site_corpus.frame)} rows")
    others = [c for c in corpora if c.name != name]
    others = quick_sample(others) if args.quick else others
    pool, test = split_holdout(site_corpus.frame, args.test / len(site_corpus.frame))
    pool = pool.sample(frac=1, random_state=0).reset_index(drop=True)
    print(f"site: {name}, test set {len(test)} rows ({int(test[args.label].sum())} {args.label}), "
          f"shared data: {', '.join(c.name for c in others)} ({sum(len(c.frame) for c in others)} rows)"
          f"{', quick' if args.quick else ''}")
    print(f"{'site labels':>11} {'share':>6} {'ROC AUC':>8} {'PR AUC':>7} {'train s':>8}   (max row weight "
          f"{args.max_weight})")
    for n in args.sizes:
        site = site_table(pool.iloc[:n], CATEGORIES)
        for share in args.shares if n else [0.5]:
            after, seconds = fit_and_measure(others, site, share, args.max_weight, test, args.label, args.quick)
            print(f"{n:>11} {share:>6.2f} {after['roc_auc']:>8.4f} {after['pr_auc']:>7.4f} {seconds:>8.0f}",
                  flush=True)
    print()

if __name__ == "__main__":
    main()
