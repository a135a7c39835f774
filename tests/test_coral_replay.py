"""Replay of Coral 9.11.8 against `moderation serve`: requests built, signed and sent exactly as Coral's server
builds them, answers judged by Coral's own rules, reimplemented here from its source (coralproject/talk):

- ``services/comments/pipeline/phases/external.ts``: the phase request (field order included), the body as HTML
  or as ``bodyText`` by the phase's format, ``fetch`` with ``redirect: manual``; a non-2xx answer is ignored
  (the comment goes on unchecked), 204 / "" / "{}" mean nothing to do, anything else is validated by a Joi
  schema with ``stripUnknown`` (actions, status, tags; ``moderationAction`` as 9.11.8's ``createComment.ts``
  uses it to record and announce a rejection).
- ``services/fetch/fetch.ts``: the body is ``JSON.stringify(request, null, 2)``, ``X-Coral-Signature`` one
  ``sha256=<hmac>`` per active signing secret, comma-joined (``models/settings``), ``User-Agent: Coral Moderation``.
- ``common/lib/helpers/getHTMLPlainText.ts``: ``bodyText`` = striptags + he.decode after line breaks are put
  before closing block tags.
- ``services/perspective/perspective.ts`` and ``phases/toxic.ts``: the URL joined with ``path.join`` and
  ``?key=``, the compact analyze / suggestscore bodies, the locale -> language mapping, and a failed answer
  (non-2xx, or no score for the model) leaving the comment unchecked.

Everything talks to a server on 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import math
import posixpath
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit, urlunsplit

import pytest

from moderation import artifacts
from moderation.labels import read_labels
from moderation.scoring import load
from moderation.service import Limits, create_app
from moderation.service.perspective import ATTRIBUTE_SOURCES

VERSION = "9.11.8"
RUDE = "You are a stupid idiot and a moron."
CIVIL = "Thanks for the reporting on the council budget, very clear."
# Coral's enums (graph/schema): comment statuses, flag reasons an external phase may use, tags, rejection codes
COMMENT_STATUS = {"APPROVED", "NONE", "PREMOD", "REJECTED", "SYSTEM_WITHHELD"}
FLAG_REASONS = {"COMMENT_DETECTED_TOXIC", "COMMENT_DETECTED_SPAM"}
TAGS = {"FEATURED", "STAFF"}
REJECTION_CODES = {"OFFENSIVE", "ABUSIVE", "SPAM", "BANNED_WORD", "AD", "ILLEGAL_CONTENT", "HARASSMENT_BULLYING",
                   "MISINFORMATION", "HATE_SPEECH", "IRRELEVANT_CONTENT", "OTHER"}
# Coral's locales and what perspective.ts's convertLanguage makes of them (every other locale: en)
LOCALES = {"en-US": "en", "es": "es", "fr-FR": "fr", "de": "de", "pt-BR": "pt", "it-IT": "en", "nl-NL": "en",
           "da": "en", "sv": "en", "ja-JP": "en", "zh-CN": "en", "ar-AE": "en"}


# --- Coral's side, in Python ---------------------------------------------------------------------------------------

def editor_html(text: str) -> str:
    """A comment as Coral stores it after its editor and sanitizer: text escaped, lines as ``<br>``."""
    return "<br>".join(html.escape(line, quote=False) for line in text.split("\n"))


def html_plain_text(body: str) -> str:
    """``getHTMLPlainText``: line breaks before closing block tags, tags stripped (striptags), entities decoded."""
    marked = re.sub(r"((</(ul|li|blockquote)>)|(</(div|p)>\s*(<[^/]))|(<br>(?!\s*</(div|p|li|blockquote))))",
                    lambda m: "\n" + m.group(1), body)
    stripped = re.sub(r"<!--.*?-->|<[^\s<>][^<>]*>", "", marked, flags=re.S)
    return html.unescape(stripped).strip()


def js_stringify(value, indent: int | None = None) -> str:
    """``JSON.stringify(value, null, indent)`` for the plain objects Coral sends (non-ASCII left as is)."""
    separators = (",", ": ") if indent else (",", ":")
    return json.dumps(value, indent=indent, ensure_ascii=False, separators=separators)


@dataclass(frozen=True)
class Secret:
    secret: str
    inactive_at: datetime | None = None  # set when rotated: still signs until then


def signature_header(secrets: list[Secret], body: str, now: datetime) -> str:
    """``generateSignatures``: one ``sha256=<hex hmac>`` per secret still active, joined by commas."""
    active = [s for s in secrets if s.inactive_at is None or s.inactive_at > now]
    return ",".join("sha256=" + hmac.new(s.secret.encode(), body.encode(), hashlib.sha256).hexdigest()
                    for s in active)


def phase_request(text: str, body_format: str, action: str = "NEW") -> dict:
    """``ExternalModerationRequest`` for a comment typed as ``text``, in the phase's format (HTML / PLAIN_TEXT)."""
    stored = editor_html(text)
    return {"action": action,
            "comment": {"body": stored if body_format == "HTML" else html_plain_text(stored), "parentID": None},
            "author": {"id": "user-1", "role": "COMMENTER"},
            "story": {"id": "story-1", "url": "https://news.example/2026/budget"},
            "site": {"id": "site-1"},
            "tenantID": "tenant-1",
            "tenantDomain": "comments.news.example"}


