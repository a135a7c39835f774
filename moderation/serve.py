"""`moderation serve`: the shipped models over HTTP, on the newsroom's own machine.

Endpoints: Perspective's ``comments:analyze`` and ``comments:suggestscore`` (so Coral's Perspective settings can
point here), Coral's external moderation phase, our own batch ``/v1/score``, ``/healthz`` and ``/metrics``.
The request/response mappings are pure functions below; the app only wires them to HTTP.

Perspective attributes are products of our category probabilities (``ATTRIBUTE_SOURCES``): one category each,
except ``SEVERE_TOXICITY`` = p_abusive x p_toxic, high only when both the news-comment abuse head and the
toxicity head fire, so that, like Perspective's, it stays low for mere rudeness or profanity.

Scoring costs mostly per call rather than per comment, so a ``Batcher`` scores comments from concurrent
requests together (never letting one request's scores depend on another's), in a worker thread so the event
loop keeps serving. With ``--workers N`` uvicorn starts N processes, each building its app with ``app_from_env``
from the JSON config the CLI put in ``MODERATION_SERVE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from moderation.corpora.abuse import CATEGORIES
from moderation.policy import REASON_CODES, Policy
from moderation.rows import InputRow, jsonable
from moderation.scoring import REASON_MODES, Moderator, score_stream

log = logging.getLogger("moderation.serve")

ATTRIBUTE_SOURCES = {
    "TOXICITY": ("abusive",),
    "SEVERE_TOXICITY": ("abusive", "toxic"),
    "INSULT": ("insult",),
    "PROFANITY": ("obscene",),
    "THREAT": ("threat",),
    "IDENTITY_ATTACK": ("hate",),
    "SPAM": ("off_topic",),
    "OFF_TOPIC": ("off_topic",),
}
# What a moderator's suggested score says about each training label; SEVERE_TOXICITY is derived, so not here.
# APPROVED and DELETED are what Coral's "send feedback" puts in attributeScores (value 1) for its verdicts.
SUGGEST_LABELS = {name: sources[0] for name, sources in ATTRIBUTE_SOURCES.items() if len(sources) == 1}
CORAL_VERDICTS = {"APPROVED": 0, "DELETED": 1, "REJECTED": 1}
CORAL_FLAG_REASON = {REASON_CODES["off_topic"]: "COMMENT_DETECTED_SPAM"}  # every other code: ..._TOXIC
GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 405: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT", 500: "INTERNAL", 503: "UNAVAILABLE"}
SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")
BLOCK_TAGS = "br, p, div, li, blockquote, h1, h2, h3, h4, h5, h6, tr"
ENV_CONFIG = "MODERATION_SERVE"
LABELS_FILE = "suggestscore.jsonl"


class ApiError(Exception):
    """A request we refuse, answered in Google's error shape so Perspective clients report it properly."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> Response:
        status = GOOGLE_STATUS.get(self.status, "UNKNOWN")
        return json_response({"error": {"code": self.status, "message": self.message, "status": status}}, self.status)



def json_response(body, status: int = 200) -> Response:
    return Response(json.dumps(body, default=jsonable, ensure_ascii=False), status, media_type="application/json")


# --- Perspective: comments:analyze -------------------------------------------------------------------------------

@dataclass(frozen=True)
class AnalyzeRequest:
    """A validated ``comments:analyze`` request: what to score and what to answer."""

    text: str
    article: str | None
    thresholds: dict[str, float | None]  # requested attribute -> scoreThreshold
    spans: bool
    client_token: str | None


def available_attributes(categories: list[str]) -> list[str]:
    """The Perspective attributes whose source categories the loaded models score."""
    return [name for name, sources in ATTRIBUTE_SOURCES.items() if set(sources) <= set(categories)]


def _object(body: dict, key: str) -> dict:
    value = body.get(key) or {}
    if not isinstance(value, dict):
        raise ApiError(400, f"'{key}' must be a JSON object")
    return value


