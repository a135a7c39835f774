"""`moderation review`: the review desk, a local web page where moderators clear the queue of held comments.

Scored rows (what ``moderation score`` writes, or any input ``score`` reads, scored here first) become a queue of
``QueueItem``s: review first, then reject, approved ones on request. Every verdict is appended and fsync'ed to
``DIR/review.jsonl`` in the label format of ``labeled/README.md`` before the page hears back, so ``moderation
train`` reads it as it is; a later line for the same id supersedes the earlier (``labels.latest_verdicts``).

Comment text is hostile: the page inserts it with DOM text nodes only, under a Content-Security-Policy that allows
no inline script, no inline style and nothing from another origin; charts are SVG drawn here with every label
escaped. Without API keys the desk listens on loopback only and answers only requests naming a loopback host.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from moderation.policy import DECISIONS, Policy
from moderation.rows import InputError, InputRow, read_rows
from moderation.service.auth import ServeError, authorize, check_exposure, read_api_keys
from moderation.service.http import ApiError, json_response

REVIEW_FILE = "review.jsonl"
QUEUE_ORDER = {"review": 0, "reject": 1, "approve": 2}
# What each verdict says in the label format: reject means abusive; off-topic says nothing about abuse.
VERDICT_LABELS = {"approve": {"abusive": 0}, "reject": {"abusive": 1}, "off_topic": {"off_topic": 1}}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
STATIC = {"desk.js": "text/javascript", "desk.css": "text/css"}


class ReviewError(RuntimeError):
    """Inputs or a configuration the desk cannot start with."""


# --- The queue ---------------------------------------------------------------------------------------------------

@dataclass
class QueueItem:
    """One scored comment as the desk shows it."""

    id: str
    text: str
    decision: str
    reason_codes: list[str]
    probabilities: dict[str, float]
    reasons: list[dict]
    source: str  # file:line
    author: str | None = None
    posted_at: str | None = None
    page: str | None = None
    title: str | None = None
    article: str | None = None
    reply_to: dict | None = None  # {"author", "text"} of the comment it answers, when known

    def to_json(self) -> dict:
        """What the page gets: everything but the article's text, plus the text cut into marked segments."""
        out = {k: v for k, v in asdict(self).items() if k != "article"}
        return out | {"segments": segments(self.text, self.reasons)}


def segments(text: str, reasons: list[dict]) -> list[dict]:
    """``text`` cut at the reasons' offsets: plain parts and marked parts (``category``, ``start``, ``end``).

    Offsets are Python's (code points); cutting here spares the page JavaScript's UTF-16 offsets. Reasons that
    overlap an earlier-starting one, or whose offsets do not fit the text, are left unmarked.
    """
    spans = sorted((r["start"], -r["end"], i) for i, r in enumerate(reasons)
                   if isinstance(r.get("start"), int) and isinstance(r.get("end"), int))
    out, at = [], 0
    for start, minus_end, i in spans:
        end, reason = -minus_end, reasons[i]
        if not at <= start < end <= len(text):
            continue
        if start > at:
            out.append({"text": text[at:start]})
        out.append({"text": text[start:end], "category": str(reason.get("category", "")), "start": start,
                    "end": end, "weight": reason.get("weight"), "message": reason.get("message")})
        at = end
    if at < len(text):
        out.append({"text": text[at:]})
    return out