class JoiError(ValueError):
    """The answer breaks the phase's response schema: Coral logs it and goes on as if there were none."""


def validate_response(body) -> dict:
    """``ExternalModerationResponseSchema.validate(body, {stripUnknown: true, presence: "optional"})``."""
    if not isinstance(body, dict):
        raise JoiError("value must be an object")
    out = {}
    if "actions" in body:
        if not isinstance(body["actions"], list):
            raise JoiError("actions must be an array")
        out["actions"] = []
        for action in body["actions"]:
            if not isinstance(action, dict) or action.get("actionType") != "FLAG" \
                    or action.get("reason") not in FLAG_REASONS:
                raise JoiError(f"invalid action {action!r}")
            out["actions"].append({"actionType": "FLAG", "reason": action["reason"]})
    if "status" in body:
        if body["status"] not in COMMENT_STATUS:
            raise JoiError(f"invalid status {body['status']!r}")
        out["status"] = body["status"]
    if "tags" in body:
        if not isinstance(body["tags"], list) or not all(tag in TAGS for tag in body["tags"]):
            raise JoiError(f"invalid tags {body['tags']!r}")
        out["tags"] = body["tags"]
    if "moderationAction" in body:
        action = body["moderationAction"]
        reason = action.get("rejectionReason") if isinstance(action, dict) else None
        if not isinstance(action, dict) or action.get("status") not in COMMENT_STATUS \
                or not isinstance(reason, dict) or reason.get("code") not in REJECTION_CODES:
            raise JoiError(f"invalid moderationAction {action!r}")
        out["moderationAction"] = {"status": action["status"], "rejectionReason": {"code": reason["code"]}}
    return out


@dataclass(frozen=True)
class Outcome:
    """What Coral does with the comment after our phase (no other phase configured)."""

    http_status: int
    status: str  # the comment's status; NONE = published
    flags: tuple[str, ...] = ()
    rejection_code: str | None = None  # createComment.ts: moderate() + author notified with this reason

    @property
    def published(self) -> bool:
        return self.status in {"NONE", "APPROVED"}


class Coral:
    """One Coral tenant with one external moderation phase and a Perspective integration, pointed at us."""

    def __init__(self, http, secrets: list[Secret], phase_path: str = "/coral/external-moderation"):
        self.http = http
        self.secrets = secrets
        self.phase_url = str(http.base_url).rstrip("/") + phase_path

    def post_phase(self, request: dict, now: datetime | None = None):
        now = now or datetime.now(UTC)
        body = js_stringify(request, indent=2)
        headers = {"Content-Type": "application/json", "User-Agent": f"Coral Moderation/{VERSION}",
                   "X-Coral-Signature": signature_header(self.secrets, body, now)}
        return self.http.post(self.phase_url, content=body.encode(), headers=headers, follow_redirects=False)

    def moderate(self, request: dict) -> Outcome:
        """``external`` then ``createComment``: the comment's fate after our answer."""
        response = self.post_phase(request)
        if not 200 <= response.status_code < 300 or response.status_code == 204 or response.text in ("", "{}"):
            return Outcome(response.status_code, "NONE")
        result = validate_response(json.loads(response.text))
        action = result.get("moderationAction")
        return Outcome(response.status_code, result.get("status", "NONE"),
                       tuple(a["reason"] for a in result.get("actions", [])),
                       action["rejectionReason"]["code"] if action else None)


def perspective_url(endpoint: str, operation: str, key: str) -> str:
    """``new URL(endpoint)``, ``url.pathname = path.join(url.pathname, "/" + operation)``, ``?key=``."""
    parts = urlsplit(endpoint.strip())
    path = posixpath.normpath(posixpath.join(parts.path or "/", operation))
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode({"key": key.strip()}), ""))