def comment_text(body: dict, max_chars: int) -> str:
    """``comment.text`` checked for presence and length; HTML stripped when ``comment.type`` says HTML."""
    comment = _object(body, "comment")
    text = comment.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "Comment must be non-empty: comment.text is missing or blank")
    if len(text) > max_chars:
        raise ApiError(400, f"Comment text too long: {len(text)} characters, the limit is {max_chars}")
    return strip_html(text) if comment.get("type") == "HTML" else text


def check_languages(languages, attributes) -> None:
    """Our models are English only: any other requested language is refused, as Perspective does."""
    if languages is None:
        return
    if not isinstance(languages, list) or not all(isinstance(code, str) for code in languages):
        raise ApiError(400, "'languages' must be a list of language codes")
    other = [code for code in languages if code.lower().split("-")[0] != "en"]
    if other:
        raise ApiError(400, f"Attribute {next(iter(attributes))} does not support request languages: "
                            f"{', '.join(other)}. Supported: en")


def analyze_request(body: dict, available: list[str], max_chars: int = 20_000) -> AnalyzeRequest:
    """Validate a Perspective ``AnalyzeCommentRequest``; ``context.entries`` texts become the article."""
    requested = _object(body, "requestedAttributes")
    if not requested:
        raise ApiError(400, f"requestedAttributes is empty; available: {', '.join(available)}")
    thresholds = {}
    for name, params in requested.items():
        if name not in available:
            raise ApiError(400, f"Unknown or unsupported attribute: {name}. Available: {', '.join(available)}")
        params = params or {}
        if not isinstance(params, dict):
            raise ApiError(400, f"requestedAttributes.{name} must be a JSON object")
        if params.get("scoreType", "PROBABILITY") != "PROBABILITY":
            raise ApiError(400, f"requestedAttributes.{name}.scoreType: only PROBABILITY is supported")
        threshold = params.get("scoreThreshold")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, int | float)
                                      or not 0 <= threshold <= 1):
            raise ApiError(400, f"requestedAttributes.{name}.scoreThreshold must be a number in [0, 1]")
        thresholds[name] = threshold
    check_languages(body.get("languages"), thresholds)
    text = comment_text(body, max_chars)
    entries = _object(body, "context").get("entries") or []
    if not isinstance(entries, list):
        raise ApiError(400, "'context.entries' must be a list of {text} objects")
    article = "\n\n".join(e["text"] for e in entries if isinstance(e, dict) and isinstance(e.get("text"), str))
    token = body.get("clientToken")
    if token is not None and not isinstance(token, str):
        raise ApiError(400, "'clientToken' must be a string")
    return AnalyzeRequest(text, article or None, thresholds, bool(body.get("spanAnnotations")), token)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[begin, end) character offsets of the sentences (or lines) of ``text``, surrounding blanks trimmed."""
    spans = []
    for match in SENTENCE.finditer(text):
        chunk = match.group()
        if chunk.strip():
            begin = match.start() + len(chunk) - len(chunk.lstrip())
            spans.append((begin, match.start() + len(chunk.rstrip())))
    return spans


def attribute_score(name: str, row: dict) -> float:
    """An attribute's probability from a scored row: the product of its source categories' probabilities."""
    return round(float(np.prod([row[f"p_{c}"] for c in ATTRIBUTE_SOURCES[name]])), 4)


def _span_scores(name: str, threshold: float | None, spans: list[tuple[int, int]], span_rows: list[dict]) -> list:
    out = []
    for (begin, end), span_row in zip(spans, span_rows, strict=True):
        value = attribute_score(name, span_row)
        if threshold is None or value >= threshold:
            out.append({"begin": begin, "end": end, "score": {"value": value, "type": "PROBABILITY"}})
    return out


def analyze_response(request: AnalyzeRequest, row: dict, spans: list[tuple[int, int]] = (),
                     span_rows: list[dict] = ()) -> dict:
    """Perspective's ``AnalyzeCommentResponse`` from the scored comment and its scored sentences. As in
    Perspective, a score under its attribute's ``scoreThreshold`` is left out, and so is an attribute whose
    summary score is under it."""
    scores = {}
    for name, threshold in request.thresholds.items():
        value = attribute_score(name, row)
        if threshold is not None and value < threshold:
            continue
        scores[name] = {"summaryScore": {"value": value, "type": "PROBABILITY"}}
        if request.spans:
            scores[name]["spanScores"] = _span_scores(name, threshold, list(spans), list(span_rows))
    out: dict[str, Any] = {"attributeScores": scores, "languages": ["en"]}
    if request.client_token is not None:
        out["clientToken"] = request.client_token
    return out


# --- Perspective: comments:suggestscore -> labeled/suggestscore.jsonl --------------------------------------------

def _summary_value(name: str, entry) -> float:
    value = (entry or {}).get("summaryScore", {}).get("value") if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ApiError(400, f"attributeScores.{name}.summaryScore.value must be a number in [0, 1]")
    return float(value)


def suggest_record(body: dict, now: datetime, max_chars: int = 20_000) -> dict:
    """A moderator's verdict (a ``SuggestCommentScoreRequest``) as one labelled row in the retraining format.

    Each attribute's value becomes its category's 0/1 label (1 from 0.5 up). Coral's feedback sends its verdict
    as ``APPROVED`` or ``DELETED`` with value 1: approved is labelled not abusive, deleted abusive.
    """
    text = comment_text(body, max_chars)
    scores = _object(body, "attributeScores")
    if not scores:
        raise ApiError(400, "attributeScores is empty: nothing to learn from")
    labels = {}
    for name, entry in scores.items():
        value = _summary_value(name, entry)
        if name in SUGGEST_LABELS:
            labels[SUGGEST_LABELS[name]] = int(value >= 0.5)
        elif name in CORAL_VERDICTS:
            if value >= 0.5:
                labels["abusive"] = CORAL_VERDICTS[name]
        else:
            raise ApiError(400, f"Unknown attribute for suggestscore: {name}. Accepted: "
                                f"{', '.join([*SUGGEST_LABELS, *CORAL_VERDICTS])}")
    if not labels:
        raise ApiError(400, "attributeScores carries no verdict (Coral statuses count only with value 1)")
    if labels.get("abusive") == 0 and any(labels.get(c) == 1 for c in CATEGORIES[1:]):
        raise ApiError(400, "attributeScores contradict each other: TOXICITY under 0.5 but an abuse category "
                            "(INSULT, PROFANITY, THREAT, IDENTITY_ATTACK) from 0.5 up")
    token = body.get("clientToken")
    if token is not None and (not isinstance(token, str) or not token):
        raise ApiError(400, "'clientToken' must be a non-empty string")
    record = {"id": token or "sha256-" + hashlib.sha256(text.encode()).hexdigest()[:24], "text": text, **labels,
              "source": "suggestscore", "labeled_at": now.astimezone(UTC).isoformat(timespec="seconds")}
    if isinstance(body.get("communityId"), str):
        record["community_id"] = body["communityId"]
    return record


def record_key(record: dict) -> str:
    """What makes two label rows the same verdict: the id and the labels (a retry repeats both; a moderator who
    changes their mind about a comment gives a new verdict, which is kept)."""
    labels = {k: record[k] for k in sorted(set(SUGGEST_LABELS.values())) if k in record}
    return json.dumps([record.get("id"), labels])


class LabelStore:
    """Append-only JSON Lines file of verdicts, safe across threads and processes (``--workers``).

    Every append holds an exclusive ``flock`` and first reads what other processes appended since, so all
    workers share one set of seen verdicts, rebuilt from the file at start-up; a line is flushed and fsync'ed
    before ``add`` returns, so an answered request is never lost.
    """

    def __init__(self, directory: str | os.PathLike):
        self.path = Path(directory) / LABELS_FILE
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._offset = 0
        self._torn = False  # the file ends in a partial line (a crash mid-write): start ours on a new line
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked() as handle:
            self._catch_up(handle)
        if created:
            _fsync_dir(self.path.parent)

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, record: dict) -> bool:
        """Append ``record`` durably unless the same verdict is already stored; True when written."""
        key = record_key(record)
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._locked() as handle:
            self._catch_up(handle)
            if key in self._seen:
                return False
            handle.write((("\n" if self._torn else "") + line).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
            self._offset = handle.tell()
            self._torn = False
            self._seen.add(key)
            return True

    @contextlib.contextmanager
    def _locked(self):
        with self._lock, open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
            yield handle

    def _catch_up(self, handle) -> None:
        handle.seek(self._offset)
        data = handle.read()
        for line in data.splitlines():
            with contextlib.suppress(ValueError, AttributeError):  # a torn or hand-edited line
                self._seen.add(record_key(json.loads(line)))
        self._offset += len(data)
        self._torn = self._torn if not data else not data.endswith(b"\n")


def _fsync_dir(directory: Path) -> None:
    """Make a new file's directory entry durable too."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- Coral: external moderation phase ----------------------------------------------------------------------------