def _json_field(value, default):
    """A list column as ``score`` writes it: native in JSON Lines, JSON text in CSV, empty when absent."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else default
        except ValueError:
            return default
    return default if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _text(value) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _item(row: InputRow, fields: dict) -> QueueItem:
    """A queue item from an input row and its scored fields (from the file, or from scoring it here)."""
    probabilities = {}
    for key, value in fields.items():
        if key.startswith("p_"):
            with contextlib.suppress(TypeError, ValueError):
                if not np.isnan(float(value)):
                    probabilities[key[2:]] = float(value)
    return QueueItem(
        id=row.id, text=row.text, decision=str(fields.get("decision")),
        reason_codes=_json_field(fields.get("reason_codes"), []), probabilities=probabilities,
        reasons=[r for r in _json_field(fields.get("reasons"), []) if isinstance(r, dict)],
        source=f"{row.source}:{row.line}", author=_text(fields.get("author")),
        posted_at=_text(fields.get("posted_at")), page=_text(fields.get("page")), title=_text(fields.get("title")),
        article=_text(fields.get("article")))


def _is_scored(rows: list[InputRow]) -> bool:
    first = next((row for row in rows if row.error is None), None)
    return first is not None and "decision" in first.extra and "p_abusive" in first.extra


def _read(path: str, text_column, id_column, encoding) -> list[InputRow]:
    try:
        return list(read_rows(path, text_column=text_column, id_column=id_column, encoding=encoding))
    except InputError as exc:
        hint = (" (a file `moderation score` wrote from CSV or JSON Lines holds no comment text: give review the "
                "comments file itself, it scores it)") if "no text column" in str(exc) else ""
        raise ReviewError(f"{exc}{hint}") from exc


def _link_replies(items: list[QueueItem], rows: dict[str, InputRow]) -> None:
    """Each reply's parent: the latest earlier comment on the same page by the author it answers."""
    by_author: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for item in items:
        by_author.setdefault((item.page, item.author), []).append((rows[item.id].extra.get("index", -1), item.text))
    for item in items:
        author = rows[item.id].extra.get("reply_to")
        if item.page and isinstance(author, str):
            index = rows[item.id].extra.get("index", -1)
            earlier = [text for at, text in sorted(by_author.get((item.page, author), [])) if at < index]
            item.reply_to = {"author": author, "text": earlier[-1] if earlier else None}


def redecide(items: list[QueueItem], policy: Policy) -> None:
    """Decisions and reason codes of already scored items under another policy (``--policy`` on a scored file)."""
    if not items:
        return
    proba = pd.DataFrame([item.probabilities for item in items])
    decisions, codes, _ = policy.decide(proba)
    for item, decision, code in zip(items, decisions, codes, strict=True):
        item.decision, item.reason_codes = str(decision), code


def read_queue(inputs: list[str], moderator=None, policy: Policy | None = None, text_column: str | None = None,
               id_column: str | None = None, encoding: str = "utf-8") -> tuple[list[QueueItem], list[str]]:
    """The queue items of ``inputs`` (scored files as they are, anything else scored with ``moderator``, loaded
    on first need), and the rows that could not be scored. Ids must be unique: a verdict names its comment by id.
    """
    from moderation.scoring import load, score_stream

    items, errors, by_id = [], [], {}
    for path in inputs:
        rows, start = _read(path, text_column, id_column, encoding), len(items)
        already_scored = _is_scored(rows)
        if already_scored:
            scored = [row.extra for row in rows]
        else:
            moderator = load() if moderator is None else moderator
            scored = list(score_stream(moderator, rows, "flagged", policy or moderator.policy))
        for row, fields in zip(rows, scored, strict=True):
            error = row.error or _text(fields.get("error"))
            if error or not (row.text or "").strip() or fields.get("decision") not in QUEUE_ORDER:
                errors.append(error or f"{row.source}:{row.line}: no text or no decision")
                continue
            if row.id in by_id:
                raise ReviewError(f"{row.source}:{row.line}: id {row.id!r} again (first at {by_id[row.id].source}"
                                  f"): a verdict names its comment by id, so ids must be unique; name the id "
                                  f"column with --id-column")
            merged = row.extra | {k: v for k, v in fields.items() if v is not None}
            items.append(_item(row, merged))
            by_id[row.id] = row
        if already_scored and policy is not None:
            redecide(items[start:], policy)
    _link_replies(items, by_id)
    return sorted(items, key=lambda i: (QUEUE_ORDER[i.decision], -i.probabilities.get("abusive", 0))), errors


# --- Verdicts: DIR/review.jsonl ----------------------------------------------------------------------------------

def verdict_record(item: QueueItem, verdict: str, now: datetime) -> dict:
    """One verdict as a row of the label format (``labeled/README.md``), with what the model had decided."""
    if verdict not in VERDICT_LABELS:
        raise ApiError(400, f"verdict must be one of {', '.join(VERDICT_LABELS)}")
    stamp = now.astimezone(UTC).isoformat(timespec="seconds")
    record = {"id": item.id, "text": item.text, **VERDICT_LABELS[verdict], "verdict": verdict,
              "model_decision": item.decision, "source": "review-desk", "labeled_at": stamp, "decided_at": stamp}
    if item.article:
        record["article"] = item.article
    if item.page:
        record["article_id"] = item.page
    return record


