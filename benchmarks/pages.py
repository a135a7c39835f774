"""How well ``parse_page`` finds reader comments on real pages nobody on this project wrote.

On pages with a comment section (dragnet, publisher's gold split): word recall (share of the comment
section's words found in some comment's author or text) and word precision (share of the words in
authors and texts that belong to the comment section), averaged over pages. On pages without comments
(dragnet without a section, multinews): the share where no comment is found. Words are lowercased word
tokens without dates, times, numbers and furniture words, compared as multisets.

    python benchmarks/pages.py [--half dev|holdout|all]

``--half`` splits the dragnet pages by a hash of their id, so rules written while reading one half can
be checked on the other.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import statistics
import time
from collections import Counter

from moderation.corpora import dataset_path
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


def measure(half: str, worst: int) -> None:
    dragnet = [r for r in _load(("pages", "dragnet_corrected", "pages.train.jsonl.gz"))
               if _in_half(r["doc_id"], half)]
    multinews = _load(("pages", "multinews_samples", "news_pages.jsonl.gz"))
    started = time.perf_counter()
    parsed = [parse_page(r["text"]) for r in dragnet + multinews]
    elapsed = time.perf_counter() - started
    scores, formats = [], Counter()
    for row, article in zip(dragnet, parsed, strict=False):
        if row["has_comments"]:
            scores.append((*overlap(comment_words(article), words(row["comments_gold"])), row["doc_id"]))
            formats[_format_of(row["text"]) or "(none)"] += 1
    no_comment = [not a.comments for r, a in zip(dragnet, parsed, strict=False) if not r["has_comments"]]
    multi = [not a.comments for a in parsed[len(dragnet):]]
    recalls = [r for r, _, _ in scores]
    answered = [p for _, p, _ in scores if p is not None]
    print(f"dragnet {half}: {len(scores)} pages with comments, {len(no_comment)} without")
    print(f"  word recall    (mean over pages, nothing found = 0): {statistics.mean(recalls):.3f}")
    print(f"  word precision (mean over pages, nothing found = 1): "
          f"{statistics.mean(p if p is not None else 1.0 for _, p, _ in scores):.3f}")
    print(f"  word precision (mean over the {len(answered)} pages where comments were found): "
          f"{statistics.mean(answered):.3f}")
    print(f"  no comments found on pages without a section: {statistics.mean(no_comment):.3f}")
    print(f"multinews: no comments found on {sum(multi)}/{len(multi)} pages = {statistics.mean(multi):.3f}")
    print("format chosen on pages with comments: "
          + ", ".join(f"{name} {count}" for name, count in formats.most_common()))
    print(f"formats in the table: {', '.join(f.name for f in FORMATS)}")
    print(f"speed: {len(parsed) / elapsed:.0f} pages/second ({len(parsed)} pages in {elapsed:.1f} s)")
    for recall, precision, doc_id in sorted(scores, key=lambda s: s[0] + (s[1] or 1))[:worst]:
        print(f"  {doc_id}: recall {recall:.2f}, precision {'-' if precision is None else f'{precision:.2f}'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--half", choices=("dev", "holdout", "all"), default="all")
    parser.add_argument("--worst", type=int, default=0, help="also list the N pages scoring lowest")
    args = parser.parse_args()
    measure(args.half, args.worst)


if __name__ == "__main__":
    main()