def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Coral's ``X-Coral-Signature``: ``sha256=<hex HMAC of the raw body>``, several comma-separated while a
    rotated secret is still active; any one matching is enough. Every candidate is compared in constant time."""
    if not header:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return any([hmac.compare_digest(expected.encode(), part.strip().encode()) for part in header.split(",")])


def strip_html(html: str) -> str:
    """Visible text of a comment's HTML, block elements and ``<br>`` as line breaks (so sentences stay apart
    and words split by inline tags stay whole)."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(html)
    tree.strip_tags(["script", "style"])
    for node in tree.css(BLOCK_TAGS):
        node.insert_before("\n")
    return (tree.body.text(separator="") if tree.body else "").strip()


def coral_comment(body: dict, max_chars: int = 20_000) -> tuple[str, str]:
    """(comment id, plain text) of Coral's External Moderation Request; its body is HTML."""
    comment = _object(body, "comment")
    html = comment.get("body")
    if not isinstance(html, str):
        raise ApiError(400, "comment.body must be a string")
    text = strip_html(html)
    if len(text) > max_chars:
        raise ApiError(400, f"Comment text too long: {len(text)} characters, the limit is {max_chars}")
    return str(comment.get("id") or ""), text


def coral_response(row: dict) -> dict | None:
    """Coral's External Moderation Response for a scored comment; None (answer 204) when approved.

    reject -> status REJECTED; review -> SYSTEM_WITHHELD, as Coral's own Perspective phase does for a toxic
    comment (held for a moderator). Both carry a FLAG per reason: spam for off-topic, toxic for the rest.
    Coral validates ``actionType``; ``action`` repeats it for readers that use that name.
    """
    if row["decision"] == "approve":
        return None
    reasons = dict.fromkeys(CORAL_FLAG_REASON.get(code, "COMMENT_DETECTED_TOXIC") for code in row["reason_codes"])
    return {"status": "REJECTED" if row["decision"] == "reject" else "SYSTEM_WITHHELD",
            "actions": [{"actionType": "FLAG", "action": "FLAG", "reason": reason} for reason in reasons]}