class VerdictLog:
    """``DIR/review.jsonl``, append only: each line is durable (fsync'ed) before ``append`` returns.

    The latest line per id is that comment's verdict; an ``undone`` line withdraws it. Every read and append holds
    an exclusive ``flock`` and first takes in the lines others appended (another tab's verdicts go through this
    process; another desk on the same folder through the file), so nobody's verdict is lost or hidden. A line's
    byte offset is its ``seq``: an undo names the verdict it withdraws and is refused once a newer one exists.
    """

    def __init__(self, directory: str | os.PathLike):
        self.path = Path(directory) / REVIEW_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._offset = 0
        self._latest: dict[str, dict] = {}
        self.snapshot()

    @contextlib.contextmanager
    def _locked(self):
        with self._lock, open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            handle.seek(self._offset)
            for line in handle.read().splitlines(keepends=True):
                if line.endswith(b"\n"):  # a torn last line (a crash mid-write) is left for the next append
                    self._take(line, self._offset)
                    self._offset += len(line)
            yield handle

    def _take(self, line: bytes, seq: int) -> None:
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and "id" in record:
                if record.get("undone"):
                    self._latest.pop(str(record["id"]), None)
                else:
                    self._latest[str(record["id"])] = record | {"seq": seq}

    def snapshot(self) -> dict[str, dict]:
        """Each decided id's latest verdict (its record and ``seq``)."""
        with self._locked():
            return dict(self._latest)

    def append(self, record: dict, withdraws: int | None = None) -> dict[str, dict]:
        """Write ``record`` durably; with ``withdraws`` (an undo) only while that seq is still the id's verdict."""
        with self._locked() as handle:
            if withdraws is not None and self._latest.get(record["id"], {}).get("seq") != withdraws:
                raise ApiError(409, "this verdict was changed since (in another tab?): reload to see the latest")
            handle.seek(0, os.SEEK_END)
            if handle.tell() > self._offset:  # a torn line: start ours on a fresh one
                handle.write(b"\n")
                self._offset = handle.tell()
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
            self._take(line, self._offset)
            self._offset += len(line)
            return dict(self._latest)


# --- The summary -------------------------------------------------------------------------------------------------

def summary(items: list[QueueItem], verdicts: dict[str, dict], top: int = 12) -> dict:
    """The run at a glance: decision shares, ``p_abusive`` histogram, flagged comments per article, the most
    frequent reason terms, and how often moderators' verdicts agreed with each model decision (with approve when
    they approved; with review and reject when they rejected, as abusive or off-topic: the hold was needed)."""
    decisions = Counter(item.decision for item in items)
    p = [item.probabilities.get("abusive") for item in items if "abusive" in item.probabilities]
    counts, edges = np.histogram(p, bins=10, range=(0, 1))
    flagged = Counter(item.title or item.page or "(no article)" for item in items if item.decision != "approve")
    terms = Counter(reason["term"].casefold() for item in items for reason in item.reasons
                    if isinstance(reason.get("term"), str))
    agreement = {}
    for decision in DECISIONS:
        given = Counter(verdicts[item.id]["verdict"] for item in items
                        if item.decision == decision and item.id in verdicts)
        n = sum(given.values())
        agreed = given["approve"] if decision == "approve" else given["reject"] + given["off_topic"]
        agreement[decision] = {"verdicts": n, **{v: given[v] for v in VERDICT_LABELS},
                               "agreed": round(agreed / n, 3) if n else None}
    return {"comments": len(items), "decisions": {d: decisions[d] for d in DECISIONS},
            "p_abusive": {"edges": [round(e, 2) for e in edges], "counts": counts.tolist()},
            "flagged_per_article": flagged.most_common(top), "reason_terms": terms.most_common(top),
            "agreement": agreement}


