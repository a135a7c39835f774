"""Perspective API's ``comments:analyze`` and ``comments:suggestscore``, as pure request/response mappings.

Attributes are products of our category probabilities (``ATTRIBUTE_SOURCES``): one category each, except
``SEVERE_TOXICITY`` = p_abusive x p_toxic, high only when both the news-comment abuse head and the toxicity head
fire, so that, like Perspective's, it stays low for mere rudeness or profanity.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from moderation.corpora.abuse import CATEGORIES
from moderation.service.bodies import readings
from moderation.service.http import ApiError, json_object

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
# The training label a verdict on each attribute speaks about (SEVERE_TOXICITY: whether it is abusive at all).
VERDICT_LABEL = {name: sources[0] for name, sources in ATTRIBUTE_SOURCES.items()}
CORAL_TOKEN = "comment:"  # Coral's feedback sends clientToken "comment:<comment id>"
MODEL_LANGUAGE = "en"
OTHER_LANGUAGES = ("refuse", "english-model")  # what to do with a request in another language
SENTENCE = re.compile(r"[^.!?\n]*(?:[.!?]+|\n|$)")


@dataclass(frozen=True)
class AnalyzeRequest:
    """A validated ``comments:analyze`` request: what to score and what to answer."""

    text: str
    article: str | None
    thresholds: dict[str, float | None]  # requested attribute -> scoreThreshold
    spans: bool
    client_token: str | None
    languages: list[str]


def available_attributes(categories: list[str]) -> list[str]:
    """The Perspective attributes whose source categories the loaded models score."""
    return [name for name, sources in ATTRIBUTE_SOURCES.items() if set(sources) <= set(categories)]


def comment_text(body: dict, max_chars: int) -> str:
    """``comment.text`` checked for presence and length (Perspective's own limit); when ``comment.type`` says
    HTML, its text read as HTML only if it can be (see ``bodies``), so no word is ever dropped."""
    comment = json_object(body, "comment")
    text = comment.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "Comment must be non-empty: comment.text is missing or blank")
    if len(text) > max_chars:
        raise ApiError(400, f"Comment text too long: {len(text)} characters, the limit is {max_chars}")
    return readings(text)[0] if comment.get("type") == "HTML" else text


def request_languages(body: dict, other_languages: str) -> list[str]:
    """The request's ``languages``. Our models are English: another language is refused as Perspective does,
    unless this site chose ``english-model`` (then scored with the English model, which the answer shows)."""
    languages = body.get("languages")
    if languages is None:
        return []
    if not isinstance(languages, list) or not all(isinstance(code, str) for code in languages):
        raise ApiError(400, "'languages' must be a list of language codes")
    other = [code for code in languages if code.lower().split("-")[0] != MODEL_LANGUAGE]
    if other and other_languages == "refuse":
        raise ApiError(400, f"Attribute TOXICITY does not support request languages: {', '.join(other)}. "
                            f"Supported: {MODEL_LANGUAGE} (this server refuses other languages; see "
                            "--other-languages)")
    return languages


def analyze_request(body: dict, available: list[str], max_chars: int = 20_000,
                    other_languages: str = "refuse") -> AnalyzeRequest:
    """Validate a Perspective ``AnalyzeCommentRequest``; ``context.entries`` texts become the article."""
    requested = json_object(body, "requestedAttributes")
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
    languages = request_languages(body, other_languages)
    text = comment_text(body, max_chars)
    entries = json_object(body, "context").get("entries") or []
    if not isinstance(entries, list):
        raise ApiError(400, "'context.entries' must be a list of {text} objects")
    article = "\n\n".join(e["text"] for e in entries if isinstance(e, dict) and isinstance(e.get("text"), str))
    token = body.get("clientToken")
    if token is not None and not isinstance(token, str):
        raise ApiError(400, "'clientToken' must be a string")
    return AnalyzeRequest(text, article or None, thresholds, bool(body.get("spanAnnotations")), token, languages)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """[begin, end) character offsets of the sentences (or lines) of ``text``, surrounding blanks trimmed."""
    spans = []
    for match in SENTENCE.finditer(text):
        chunk = match.group()
        if chunk.strip():
            begin = match.start() + len(chunk) - len(chunk.lstrip())
            spans.append((begin, match.start() + len(chunk.rstrip())))
    return spans


def attribute_score(name: str, rows: list[dict]) -> float:
    """An attribute's probability: the product of its source categories' probabilities, the highest over
    ``rows`` (the text and, for a long one, its windows)."""
    return round(max(float(np.prod([row[f"p_{c}"] for c in ATTRIBUTE_SOURCES[name]])) for row in rows), 4)


def _span_scores(name: str, threshold: float | None, spans: list[tuple[int, int]], span_rows: list[dict]) -> list:
    out = []
    for (begin, end), span_row in zip(spans, span_rows, strict=True):
        value = attribute_score(name, [span_row])
        if threshold is None or value >= threshold:
            out.append({"begin": begin, "end": end, "score": {"value": value, "type": "PROBABILITY"}})
    return out


def analyze_response(request: AnalyzeRequest, rows: list[dict], spans: list[tuple[int, int]] = (),
                     span_rows: list[dict] = ()) -> dict:
    """Perspective's ``AnalyzeCommentResponse``. As in Perspective, a score under its attribute's
    ``scoreThreshold`` is left out, an attribute whose summary score is under it too, and ``attributeScores``
    when nothing is left. ``languages`` echoes the request (``en`` when it named none); ``detectedLanguages`` is
    the language the models scored it as, always English: no language detection is done."""
    scores = {}
    for name, threshold in request.thresholds.items():
        value = attribute_score(name, rows)
        if threshold is not None and value < threshold:
            continue
        scores[name] = {"summaryScore": {"value": value, "type": "PROBABILITY"}}
        if request.spans:
            scores[name]["spanScores"] = _span_scores(name, threshold, list(spans), list(span_rows))
    out: dict[str, Any] = {"attributeScores": scores} if scores else {}
    out |= {"languages": request.languages or [MODEL_LANGUAGE], "detectedLanguages": [MODEL_LANGUAGE]}
    if request.client_token is not None:
        out["clientToken"] = request.client_token
    return out


def _summary_value(name: str, entry) -> float:
    value = (entry or {}).get("summaryScore", {}).get("value") if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ApiError(400, f"attributeScores.{name}.summaryScore.value must be a number in [0, 1]")
    return float(value)


def verdict_labels(name: str, value: float, from_coral: bool) -> dict[str, int]:
    """The training labels one suggested score gives.

    Coral's feedback is a moderator's verdict on the whole comment, sent as the configured model's attribute
    with 1 for rejected and 0 for approved: rejected labels that attribute's category 1, approved labels the
    comment not abusive (and not off-topic when the model was SPAM or OFF_TOPIC). Another client's suggestion
    labels the attribute's category 0/1 from 0.5 up, except that a low SEVERE_TOXICITY says nothing about
    plain abuse."""
    label, high = VERDICT_LABEL[name], value >= 0.5
    if high:
        return {label: 1}
    if from_coral:
        return {"abusive": 0} | ({"off_topic": 0} if label == "off_topic" else {})
    return {} if len(ATTRIBUTE_SOURCES[name]) > 1 else {label: 0}


def suggest_record(body: dict, now: datetime, max_chars: int = 20_000, other_languages: str = "refuse") -> dict:
    """A moderator's verdict (a ``SuggestCommentScoreRequest``) as one labelled row in the retraining format.

    A request in a language ``analyze`` refuses is refused too, so it never becomes a training label.
    """
    languages = request_languages(body, other_languages)
    text = comment_text(body, max_chars)
    scores = json_object(body, "attributeScores")
    if not scores:
        raise ApiError(400, "attributeScores is empty: nothing to learn from")
    token = body.get("clientToken")
    if token is not None and (not isinstance(token, str) or not token):
        raise ApiError(400, "'clientToken' must be a non-empty string")
    from_coral = bool(token and token.startswith(CORAL_TOKEN))
    labels: dict[str, int] = {}
    for name, entry in scores.items():
        if name not in ATTRIBUTE_SOURCES:
            raise ApiError(400, f"Unknown attribute for suggestscore: {name}. Accepted: {', '.join(ATTRIBUTE_SOURCES)}")
        for label, value in verdict_labels(name, _summary_value(name, entry), from_coral).items():
            labels[label] = max(labels.get(label, 0), value)
    if not labels:
        raise ApiError(400, "attributeScores carries no verdict (a low SEVERE_TOXICITY says nothing about abuse)")
    if labels.get("abusive") == 0 and any(labels.get(c) == 1 for c in CATEGORIES[1:]):
        raise ApiError(400, "attributeScores contradict each other: TOXICITY under 0.5 but an abuse category "
                            "(INSULT, PROFANITY, THREAT, IDENTITY_ATTACK) from 0.5 up")
    record = {"id": token or "sha256-" + hashlib.sha256(text.encode()).hexdigest()[:24], "text": text, **labels,
              "source": "suggestscore", "labeled_at": now.astimezone(UTC).isoformat(timespec="microseconds")}
    if isinstance(body.get("communityId"), str):
        record["community_id"] = body["communityId"]
    if any(code.lower().split("-")[0] != MODEL_LANGUAGE for code in languages):
        record["languages"] = ",".join(languages)
    return record