# --- Scoring in batches, off the event loop ----------------------------------------------------------------------

@dataclass
class _Job:
    texts: list[str]
    article: str | None
    future: asyncio.Future
    keys: frozenset[str]  # the off-topic model's copy-paste keys of the texts


class Batcher:
    """Scores comments of concurrent requests in one model call, in a worker thread.

    A call costs mostly fixed overhead, so under load one call for many comments raises throughput many times;
    when idle a request is scored at once, alone. The off-topic model counts copy-pasted texts within a call, so
    requests whose texts share a copy-paste key are never put in one call: a request's scores never depend on
    what else was being scored, and equal those of ``moderation score`` on the same comments.
    """

    def __init__(self, moderator: Moderator, policy: Policy, max_batch: int = 256):
        self.moderator = moderator
        self.policy = policy
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Job] = asyncio.Queue()
        self._waiting: list[_Job] = []  # taken from the queue, not yet scored

    async def score(self, texts: list[str], article: str | None = None) -> list[dict]:
        """Scored rows (``Moderator.score`` records, reasons "none") for ``texts``, in order."""
        job = _Job(texts, article, asyncio.get_running_loop().create_future(), self._keys(texts))
        await self._queue.put(job)
        return await job.future

    def _keys(self, texts: list[str]) -> frozenset[str]:
        if self.moderator.offtopic is None:
            return frozenset()
        from moderation.offtopic import duplicate_key

        return frozenset(key for key in map(duplicate_key, texts) if key is not None)

    async def next_batch(self) -> list[_Job]:
        """The waiting jobs, oldest first, up to ``max_batch`` comments and with no copy-paste key in two jobs;
        the others wait for the next call."""
        if not self._waiting:
            self._waiting.append(await self._queue.get())
        while not self._queue.empty():
            self._waiting.append(self._queue.get_nowait())
        batch, keys, size, left = [], set(), 0, []
        for job in self._waiting:
            if batch and (size + len(job.texts) > self.max_batch or job.keys & keys):
                left.append(job)
            else:
                batch.append(job)
                keys |= job.keys
                size += len(job.texts)
        self._waiting = left
        return batch

    async def run(self) -> None:
        """The worker loop: score the next batch, answer each of its requests."""
        while True:
            jobs = await self.next_batch()
            try:
                rows = await run_in_threadpool(self._score, jobs)
            except Exception as exc:  # answer every waiting request, keep serving
                for job in jobs:
                    if not job.future.done():  # done: the client went away
                        job.future.set_exception(exc)
                continue
            start = 0
            for job in jobs:
                if not job.future.done():
                    job.future.set_result(rows[start:start + len(job.texts)])
                start += len(job.texts)

    def _score(self, jobs: list[_Job]) -> list[dict]:
        frame = pd.DataFrame({"text": [t for job in jobs for t in job.texts],
                              "article": [job.article for job in jobs for _ in job.texts]})
        with fitted_models_only():
            return self.moderator.score(frame, reasons="none", policy=self.policy).to_dict("records")