def analyze_body(text: str, model: str, locale: str) -> str:
    return js_stringify({"comment": {"text": text}, "doNotStore": True, "requestedAttributes": {model: {}},
                         "languages": [LOCALES[locale]]})


def suggest_body(text: str, model: str, locale: str, comment_id: str, status: str) -> str:
    story = "https://news.example/2026/budget"
    context = js_stringify({"url": f"{story}?commentID={comment_id}", "Coral_comment_id": comment_id})
    return js_stringify({"comment": {"text": text}, "context": {"entries": [{"text": context}]},
                         "attributeScores": {model: {"summaryScore": {"value": 0 if status == "APPROVED" else 1}}},
                         "languages": [LOCALES[locale]], "communityId": "Coral:https://comments.news.example",
                         "clientToken": f"comment:{comment_id}"})


def toxic_phase(http, endpoint: str, key: str, text: str, model: str = "TOXICITY", locale: str = "en-US",
                threshold: float = 0.8) -> str:
    """``toxic.ts``: "withheld" when the score is over the threshold, "published" when under it, "unchecked"
    when the answer failed (non-2xx, or no score for the model: Coral logs and goes on)."""
    url = perspective_url(endpoint, "comments:analyze", key)
    response = http.post(url, content=analyze_body(text, model, locale).encode(),
                         headers={"Content-Type": "application/json"})
    try:
        score = response.json()["attributeScores"][model]["summaryScore"]["value"] if response.is_success else None
    except (KeyError, TypeError, ValueError):
        score = None
    return "unchecked" if score is None else "withheld" if score > threshold else "published"


def endpoint_of(http) -> str:
    """The custom Perspective endpoint an admin would type into Coral for this server."""
    return str(http.base_url).rstrip("/") + "/v1alpha1"


# --- the server under replay ---------------------------------------------------------------------------------------

SECRET = "phase-secret-1"
KEY = "perspective-key"


@pytest.fixture(scope="module")
def labeled(tmp_path_factory):
    return tmp_path_factory.mktemp("replay-labels")


@pytest.fixture(scope="module")
def server(tiny_moderator, labeled, serving):
    app = create_app(tiny_moderator, api_keys=[KEY], coral_secret=SECRET, labeled_dir=labeled,
                     limits=Limits(coral_deadline_ms=5_000))  # a loaded test machine must not turn verdicts into holds
    with serving(app) as http:
        yield http


@pytest.fixture(scope="module")
def coral(server):
    return Coral(server, [Secret(SECRET)])


# --- the phase -----------------------------------------------------------------------------------------------------

def test_request_is_what_coral_sends():
    request = phase_request("Fish & chips <3\nsecond line", "HTML")
    assert list(request) == ["action", "comment", "author", "story", "site", "tenantID", "tenantDomain"]
    assert request["comment"] == {"body": "Fish &amp; chips &lt;3<br>second line", "parentID": None}
    assert phase_request("Fish & chips <3\nsecond line", "PLAIN_TEXT")["comment"]["body"] == \
        "Fish & chips <3\nsecond line"
    assert js_stringify({"a": [1, {"b": None}], "c": {}}, indent=2) == \
        '{\n  "a": [\n    1,\n    {\n      "b": null\n    }\n  ],\n  "c": {}\n}'


@pytest.mark.parametrize("body_format", ["HTML", "PLAIN_TEXT"])
def test_abusive_held_or_rejected_civil_published(coral, body_format):
    rude = coral.moderate(phase_request(RUDE, body_format))
    assert rude.http_status == 200 and not rude.published and "COMMENT_DETECTED_TOXIC" in rude.flags
    assert (rude.status == "REJECTED") == (rude.rejection_code is not None)
    civil = coral.moderate(phase_request(CIVIL, body_format))
    assert civil.http_status == 204 and civil.published


@pytest.mark.parametrize("body_format", ["HTML", "PLAIN_TEXT"])
@pytest.mark.parametrize("prefix", ["<style>", "<script>", "<!--", "<title>", "<template>", "if a<b and b>c then ",
                                    "<b>note</b> ", "<style>p {color: red}</style>\n", "</p><p>"])
def test_markup_typed_by_the_commenter_never_hides_abuse(coral, body_format, prefix):
    outcome = coral.moderate(phase_request(prefix + RUDE, body_format))
    assert outcome.http_status == 200 and not outcome.published, outcome