def bar_chart(title: str, bars: list[tuple[str, float]], unit: str = "", maximum: float | None = None,
              width: int = 560) -> str:
    """A horizontal bar chart as standalone SVG, scaled to ``maximum`` (else the longest bar); every label is
    escaped (terms and titles come from comments)."""
    row, label_width, top = 22, 210, 34
    height = top + row * max(len(bars), 1) + 8
    biggest = maximum or max([value for _, value in bars] + [1e-9])
    scale = (width - label_width - 70) / biggest
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f'<text x="4" y="18" font-size="14" font-weight="bold">{escape(title)}</text>']
    if not bars:
        parts.append(f'<text x="4" y="{top + 14}" fill="#666">nothing yet</text>')
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        short = label if len(label) <= 26 else label[:25] + "…"
        parts += [f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end">{escape(short)}</text>',
                  f'<rect x="{label_width}" y="{y + 3}" width="{value * scale:.1f}" height="{row - 6}" '
                  f'fill="#3b6ea5"/>',
                  f'<text x="{label_width + value * scale + 4:.1f}" y="{y + 14}">{value:g}{escape(unit)}</text>']
    return "\n".join(parts + ["</svg>"])


def charts(stats: dict) -> dict[str, str]:
    """The summary's charts by name, as SVG."""
    total = max(stats["comments"], 1)
    edges = stats["p_abusive"]["edges"]
    agreement = [(f"model {d} ({a['verdicts']} verdicts)", round(100 * a["agreed"], 1))
                 for d, a in stats["agreement"].items() if a["agreed"] is not None]
    return {
        "decisions": bar_chart("Decisions (% of comments)",
                               [(d, round(100 * n / total, 1)) for d, n in stats["decisions"].items()], " %", 100),
        "p_abusive": bar_chart("p_abusive (comments per bin)",
                               [(f"{lo:.1f}–{hi:.1f}", n) for lo, hi, n in
                                zip(edges, edges[1:], stats["p_abusive"]["counts"], strict=False)]),
        "articles": bar_chart("Flagged comments per article", stats["flagged_per_article"]),
        "terms": bar_chart("Most frequent reason terms", stats["reason_terms"]),
        "agreement": bar_chart("Moderators agreed with the model (%)", agreement, " %", 100),
    }


# --- The app -----------------------------------------------------------------------------------------------------

def desk_file(name: str) -> bytes:
    return resources.files("moderation.desk").joinpath(name).read_bytes()