def fitted_models_only():
    """scikit-learn's per-call checks that a served model never needs (parameters were checked at fit, TF-IDF
    features are finite); they are a sizeable part of a small batch's time. Thread-local, like the scoring."""
    import sklearn

    return sklearn.config_context(assume_finite=True, skip_parameter_validation=True)


# --- Metrics -----------------------------------------------------------------------------------------------------

@dataclass
class Metrics:
    """Prometheus metrics of one app. Under ``--workers`` (``PROMETHEUS_MULTIPROC_DIR`` set) every worker
    writes its values to that folder and ``/metrics`` sums all workers."""

    version: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self):
        r = self.registry
        self.requests = Counter("moderation_requests", "HTTP requests by endpoint and status",
                                ["endpoint", "status"], registry=r)
        self.latency = Histogram("moderation_request_seconds", "Request latency by endpoint", ["endpoint"],
                                 buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10), registry=r)
        self.decisions = Counter("moderation_decisions", "Decisions answered (Coral phase, /v1/score) by kind",
                                 ["decision"], registry=r)
        Gauge("moderation_model_info", "The loaded models' version", ["version"], registry=r,
              multiprocess_mode="max").labels(self.version).set(1)

    def exposition(self) -> bytes:
        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged)


class Observe:
    """ASGI middleware: latency and status of every request to metrics and one log line (path without the
    query string, which may hold an API key; never the body)."""

    def __init__(self, app, metrics: Metrics, endpoints: set[str]):
        self.app = app
        self.metrics = metrics
        self.endpoints = endpoints

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_status(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            seconds = time.perf_counter() - started
            endpoint = scope["path"] if scope["path"] in self.endpoints else "other"
            self.metrics.requests.labels(endpoint, str(status)).inc()
            self.metrics.latency.labels(endpoint).observe(seconds)
            log.info("%s %s %d %.1fms", scope["method"], scope["path"], status, seconds * 1000)


# --- The app -----------------------------------------------------------------------------------------------------

async def read_body(request: Request, max_bytes: int) -> bytes:
    """The raw body, refused with 413 past ``max_bytes`` (read no further than that)."""
    too_large = ApiError(413, f"Request body too large: the limit is {max_bytes} bytes")
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise too_large
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > max_bytes:
            raise too_large
    return bytes(raw)


def parse_json(raw: bytes) -> dict:
    """A request body's JSON object, or a 400 saying what is wrong with it."""
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid JSON payload received: {exc}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid JSON payload received: expected a JSON object")
    return value


def authorize(request: Request, api_keys: list[bytes]) -> None:
    """An API key from ``?key=`` (as Perspective clients send it) or ``X-API-Key``, when keys are set."""
    if not api_keys:
        return
    given = request.query_params.get("key") or request.headers.get("x-api-key")
    if not given:
        raise ApiError(401, "The request is missing a valid API key (?key= or X-API-Key header)")
    if not any([hmac.compare_digest(given.encode(), key) for key in api_keys]):
        raise ApiError(403, "API key not valid. Please pass a valid API key.")


class Service:
    """The endpoints' handlers and the state they share (model, batcher, label store, keys, metrics)."""

    def __init__(self, moderator: Moderator, policy: Policy, api_keys: list[str], coral_secret: str | None,
                 labeled_dir: str | os.PathLike, log_text: bool, max_body_bytes: int, max_text_chars: int):
        self.moderator = moderator
        self.policy = policy
        self.batcher = Batcher(moderator, policy)
        # Perspective requests asking for no off-topic attribute skip that model, nearly half a small batch's time
        self.abuse_batcher = self.batcher if moderator.offtopic is None else Batcher(
            Moderator(moderator.abuse, None, policy, moderator.version), policy)
        self.labels = LabelStore(labeled_dir)
        self.api_keys = [key.encode() for key in api_keys]
        self.coral_secret = coral_secret
        self.log_text = log_text
        self.max_body = max_body_bytes
        self.max_text = max_text_chars
        self.attributes = available_attributes([str(c) for c in moderator.categories])
        self.metrics = Metrics(moderator.version)

    def authorize(self, request: Request) -> None:
        authorize(request, self.api_keys)

    def _decided(self, endpoint: str, rows: list[dict], texts: list[str]) -> None:
        """Count the decisions answered; log the texts only when ``--log-text`` asked for it."""
        for row, text in zip(rows, texts, strict=True):
            self.metrics.decisions.labels(str(row["decision"])).inc()
            if self.log_text:
                log.info("%s id=%s decision=%s text=%r", endpoint, row["id"], row["decision"], text)

    async def analyze(self, request: Request) -> Response:
        self.authorize(request)
        body = parse_json(await read_body(request, self.max_body))
        req = analyze_request(body, self.attributes, self.max_text)
        spans = sentence_spans(req.text) if req.spans else []
        off_topic = any("off_topic" in ATTRIBUTE_SOURCES[name] for name in req.thresholds)
        batcher = self.batcher if off_topic else self.abuse_batcher
        jobs = [batcher.score([req.text], req.article)]
        if spans:
            jobs.append(batcher.score([req.text[begin:end] for begin, end in spans], req.article))
        (row,), *span_rows = await asyncio.gather(*jobs)
        if self.log_text:
            log.info("analyze text=%r", req.text)
        return json_response(analyze_response(req, row, spans, span_rows[0] if span_rows else []))

    async def suggestscore(self, request: Request) -> Response:
        self.authorize(request)
        body = parse_json(await read_body(request, self.max_body))
        record = suggest_record(body, datetime.now(UTC), self.max_text)
        written = await run_in_threadpool(self.labels.add, record)
        log.info("suggestscore id=%s %s", record["id"], "stored" if written else "already stored")
        return json_response({"clientToken": body["clientToken"]} if "clientToken" in body else {})

    async def coral(self, request: Request) -> Response:
        if not self.coral_secret:
            raise ApiError(503, "Coral external moderation is not configured: set MODERATION_CORAL_SECRET to the "
                                "phase's signing secret and restart")
        header = request.headers.get("x-coral-signature")
        if not header:
            raise ApiError(401, "Missing X-Coral-Signature header")
        raw = await read_body(request, self.max_body)
        if not verify_signature(self.coral_secret, raw, header):
            raise ApiError(403, "X-Coral-Signature does not match the body and the configured secret")
        comment_id, text = coral_comment(parse_json(raw), self.max_text)
        if not text.strip():
            return Response(status_code=204)
        (row,) = await self.batcher.score([text])  # Coral sends the story's URL, not its text
        self._decided("coral", [row | {"id": comment_id}], [text])
        answer = coral_response(row)
        return Response(status_code=204) if answer is None else json_response(answer)

    async def score(self, request: Request) -> Response:
        """Our batch API: ``{"comments": [{id, text, article?}], "reasons"}`` -> rows as ``moderation score``."""
        self.authorize(request)
        body = parse_json(await read_body(request, self.max_body))
        inputs = score_inputs(body, self.max_text)
        reasons = body.get("reasons", "flagged")
        if reasons not in REASON_MODES:
            raise ApiError(400, f"'reasons' must be one of {', '.join(REASON_MODES)}")
        columns = self.moderator.columns() + ["error"]
        def rows_of_batch() -> list[dict]:
            with fitted_models_only():
                return [{c: row.get(c) for c in columns}
                        for row in score_stream(self.moderator, inputs, reasons, self.policy)]

        rows = await run_in_threadpool(rows_of_batch)
        scored = [(row, item.text) for row, item in zip(rows, inputs, strict=True) if row["decision"] is not None]
        self._decided("score", [row for row, _ in scored], [text for _, text in scored])
        return json_response({"results": rows})

    async def healthz(self, request: Request) -> Response:
        return json_response({"status": "ok", "model_version": self.moderator.version,
                              "categories": [str(c) for c in self.moderator.categories],
                              "attributes": self.attributes, "labels": len(self.labels)})

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)


