"""The ASGI app: each endpoint's handler wires one protocol's mapping to auth, batching, labels and metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from moderation.policy import Policy
from moderation.rows import InputRow
from moderation.scoring import REASON_MODES, Moderator, score_stream
from moderation.service import coral, perspective
from moderation.service.auth import authorize, verify_signature
from moderation.service.batching import Batcher
from moderation.service.bodies import windows
from moderation.service.http import ApiError, json_response, parse_json, read_body
from moderation.service.labelstore import LabelStore
from moderation.service.metrics import Metrics, Observe

log = logging.getLogger("moderation.serve")


@dataclass(frozen=True)
class Limits:
    """What a site configures about requests: sizes, and what to do with other languages."""

    max_body_bytes: int = 1_000_000
    max_text_chars: int = 20_000
    other_languages: str = "refuse"
    coral_deadline_ms: int = 150  # answer Coral by then, holding what is not judged yet (its timeout: 200 ms)


class Service:
    """The endpoints' handlers and the state they share (model, batcher, label store, keys, metrics)."""

    def __init__(self, moderator: Moderator, policy: Policy, api_keys: list[str], coral_secrets: list[str],
                 labeled_dir: str | os.PathLike, log_text: bool, limits: Limits):
        self.moderator = moderator
        self.policy = policy
        self.batcher = Batcher(moderator, policy)
        # Perspective requests asking for no off-topic attribute skip that model, nearly half a small batch's time
        self.abuse_batcher = self.batcher if moderator.offtopic is None else Batcher(
            Moderator(moderator.abuse, None, policy, moderator.version), policy)
        self.labels = LabelStore(labeled_dir)
        self.api_keys = [key.encode() for key in api_keys]
        self.coral_secrets = coral_secrets
        self.log_text = log_text
        self.limits = limits
        self.attributes = perspective.available_attributes([str(c) for c in moderator.categories])
        self.metrics = Metrics(moderator.version)

    def _decided(self, endpoint: str, ids: list[str], decisions: list[str], texts: list[str]) -> None:
        """Count the decisions answered; log the texts only when ``--log-text`` asked for it."""
        for comment_id, decision, text in zip(ids, decisions, texts, strict=True):
            self.metrics.decisions.labels(decision).inc()
            if self.log_text:
                log.info("%s id=%s decision=%s text=%r", endpoint, comment_id, decision, text)

    async def analyze(self, request: Request) -> Response:
        authorize(request, self.api_keys)
        body = parse_json(await read_body(request, self.limits.max_body_bytes))
        req = perspective.analyze_request(body, self.attributes, self.limits.max_text_chars,
                                          self.limits.other_languages)
        spans = perspective.sentence_spans(req.text) if req.spans else []
        off_topic = any("off_topic" in perspective.ATTRIBUTE_SOURCES[name] for name in req.thresholds)
        batcher = self.batcher if off_topic else self.abuse_batcher
        texts, _ = windows(req.text, self.limits.max_text_chars)  # analyze refuses longer texts: all read
        jobs = [batcher.score(texts, req.article)]
        if spans:
            jobs.append(batcher.score([req.text[begin:end] for begin, end in spans], req.article))
        rows, *span_rows = await asyncio.gather(*jobs)
        if self.log_text:
            log.info("analyze text=%r", req.text)
        return json_response(perspective.analyze_response(req, rows, spans, span_rows[0] if span_rows else []))

    async def suggestscore(self, request: Request) -> Response:
        authorize(request, self.api_keys)
        body = parse_json(await read_body(request, self.limits.max_body_bytes))
        record = perspective.suggest_record(body, datetime.now(UTC), self.limits.max_text_chars,
                                            self.limits.other_languages)
        written = await run_in_threadpool(self.labels.add, record)
        log.info("suggestscore id=%s %s", record["id"], "stored" if written else "already stored")
        return json_response({"clientToken": body["clientToken"]} if "clientToken" in body else {})

    async def coral(self, request: Request) -> Response:
        started = time.monotonic()
        if not self.coral_secrets:
            raise ApiError(503, "Coral external moderation is not configured: set MODERATION_CORAL_SECRET to the "
                                "phase's signing secret and restart")
        header = request.headers.get("x-coral-signature")
        if not header:
            log.warning("coral: request without X-Coral-Signature refused (Coral publishes on non-2xx)")
            raise ApiError(401, "Missing X-Coral-Signature header")
        raw = await read_body(request, self.limits.max_body_bytes)
        if not verify_signature(self.coral_secrets, raw, header):
            log.warning("coral: X-Coral-Signature matches no configured secret; check MODERATION_CORAL_SECRET "
                        "(Coral publishes the comment unchecked on this 403)")
            raise ApiError(403, "X-Coral-Signature does not match the body and the configured secret")
        body = coral.comment_body(parse_json(raw))
        if not body.strip():  # e.g. a GIF-only comment: no text to judge
            return Response(status_code=204)
        texts, unread = coral.texts_to_judge(body, self.limits.max_text_chars)
        rows = await self._judge_in_time(texts, started)
        if unread or rows is None:
            self.metrics.unjudged.labels("too_long" if unread else "late_or_failed").inc()
        decision, codes = coral.strictest(rows or [], unread or rows is None)
        self._decided("coral", [""], [decision], [body])
        answer = coral.coral_response(decision, codes)
        return Response(status_code=204) if answer is None else json_response(answer)

    async def _judge_in_time(self, texts: list[str], started: float) -> list[dict] | None:
        """Scored rows of ``texts``, or None when they were not ready by the Coral deadline (counted from
        ``started``, the request's arrival) or scoring failed: Coral would publish the comment unchecked on a late
        or failed answer, so the caller holds it instead. A late job is cancelled, so it is never scored."""
        left = self.limits.coral_deadline_ms / 1000 - (time.monotonic() - started)
        try:  # Coral sends the story's URL, not its text: no article
            return await asyncio.wait_for(self.batcher.score(texts), max(left, 0.001))
        except TimeoutError:
            log.warning("coral: not judged within %d ms; held for a moderator", self.limits.coral_deadline_ms)
        except Exception:
            log.exception("coral: scoring failed; held for a moderator")
        return None

    async def score(self, request: Request) -> Response:
        """Our batch API: ``{"comments": [{id, text, article?}], "reasons"}`` -> rows as ``moderation score``."""
        authorize(request, self.api_keys)
        body = parse_json(await read_body(request, self.limits.max_body_bytes))
        inputs = score_inputs(body, self.limits.max_text_chars)
        reasons = body.get("reasons", "flagged")
        if reasons not in REASON_MODES:
            raise ApiError(400, f"'reasons' must be one of {', '.join(REASON_MODES)}")
        columns = self.moderator.columns() + ["error"]

        def rows_of_batch() -> list[dict]:
            return [{c: row.get(c) for c in columns}
                    for row in score_stream(self.moderator, inputs, reasons, self.policy)]

        rows = await run_in_threadpool(rows_of_batch)
        scored = [(row, item.text) for row, item in zip(rows, inputs, strict=True) if row["decision"] is not None]
        self._decided("score", [row["id"] for row, _ in scored], [str(row["decision"]) for row, _ in scored],
                      [text for _, text in scored])
        return json_response({"results": rows})

    async def healthz(self, request: Request) -> Response:
        return json_response({"status": "ok", "model_version": self.moderator.version,
                              "categories": [str(c) for c in self.moderator.categories],
                              "attributes": self.attributes, "labels": len(self.labels),
                              "other_languages": self.limits.other_languages})

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


def create_app(moderator: Moderator, *, api_keys: list[str], coral_secret: str | list[str] | None,
               labeled_dir: str | os.PathLike, policy: Policy | None = None, log_text: bool = False,
               limits: Limits = Limits()) -> Starlette:
    """The ASGI app over a loaded ``moderator``. Empty ``api_keys``: no key is asked for (loopback use only).
    ``coral_secret``: the phase's signing secret(s); none answers the Coral endpoint with 503."""
    secrets = [coral_secret] if isinstance(coral_secret, str) else list(coral_secret or [])
    service = Service(moderator, policy or moderator.policy, api_keys, secrets, labeled_dir, log_text, limits)
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