def _same_origin(request: Request) -> None:
    """A verdict must come from the desk's own page: JSON (a cross-site form cannot send it without asking first)
    and, when the browser names an origin, ours."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise ApiError(415, "send verdicts as application/json")
    origin = request.headers.get("origin")
    if origin and origin != f"{request.url.scheme}://{request.headers.get('host')}":
        raise ApiError(403, f"verdicts from another origin ({origin}) are refused")


@dataclass
class Desk:
    """The queue, the verdict log and the keys the handlers share."""

    items: list[QueueItem]
    log: VerdictLog
    api_keys: list[bytes] = field(default_factory=list)

    def __post_init__(self):
        self.by_id = {item.id: item for item in self.items}

    def _verdicts(self, latest: dict[str, dict]) -> dict:
        keep = ("verdict", "seq", "decided_at")
        return {"verdicts": {i: {k: r.get(k) for k in keep} for i, r in latest.items() if i in self.by_id}}

    async def page(self, request: Request) -> Response:
        return Response(desk_file("index.html"), media_type="text/html; charset=utf-8")

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            raise ApiError(404, f"no such file: {name}")
        return Response(desk_file(name), media_type=STATIC[name])

    async def queue(self, request: Request) -> Response:
        authorize(request, self.api_keys)
        return json_response({"items": [item.to_json() for item in self.items]} | self._verdicts(self.log.snapshot()))

    async def verdicts(self, request: Request) -> Response:
        authorize(request, self.api_keys)
        return json_response(self._verdicts(self.log.snapshot()))

    async def _body(self, request: Request) -> tuple[QueueItem, dict]:
        authorize(request, self.api_keys)
        _same_origin(request)
        try:
            body = json.loads(await request.body())
        except ValueError:
            raise ApiError(400, "the body is not JSON") from None
        item = self.by_id.get(str(body.get("id"))) if isinstance(body, dict) else None
        if item is None:
            raise ApiError(404, "no comment with that id in this queue")
        return item, body

    async def decide(self, request: Request) -> Response:
        item, body = await self._body(request)
        record = verdict_record(item, body.get("verdict"), datetime.now(UTC))
        return json_response(self._verdicts(self.log.append(record)))

    async def undo(self, request: Request) -> Response:
        item, body = await self._body(request)
        if not isinstance(body.get("seq"), int):
            raise ApiError(400, "name the verdict to undo by its seq")
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        record = {"id": item.id, "text": item.text, "undone": 1, "source": "review-desk", "decided_at": stamp}
        return json_response(self._verdicts(self.log.append(record, withdraws=body["seq"])))

    async def summary(self, request: Request) -> Response:
        authorize(request, self.api_keys)
        return json_response(summary(self.items, self.log.snapshot()))

    async def chart(self, request: Request) -> Response:
        authorize(request, self.api_keys)
        drawn = charts(summary(self.items, self.log.snapshot()))
        name = request.path_params["name"]
        if name not in drawn:
            raise ApiError(404, f"no chart {name!r} (charts: {', '.join(drawn)})")
        return Response(drawn[name], media_type="image/svg+xml")


class SecurityHeaders:
    """ASGI middleware: the strict Content-Security-Policy and friends on every response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + [
                    (k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


def create_app(items: list[QueueItem], labeled_dir: str | os.PathLike, api_keys: list[str] = (),
               host: str = "127.0.0.1") -> Starlette:
    """The desk's ASGI app. Without ``api_keys`` only requests naming a loopback host (or ``host``) are answered,
    which also keeps a web page elsewhere from reaching the desk by DNS rebinding."""
    desk = Desk(items, VerdictLog(labeled_dir), [key.encode() for key in api_keys])
    routes = [Route("/", desk.page), Route("/static/{name}", desk.static),
              Route("/api/queue", desk.queue), Route("/api/verdicts", desk.verdicts),
              Route("/api/verdict", desk.decide, methods=["POST"]), Route("/api/undo", desk.undo, methods=["POST"]),
              Route("/api/summary", desk.summary), Route("/charts/{name}.svg", desk.chart)]
    hosts = ["*"] if api_keys else sorted({"127.0.0.1", "localhost", "::1", "[::1]", host})

    async def api_error(request, exc: ApiError):
        return exc.response()

    app = Starlette(routes=routes, exception_handlers={ApiError: api_error},
                    middleware=[Middleware(SecurityHeaders), Middleware(TrustedHostMiddleware, allowed_hosts=hosts)])
    app.state.desk = desk
    return app


@dataclass(frozen=True)
class ReviewConfig:
    """What ``moderation review`` was asked for."""

    inputs: list[str]
    labeled_dir: str = "labeled"
    host: str = "127.0.0.1"
    port: int = 8765
    policy_file: str | None = None
    api_keys_file: str | None = None
    text_column: str | None = None
    id_column: str | None = None
    encoding: str = "utf-8"


def run(config: ReviewConfig, echo=print) -> None:
    """Check the exposure, build the queue (scoring inputs that are not scored yet) and serve until stopped."""
    import uvicorn

    from moderation.artifacts import ArtifactError
    from moderation.policy import PolicyError
    from moderation.scoring import load

    try:
        keys = read_api_keys(config.api_keys_file)
        check_exposure(config.host, keys)
        policy = None
        moderator = None
        if config.policy_file:
            moderator = load()
            policy = moderator.policy.with_file(config.policy_file)
        items, errors = read_queue(config.inputs, moderator, policy, config.text_column, config.id_column,
                                   config.encoding)
    except (ServeError, ArtifactError, PolicyError, OSError, ValueError) as exc:
        raise ReviewError(str(exc)) from exc
    for error in errors:
        echo(f"left out {error}")
    if not items:
        raise ReviewError("no comment to review in the inputs")
    app = create_app(items, config.labeled_dir, keys, config.host)
    held = sum(item.decision != "approve" for item in items)
    shown = f"[{config.host}]" if ":" in config.host else config.host
    echo(f"{len(items)} comments, {held} held for review or rejected; verdicts go to "
         f"{Path(config.labeled_dir) / REVIEW_FILE}")
    echo(f"review desk: http://{shown}:{config.port}/" + ("?key=YOUR_KEY" if keys else ""))
    uvicorn.run(app, host=config.host, port=config.port, access_log=False, log_level="warning")