def score_inputs(body: dict, max_chars: int) -> list[InputRow]:
    """The ``comments`` of a ``/v1/score`` request as the rows ``score_stream`` takes; a blank text becomes an
    error row there, as in ``moderation score``."""
    comments = body.get("comments")
    if not isinstance(comments, list) or not comments:
        raise ApiError(400, "'comments' must be a non-empty list of {id, text, article?} objects")
    rows = []
    for i, comment in enumerate(comments):
        text = comment.get("text") if isinstance(comment, dict) else None
        if not isinstance(text, str):
            raise ApiError(400, f"comments[{i}].text must be a string")
        if len(text) > max_chars:
            raise ApiError(400, f"comments[{i}].text too long: {len(text)} characters, the limit is {max_chars}")
        article = comment.get("article")
        rows.append(InputRow("request", i + 1, str(comment.get("id", i)), text,
                             extra={"article": article} if isinstance(article, str) else {}))
    return rows


def create_app(moderator: Moderator, *, api_keys: list[str], coral_secret: str | None,
               labeled_dir: str | os.PathLike, policy: Policy | None = None, log_text: bool = False,
               max_body_bytes: int = 1_000_000, max_text_chars: int = 20_000) -> Starlette:
    """The ASGI app over a loaded ``moderator``. Empty ``api_keys``: no key is asked for (loopback use only)."""
    service = Service(moderator, policy or moderator.policy, api_keys, coral_secret, labeled_dir, log_text,
                      max_body_bytes, max_text_chars)
    routes = [
        Route("/v1alpha1/comments:analyze", service.analyze, methods=["POST"]),
        Route("/v1alpha1/comments:suggestscore", service.suggestscore, methods=["POST"]),
        Route("/coral/external-moderation", service.coral, methods=["POST"]),
        Route("/v1/score", service.score, methods=["POST"]),
        Route("/healthz", service.healthz, methods=["GET"]),
        Route("/metrics", service.metrics_text, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        workers = [asyncio.create_task(b.run()) for b in {service.batcher, service.abuse_batcher}]
        yield
        for worker in workers:
            worker.cancel()

    async def api_error(request, exc: ApiError):
        return exc.response()

    async def http_error(request, exc: HTTPException):
        return ApiError(exc.status_code, exc.detail).response()

    async def server_error(request, exc: Exception):
        log.exception("internal error on %s", request.url.path)
        return ApiError(500, "Internal error; the server log has the details").response()

    app = Starlette(routes=routes, lifespan=lifespan,
                    middleware=[Middleware(Observe, metrics=service.metrics, endpoints={r.path for r in routes})],
                    exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: server_error})
    app.state.service = service
    return app


# --- Configuration and start-up ----------------------------------------------------------------------------------

class ServeError(RuntimeError):
    """A configuration the server will not start with."""


@dataclass(frozen=True)
class ServeConfig:
    """What ``moderation serve`` was asked for; JSON in ``MODERATION_SERVE`` for ``--workers`` processes.
    Secrets stay in their own environment variables (``MODERATION_API_KEYS``, ``MODERATION_CORAL_SECRET``)."""

    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    policy_file: str | None = None
    api_keys_file: str | None = None
    labeled_dir: str = "labeled"
    log_text: bool = False
    max_body_bytes: int = 1_000_000
    max_text_chars: int = 20_000


def read_api_keys(path: str | None) -> list[str]:
    """Keys from ``$MODERATION_API_KEYS`` (comma-separated) and the file at ``path`` (one a line, # comments)."""
    keys = [k.strip() for k in os.environ.get("MODERATION_API_KEYS", "").split(",")]
    if path:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ServeError(f"{path}: cannot read API keys: {exc}") from exc
        keys += [line.strip() for line in lines if not line.lstrip().startswith("#")]
    return [k for k in keys if k]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, api_keys: list[str]) -> None:
    """Without API keys only this machine may connect: refuse any other listening address."""
    if not api_keys and not is_loopback(host):
        raise ServeError(f"refusing to listen on {host} without API keys: set MODERATION_API_KEYS or pass "
                         "--api-keys FILE, or listen on 127.0.0.1")


