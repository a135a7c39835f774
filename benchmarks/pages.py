"""How well ``parse_page`` finds reader comments on real pages nobody on this project wrote.

On pages with a comment section (dragnet, publisher's gold split): word recall (share of the comment
section's words found in some comment's author or text) and word precision (share of the words in
authors and texts that belong to the comment section), averaged over pages. On pages without comments
(dragnet without a section, multinews): the share where no comment is found. Words are lowercased word
tokens without dates, times, numbers and furniture words, compared as multisets.

    python benchmarks/pages.py [--half dev|holdout|all]   # header table alone, and with the shipped locator
    python benchmarks/pages.py --locator                  # the locator fitted on one half, reported on the other

``--half`` splits the dragnet pages by a hash of their id. The 17 pages the shared file marks comment-less although
their text still holds the publisher's separator are split there (``locator.split_at_separator``); the invented
rate under the shared file's own labels is printed beside the corrected one. The header table was written while
reading all the Dragnet training pages, so its figures on either half are in-sample; only the learned locator is
held out (``--locator``: fitted and thresholded by CV grouped by site on one hash half of the Dragnet pages and of the
Multi-News pages, whose comment-less news it learns from, and reported on the other halves, both ways).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import json
import re
import statistics
import time
from collections import Counter

from moderation.corpora import dataset_path
from moderation.locator import DRAGNET, dragnet_pages, fit_locator, news_pages
from moderation.pages import FORMATS, parse_page

_MONTHS = ("jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august "
           "september october november december mon tue wed thu fri sat sun monday tuesday wednesday "
           "thursday friday saturday sunday")
_ZONES = "est edt cst cdt mst mdt pst pdt et ct mt pt utc gmt akst akdt hst"
_FURNITURE = ("says said wrote reply replies posted by on at am pm report abuse as permalink ago comment comments "
              "said quote flag like likes votes points pts edit link written added")
IGNORED = set(f"{_MONTHS} {_ZONES} {_FURNITURE}".split())
_DATE_TOKEN = re.compile(r"\d+(?:st|nd|rd|th|am|pm|s)?|\d+[:./-]\d+.*")


def words(text: str) -> Counter:
    """Lowercased word tokens of a text, without dates, times, numbers and furniture words."""
    tokens = re.findall(r"\w+(?:['’:./-]\w+)*", text.lower())
    return Counter(t for t in tokens if t not in IGNORED and not _DATE_TOKEN.fullmatch(t))


def overlap(found: Counter, gold: Counter) -> tuple[float | None, float | None]:
    """(recall, precision) of found words against gold words; None where undefined."""
    common = sum((found & gold).values())
    recall = common / sum(gold.values()) if gold else None
    precision = common / sum(found.values()) if found else None
    return recall, precision


def _load(parts: tuple[str, ...]) -> list[dict]:
    with gzip.open(dataset_path(*parts), "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


@functools.cache
def relabelled() -> frozenset[str]:
    """The pages the shared file marks comment-less that ``dragnet_pages`` splits at their separator."""
    shared = {r["doc_id"]: r["has_comments"] for r in _load(DRAGNET)}
    return frozenset(r["doc_id"] for r in dragnet_pages() if r["has_comments"] != shared[r["doc_id"]])


def _in_half(doc_id: str, half: str) -> bool:
    even = int(hashlib.sha1(doc_id.encode()).hexdigest(), 16) % 2 == 0
    return half == "all" or (half == "dev") == even


def _format_of(text: str) -> str | None:
    """Which header format the parser chose for a page (for the per-format counts)."""
    from moderation.pages import _best, _lines

    best = _best(_lines(text))
    return best[0].name if best else None


def comment_words(article) -> Counter:
    found = Counter()
    for comment in article.comments:
        found += words(f"{comment.author or ''} {comment.text}")
    return found


def _report(label: str, dragnet: list[dict], multinews: list[dict], locator, worst: int = 0) -> None:
    """Print the three measures and the speed of ``parse_page`` with ``locator`` on these pages."""
    started = time.perf_counter()
    parsed = [parse_page(r["text"], locator=locator) for r in dragnet + multinews]
    elapsed = time.perf_counter() - started
    scores, formats = [], Counter()
    for row, article in zip(dragnet, parsed, strict=False):
        if row["has_comments"]:
            scores.append((*overlap(comment_words(article), words(row["comments_gold"])), row["doc_id"]))
            formats[_format_of(row["text"]) or "(none)"] += 1
    no_comment = [not a.comments for r, a in zip(dragnet, parsed, strict=False) if not r["has_comments"]]
    as_shared = [not a.comments for r, a in zip(dragnet, parsed, strict=False)
                 if not r["has_comments"] or r["doc_id"] in relabelled()]
    multi = [not a.comments for a in parsed[len(dragnet):]]
    recalls = [r for r, _, _ in scores]
    answered = [p for _, p, _ in scores if p is not None]
    print(f"{label}: {len(scores)} dragnet pages with comments, {len(no_comment)} without")
    print(f"  word recall    (mean over pages, nothing found = 0): {statistics.mean(recalls):.3f}")
    print(f"  word precision (mean over pages, nothing found = 1): "
          f"{statistics.mean(p if p is not None else 1.0 for _, p, _ in scores):.3f}")
    print(f"  word precision (mean over the {len(answered)} pages where comments were found): "
          f"{statistics.mean(answered):.3f}")
    print(f"  comments invented on {sum(not n for n in no_comment)}/{len(no_comment)} dragnet pages without a "
          f"section = {1 - statistics.mean(no_comment):.3f}; on {sum(not m for m in multi)}/{len(multi)} multinews "
          f"pages = {1 - statistics.mean(multi):.3f}")
    print(f"  (under the shared file's labels: {sum(not n for n in as_shared)}/{len(as_shared)} dragnet pages = "
          f"{1 - statistics.mean(as_shared):.3f})")
    print(f"  speed: {len(parsed) / elapsed:.0f} pages/second ({len(parsed)} pages in {elapsed:.1f} s)")
    if worst:
        print("  format chosen on pages with comments: "
              + ", ".join(f"{name} {count}" for name, count in formats.most_common()))
    for recall, precision, doc_id in sorted(scores, key=lambda s: s[0] + (s[1] or 1))[:worst]:
        print(f"    {doc_id}: recall {recall:.2f}, precision {'-' if precision is None else f'{precision:.2f}'}")


def measure(half: str, worst: int) -> None:
    """The table alone, and with the shipped locator (which was fitted on all the Dragnet training pages)."""
    dragnet = [r for r in dragnet_pages() if _in_half(r["doc_id"], half)]
    multinews = news_pages()
    print(f"formats in the table: {', '.join(f.name for f in FORMATS)}")
    _report(f"dragnet {half}, header table alone", dragnet, multinews, None, worst)
    _report(f"dragnet {half}, table + shipped locator (in-sample for the locator)", dragnet, multinews, "shipped")


def held_out(worst: int) -> None:
    """The honest protocol: fit the locator on one hash half of the Dragnet and the Multi-News pages (threshold by
    CV grouped by site), report the other halves."""
    pages = dragnet_pages()
    multinews = news_pages()
    for fit_half, report_half in (("dev", "holdout"), ("holdout", "dev")):
        fitted = fit_locator([r for r in pages + multinews if _in_half(r["doc_id"], fit_half)])
        print(f"locator fitted on {fit_half}: threshold {fitted.model.threshold:.2f}; out of fold there: "
              f"{fitted.metrics}")
        report = [r for r in pages if _in_half(r["doc_id"], report_half)]
        news = [r for r in multinews if _in_half(r["doc_id"], report_half)]
        _report(f"  reported on {report_half}, header table alone", report, news, None)
        _report(f"  reported on {report_half}, table + locator fitted on {fit_half}", report, news, fitted.model,
                worst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--half", choices=("dev", "holdout", "all"), default="all")
    parser.add_argument("--worst", type=int, default=0, help="also list the N pages scoring lowest")
    parser.add_argument("--locator", action="store_true",
                        help="fit the locator on each hash half and report the other half (both directions)")
    args = parser.parse_args()
    if args.locator:
        held_out(args.worst)
    else:
        measure(args.half, args.worst)


if __name__ == "__main__":
    main()