@pytest.mark.parametrize("body_format", ["HTML", "PLAIN_TEXT"])
def test_markup_in_a_civil_comment_is_still_published(coral, body_format):
    outcome = coral.moderate(phase_request("if a<b and b>c then the budget <script> section is fine", body_format))
    assert outcome.published


def test_rejection_carries_a_moderation_action(tiny_moderator, tmp_path, serving):
    """With a reject threshold every rude comment passes, Coral gets REJECTED with a reason it can show."""
    from moderation.policy import Policy, Rule

    strict = Policy({c: Rule(0.05, 0.1, c == "abusive") for c in tiny_moderator.categories})
    app = create_app(tiny_moderator, api_keys=[], coral_secret=SECRET, labeled_dir=tmp_path, policy=strict)
    with serving(app) as http:
        outcome = Coral(http, [Secret(SECRET)]).moderate(phase_request(RUDE, "HTML"))
    assert outcome.status == "REJECTED" and outcome.rejection_code in REJECTION_CODES - {"OTHER"}


def test_gif_only_comment_has_nothing_to_judge(coral):
    outcome = coral.moderate(phase_request("", "HTML"))
    assert outcome.http_status == 204 and outcome.published  # as Coral's own text phases: no text, no verdict


@pytest.mark.parametrize("body_format", ["HTML", "PLAIN_TEXT"])
def test_padding_does_not_smuggle_abuse(coral, body_format):
    padding = " ".join([CIVIL] * (25_000 // len(CIVIL) + 1))
    outcome = coral.moderate(phase_request(padding + "\n" + RUDE, body_format))
    assert outcome.http_status == 200 and not outcome.published, outcome


def test_long_civil_comment_under_the_limit_is_judged_not_held(coral):
    text = " ".join([CIVIL] * (5_000 // len(CIVIL)))
    assert coral.moderate(phase_request(text, "PLAIN_TEXT")).published


def test_signatures_wrong_rotated_and_expired(server):
    request = phase_request(RUDE, "HTML")
    now = datetime.now(UTC)
    rotated = [Secret(SECRET, inactive_at=now + timedelta(hours=1)), Secret("phase-secret-2")]
    assert Coral(server, rotated).moderate(request).status in {"REJECTED", "SYSTEM_WITHHELD"}
    assert "," in signature_header(rotated, "{}", now)  # both still active: two signatures
    expired = [Secret(SECRET, inactive_at=now - timedelta(seconds=1)), Secret("phase-secret-2")]
    assert Coral(server, expired).post_phase(request).status_code == 403  # ours is no longer among them
    assert Coral(server, [Secret("wrong")]).post_phase(request).status_code == 403
    tampered = Coral(server, [Secret(SECRET)])
    body = js_stringify(request, indent=2)
    header = signature_header([Secret(SECRET)], body, now)
    response = server.post(tampered.phase_url, content=body.replace("COMMENTER", "STAFF").encode(),
                           headers={"X-Coral-Signature": header, "Content-Type": "application/json"})
    assert response.status_code == 403


def test_server_with_both_secrets_during_rotation(tiny_moderator, tmp_path, serving):
    app = create_app(tiny_moderator, api_keys=[], coral_secret=["phase-secret-2", SECRET], labeled_dir=tmp_path)
    with serving(app) as http:
        assert Coral(http, [Secret("phase-secret-2")]).post_phase(phase_request(RUDE, "HTML")).status_code == 200
        assert Coral(http, [Secret(SECRET)]).post_phase(phase_request(RUDE, "HTML")).status_code == 200


# --- Perspective settings: analyze and feedback ---------------------------------------------------------------------

@pytest.mark.parametrize("endpoint_path", ["/v1alpha1", "/v1alpha1/"])
def test_perspective_url_joining_and_toxic_phase(server, endpoint_path):
    endpoint = str(server.base_url).rstrip("/") + endpoint_path
    assert perspective_url(endpoint, "comments:analyze", f" {KEY} ").endswith(
        f"/v1alpha1/comments:analyze?key={KEY}")
    assert toxic_phase(server, endpoint, KEY, RUDE, threshold=0.5) == "withheld"
    assert toxic_phase(server, endpoint, KEY, CIVIL, threshold=0.5) == "published"


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_every_language_coral_sends(server, tiny_moderator, tmp_path, serving, locale):
    endpoint = endpoint_of(server)
    refused = toxic_phase(server, endpoint, KEY, RUDE, locale=locale, threshold=0.5)
    # refuse (the default): Coral's toxic phase gets a 400 for es/fr/de/pt and lets the comment through unchecked
    assert refused == ("withheld" if LOCALES[locale] == "en" else "unchecked")
    app = create_app(tiny_moderator, api_keys=[KEY], coral_secret=None, labeled_dir=tmp_path,
                     limits=Limits(other_languages="english-model"))
    with serving(app) as http:
        url = perspective_url(endpoint_of(http), "comments:analyze", KEY)
        answer = http.post(url, content=analyze_body(RUDE, "TOXICITY", locale).encode()).json()
        assert answer["languages"] == [LOCALES[locale]] and answer["detectedLanguages"] == ["en"]
        assert toxic_phase(http, endpoint_of(http), KEY, RUDE, locale=locale, threshold=0.5) == \
            "withheld"


def send_feedback(http, text: str, model: str, comment_id: str, status: str, locale: str = "en-US"):
    url = perspective_url(endpoint_of(http), "comments:suggestscore", KEY)
    return http.post(url, content=suggest_body(text, model, locale, comment_id, status).encode(),
                     headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("model", sorted(ATTRIBUTE_SOURCES))
def test_feedback_for_every_model_becomes_labels_train_reads(server, labeled, model):
    # texts differ per comment: read_labels treats one text as one comment
    assert send_feedback(server, f"{RUDE} ({model})", model, f"rej-{model}", "DELETED").status_code == 200
    assert send_feedback(server, f"{CIVIL} ({model})", model, f"app-{model}", "APPROVED").status_code == 200
    frame, problems = read_labels(labeled / "suggestscore.jsonl")
    assert problems == []
    rows = frame.set_index("id")
    label = ATTRIBUTE_SOURCES[model][0]
    rejected = rows.loc[f"comment:rej-{model}"]
    assert rejected[label] == 1
    # every abuse category implies abusive; a comment rejected as spam says nothing about abuse
    assert rejected["abusive"] == 1 if label != "off_topic" else math.isnan(rejected["abusive"])
    assert rows.loc[f"comment:app-{model}", "abusive"] == 0


def test_reversed_decision_latest_wins_in_what_train_reads(server, labeled):
    for status in ("DELETED", "APPROVED", "DELETED", "DELETED", "APPROVED"):  # one retry among the reversals
        assert send_feedback(server, "What a moron, honestly.", "TOXICITY", "flip-1", status).status_code == 200
    lines = [json.loads(line) for line in (labeled / "suggestscore.jsonl").read_text().splitlines()]
    assert [row["abusive"] for row in lines if row["id"] == "comment:flip-1"] == [1, 0, 1, 0]
    frame, problems = read_labels(labeled / "suggestscore.jsonl")
    flip = frame[frame["id"] == "comment:flip-1"]
    assert problems == [] and len(flip) == 1 and flip["abusive"].item() == 0 and len(flip["duplicates"].item()) == 3


@pytest.mark.parametrize("locale", ["es", "fr-FR", "de", "pt-BR"])
def test_feedback_in_a_refused_language_is_not_a_label(server, labeled, locale):
    response = send_feedback(server, RUDE, "TOXICITY", f"lang-{locale}", "DELETED", locale=locale)
    assert response.status_code == 400
    path = labeled / "suggestscore.jsonl"
    assert not path.exists() or f"lang-{locale}" not in path.read_text()


@pytest.mark.skipif(not (artifacts.shipped_dir() / "abuse.joblib").exists(), reason="no shipped model")
def test_shipped_models_under_replay(tmp_path, serving):
    """The shipped models, as a newsroom runs them: markup and padding in either format never let abuse through."""
    app = create_app(load(), api_keys=[], coral_secret=SECRET, labeled_dir=tmp_path,
                     limits=Limits(coral_deadline_ms=10_000))
    padding = " ".join([CIVIL] * (25_000 // len(CIVIL) + 1))
    with serving(app) as http:
        coral = Coral(http, [Secret(SECRET)])
        for body_format in ("HTML", "PLAIN_TEXT"):
            for text in ["<style>" + RUDE, "<!--" + RUDE, "<script>" + RUDE, "if a<b and b>c " + RUDE,
                         padding[:5_000] + "\n" + RUDE, padding + "\n" + RUDE]:
                outcome = coral.moderate(phase_request(text, body_format))
                assert outcome.http_status == 200 and not outcome.published, (body_format, text[:40], outcome)
            assert coral.moderate(phase_request(CIVIL, body_format)).published