def load_models(config: ServeConfig) -> tuple[Moderator, Policy]:
    """The verified models and the decision policy, or a ``ServeError`` saying why not."""
    from moderation.artifacts import ArtifactError
    from moderation.policy import PolicyError
    from moderation.scoring import load

    try:
        moderator = load()
        return moderator, moderator.policy.with_file(config.policy_file) if config.policy_file else moderator.policy
    except (ArtifactError, PolicyError, OSError) as exc:
        raise ServeError(str(exc)) from exc


def app_from_config(config: ServeConfig) -> Starlette:
    """Load the models and build the app (once per worker process)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    moderator, policy = load_models(config)
    return create_app(moderator, api_keys=read_api_keys(config.api_keys_file),
                      coral_secret=os.environ.get("MODERATION_CORAL_SECRET") or None,
                      labeled_dir=config.labeled_dir, policy=policy, log_text=config.log_text,
                      max_body_bytes=config.max_body_bytes, max_text_chars=config.max_text_chars)


def app_from_env() -> Starlette:
    """uvicorn's app factory for ``--workers`` processes."""
    return app_from_config(ServeConfig(**json.loads(os.environ[ENV_CONFIG])))


def run(config: ServeConfig) -> None:
    """Check the exposure, load the models and serve until stopped. Raises ``ServeError`` before listening."""
    import uvicorn

    check_exposure(config.host, read_api_keys(config.api_keys_file))
    options = {"host": config.host, "port": config.port, "access_log": False, "log_level": "info"}
    if config.workers == 1:
        uvicorn.run(app_from_config(config), **options)
        return
    load_models(config)  # fail here, once and clearly: uvicorn would restart workers that cannot load forever
    os.environ[ENV_CONFIG] = json.dumps(dataclasses.asdict(config))
    with tempfile.TemporaryDirectory(prefix="moderation-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        uvicorn.run("moderation.serve:app_from_env", factory=True, workers=config.workers, **options)
