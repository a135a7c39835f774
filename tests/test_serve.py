"""`moderation serve` over real HTTP: a uvicorn server in a thread on a free loopback port, the tiny model."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import hmac
import html
import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from moderation import artifacts
from moderation.cli import main
from moderation.scoring import load
from moderation.service import Limits, create_app
from moderation.service.auth import ServeError, verify_signature
from moderation.service.batching import Batcher
from moderation.service.bodies import TAG, readings
from moderation.service.config import ServeConfig, tls_options
from moderation.service.coral import coral_response, strictest
from moderation.service.http import ApiError
from moderation.service.labelstore import LabelStore
from moderation.service.perspective import analyze_request, available_attributes, sentence_spans, suggest_record

KEYS = ["first-key", "second-key"]
SECRET = "coral-phase-secret"
RUDE = "You are a stupid idiot and a moron."
CIVIL = "Thanks for the reporting on the council budget, very clear."

# Request fixtures in Perspective's and Coral's formats (our own words and values).
ANALYZE = {
    "comment": {"text": f"{CIVIL} {RUDE}"},
    "requestedAttributes": {"TOXICITY": {}, "INSULT": {"scoreThreshold": 0.0}},
    "languages": ["en"],
    "spanAnnotations": True,
    "doNotStore": True,
    "clientToken": "desk-7",
}
SUGGEST = {
    "comment": {"text": RUDE},
    "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.9}}, "INSULT": {"summaryScore": {"value": 1}}},
    "clientToken": "verdict-1",
    "communityId": "Coral:https://news.example",
}
CORAL = {  # what Coral 9 sends: no comment id (tests/test_coral_replay.py builds them exactly as Coral does)
    "action": "NEW",
    "comment": {"body": f"<p>{RUDE}</p>", "parentID": None},
    "author": {"id": "u-1", "role": "COMMENTER"},
    "story": {"id": "s-1", "url": "https://news.example/budget"},
    "site": {"id": "site-1"},
    "tenantID": "t-1",
    "tenantDomain": "news.example",
}


@pytest.fixture(scope="module")
def labeled(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("labeled")


@pytest.fixture(scope="module")
def client(tiny_moderator, labeled, serving):
    app = create_app(tiny_moderator, api_keys=KEYS, coral_secret=SECRET, labeled_dir=labeled)
    with serving(app) as http:
        yield http


def post(client, path, body, key=KEYS[0], **kwargs):
    params = {"key": key} if key else None
    return client.post(path, params=params, json=body, **kwargs)


def signed(body: dict, secret: str = SECRET) -> tuple[bytes, str]:
    raw = json.dumps(body, indent=2).encode()
    return raw, "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def labels_in(folder: Path) -> list[dict]:
    path = folder / "suggestscore.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --- comments:analyze ---------------------------------------------------------------------------------------------

def test_analyze_scores_spans_and_token(client):
    response = post(client, "/v1alpha1/comments:analyze", ANALYZE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["clientToken"] == "desk-7" and body["languages"] == ["en"] and body["detectedLanguages"] == ["en"]
    assert set(body["attributeScores"]) == {"TOXICITY", "INSULT"}
    toxicity = body["attributeScores"]["TOXICITY"]
    assert toxicity["summaryScore"]["type"] == "PROBABILITY" and 0 <= toxicity["summaryScore"]["value"] <= 1
    civil, rude = toxicity["spanScores"]
    text = ANALYZE["comment"]["text"]
    assert text[civil["begin"]:civil["end"]] == CIVIL and text[rude["begin"]:rude["end"]] == RUDE
    assert rude["score"]["value"] > 0.5 > civil["score"]["value"]
    assert rude["score"]["type"] == "PROBABILITY"


def test_analyze_threshold_drops_low_scores(client):
    request = {"comment": {"text": CIVIL}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 0.9},
                                                                  "INSULT": {}}}
    body = post(client, "/v1alpha1/comments:analyze", request).json()
    assert set(body["attributeScores"]) == {"INSULT"} and "spanScores" not in body["attributeScores"]["INSULT"]
    assert "clientToken" not in body and body["languages"] == ["en"]
    nothing = post(client, "/v1alpha1/comments:analyze", request | {"requestedAttributes": {
        "TOXICITY": {"scoreThreshold": 0.99}}}).json()
    assert nothing == {"languages": ["en"], "detectedLanguages": ["en"]}  # as Perspective: no attributeScores


def test_analyze_context_and_html(client):
    request = {"comment": {"text": "<p>Great <b>point</b></p>", "type": "HTML"},
               "context": {"entries": [{"text": "The council passed the budget."}]},
               "requestedAttributes": {"TOXICITY": {}}}
    assert post(client, "/v1alpha1/comments:analyze", request).status_code == 200


@pytest.mark.parametrize(("change", "fragment"), [
    ({"requestedAttributes": {"FLIRTATION": {}}}, "FLIRTATION"),
    ({"requestedAttributes": {"SEVERE_TOXICITY": {}}}, "SEVERE_TOXICITY"),  # the tiny model has no toxic head
    ({"requestedAttributes": {}}, "requestedAttributes"),
    ({"requestedAttributes": {"TOXICITY": {"scoreThreshold": 2}}}, "scoreThreshold"),
    ({"languages": ["de"]}, "languages: de"),
    ({"comment": {"text": "  "}}, "non-empty"),
    ({"comment": {"text": "x" * 20_001}}, "too long"),
])
def test_analyze_errors_in_perspective_shape(client, change, fragment):
    response = post(client, "/v1alpha1/comments:analyze", ANALYZE | change)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and fragment in error["message"]


def test_english_variants_accepted(client):
    assert post(client, "/v1alpha1/comments:analyze", ANALYZE | {"languages": ["en-GB"]}).status_code == 200


# --- keys, limits, malformed bodies -------------------------------------------------------------------------------

def test_api_keys_both_ways(client):
    path = "/v1alpha1/comments:analyze"
    assert post(client, path, ANALYZE, key=None).status_code == 401
    wrong = post(client, path, ANALYZE, key="nope")
    assert wrong.status_code == 403 and wrong.json()["error"]["status"] == "PERMISSION_DENIED"
    assert post(client, path, ANALYZE, key=KEYS[1]).status_code == 200
    assert client.post(path, json=ANALYZE, headers={"X-API-Key": KEYS[0]}).status_code == 200
    assert client.post(path, json=ANALYZE, headers={"X-API-Key": "nope"}).status_code == 403
    assert client.post("/v1/score", json={"comments": [{"text": CIVIL}]}).status_code == 401
    assert client.get("/healthz").status_code == 200 and client.get("/metrics").status_code == 200


def test_body_limit_and_malformed_json(client):
    big = post(client, "/v1alpha1/comments:analyze", {"comment": {"text": "x" * 1_100_000}})
    assert big.status_code == 413 and "limit" in big.json()["error"]["message"]
    bad = client.post("/v1alpha1/comments:analyze", params={"key": KEYS[0]}, content=b"{not json",
                      headers={"content-type": "application/json"})
    assert bad.status_code == 400 and "Invalid JSON" in bad.json()["error"]["message"]
    assert post(client, "/v1alpha1/comments:analyze", [1, 2]).status_code == 400
    assert client.get("/v1alpha1/comments:analyze").status_code == 405
    assert client.get("/nowhere").json()["error"]["code"] == 404


# --- comments:suggestscore ----------------------------------------------------------------------------------------

def test_suggestscore_writes_once_per_verdict(client, labeled):
    before = len(labels_in(labeled))
    first = post(client, "/v1alpha1/comments:suggestscore", SUGGEST)
    assert first.status_code == 200 and first.json() == {"clientToken": "verdict-1"}
    assert post(client, "/v1alpha1/comments:suggestscore", SUGGEST).status_code == 200  # a retry
    rows = labels_in(labeled)
    assert len(rows) == before + 1
    row = rows[-1]
    assert row["id"] == "verdict-1" and row["text"] == RUDE and row["abusive"] == 1 and row["insult"] == 1
    assert row["source"] == "suggestscore" and row["community_id"] == SUGGEST["communityId"]
    assert datetime.fromisoformat(row["labeled_at"]).tzinfo is not None


def test_suggestscore_concurrent_retries(client, labeled):
    before = len(labels_in(labeled))
    bodies = [SUGGEST | {"clientToken": f"burst-{i % 8}"} for i in range(64)]
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda b: post(client, "/v1alpha1/comments:suggestscore", b).status_code, bodies))
    assert codes == [200] * 64
    rows = labels_in(labeled)[before:]
    assert sorted(r["id"] for r in rows) == [f"burst-{i}" for i in range(8)]


def test_suggestscore_errors(client, labeled):
    before = len(labels_in(labeled))
    unknown = post(client, "/v1alpha1/comments:suggestscore", SUGGEST | {"attributeScores": {"X": {}}})
    assert unknown.status_code == 400 and "Accepted: TOXICITY" in unknown.json()["error"]["message"]
    assert post(client, "/v1alpha1/comments:suggestscore", SUGGEST | {"languages": ["fr"]}).status_code == 400
    assert len(labels_in(labeled)) == before


def test_label_store_rebuilds_and_survives_a_torn_line(tmp_path):
    record = suggest_record(SUGGEST, datetime.now(UTC))
    assert LabelStore(tmp_path).add(record)
    with open(tmp_path / "suggestscore.jsonl", "ab") as handle:
        handle.write(b'{"id": "half-writ')  # a crash mid-line
    store = LabelStore(tmp_path)
    assert not store.add(record)  # seen again after a restart
    changed = record | {"abusive": 0, "insult": 0}  # the moderator changed their mind: a new verdict, kept
    assert store.add(changed) and not store.add(changed)
    assert store.add(record)  # and back again: the latest verdict is the first one again, so it is written
    lines = (tmp_path / "suggestscore.jsonl").read_text().splitlines()
    assert lines[1] == '{"id": "half-writ' and len(lines) == 4
    assert [json.loads(lines[i])["abusive"] for i in (0, 2, 3)] == [1, 0, 1]


def test_label_stores_sharing_a_file_see_each_others_verdicts(tmp_path):
    """Two stores on one folder act as two --workers processes: a retry reaching the other one is not rewritten."""
    first, second = LabelStore(tmp_path), LabelStore(tmp_path)
    record = suggest_record(SUGGEST, datetime.now(UTC))
    assert first.add(record) and not second.add(record) and not first.add(record)
    assert len(labels_in(tmp_path)) == 1 and len(second) == 1


def test_suggest_record_labels():
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    body = {"comment": {"text": "spam spam"}, "attributeScores": {"SPAM": {"summaryScore": {"value": 0.7}},
                                                                 "TOXICITY": {"summaryScore": {"value": 0.2}}}}
    record = suggest_record(body, now)
    assert record["off_topic"] == 1 and record["abusive"] == 0 and record["id"].startswith("sha256-")
    assert record["labeled_at"] == "2026-05-01T12:00:00.000000+00:00"
    with pytest.raises(ApiError, match="contradict"):
        suggest_record(body | {"attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}},
                                                   "THREAT": {"summaryScore": {"value": 1}}}}, now)
    severe = suggest_record(body | {"attributeScores": {"SEVERE_TOXICITY": {"summaryScore": {"value": 1}}}}, now)
    assert severe["abusive"] == 1
    with pytest.raises(ApiError, match="no verdict"):  # a low SEVERE_TOXICITY says nothing about plain abuse
        suggest_record(body | {"attributeScores": {"SEVERE_TOXICITY": {"summaryScore": {"value": 0}}}}, now)


# --- Coral external moderation ------------------------------------------------------------------------------------

def test_coral_signatures(client):
    path = "/coral/external-moderation"
    raw, signature = signed(CORAL)
    headers = {"content-type": "application/json"}
    assert client.post(path, content=raw, headers=headers).status_code == 401
    _, other = signed(CORAL, "another-secret")
    assert client.post(path, content=raw, headers=headers | {"X-Coral-Signature": other}).status_code == 403
    tampered = raw.replace(b"u-1", b"u-2")
    assert client.post(path, content=tampered, headers=headers | {"X-Coral-Signature": signature}).status_code == 403
    right = client.post(path, content=raw, headers=headers | {"X-Coral-Signature": signature})
    assert right.status_code == 200
    rotated = client.post(path, content=raw, headers=headers | {"X-Coral-Signature": f"{other},{signature}"})
    assert rotated.status_code == 200 and rotated.json() == right.json()


def test_coral_decisions(client):
    raw, signature = signed(CORAL)
    rude = client.post("/coral/external-moderation", content=raw, headers={"X-Coral-Signature": signature}).json()
    assert rude["status"] in {"REJECTED", "SYSTEM_WITHHELD"}
    assert rude["actions"] == [{"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}]
    civil = CORAL | {"comment": CORAL["comment"] | {"body": f"<p>{CIVIL}</p>"}}
    raw, signature = signed(civil)
    answer = client.post("/coral/external-moderation", content=raw, headers={"X-Coral-Signature": signature})
    assert answer.status_code == 204 and answer.content == b""


def test_coral_response_shapes():
    assert coral_response("approve", []) is None
    review = coral_response("review", ["IRRELEVANT_CONTENT", "ABUSIVE", "THREAT"])
    assert review["status"] == "SYSTEM_WITHHELD" and "moderationAction" not in review
    assert [a["reason"] for a in review["actions"]] == ["COMMENT_DETECTED_SPAM", "COMMENT_DETECTED_TOXIC"]
    reject = coral_response("reject", ["ABUSIVE", "HATE_SPEECH"])
    assert reject["status"] == "REJECTED"
    assert reject["moderationAction"] == {"status": "REJECTED", "rejectionReason": {"code": "HATE_SPEECH"}}
    assert coral_response("reject", ["OBSCENE"])["moderationAction"]["rejectionReason"]["code"] == "OFFENSIVE"
    assert coral_response("review", ["UNJUDGED"]) == {"status": "SYSTEM_WITHHELD", "actions": []}


def test_strictest_decision_over_readings_and_windows():
    rows = [{"decision": "approve", "reason_codes": []}, {"decision": "review", "reason_codes": ["INSULT"]},
            {"decision": "review", "reason_codes": ["ABUSIVE", "INSULT"]}]
    assert strictest(rows, False) == ("review", ["INSULT", "ABUSIVE"])
    assert strictest(rows[:1], True) == ("review", ["UNJUDGED"])  # part unread: held at least
    assert strictest(rows[:1] + [{"decision": "reject", "reason_codes": ["THREAT"]}], True) == ("reject", ["THREAT"])
    assert strictest([], True) == ("review", ["UNJUDGED"])


def test_coral_without_secret_is_unavailable(tiny_moderator, tmp_path, serving):
    with serving(create_app(tiny_moderator, api_keys=[], coral_secret=None, labeled_dir=tmp_path)) as http:
        raw, signature = signed(CORAL)
        response = http.post("/coral/external-moderation", content=raw, headers={"X-Coral-Signature": signature})
        assert response.status_code == 503 and "MODERATION_CORAL_SECRET" in response.json()["error"]["message"]
        assert http.post("/v1/score", json={"comments": [{"text": CIVIL}]}).status_code == 200  # no keys: open


def test_comment_text_is_logged_only_when_asked(tiny_moderator, tmp_path, caplog, serving):
    request = {"comment": {"text": "A sentinel remark about zebra crossings"}, "requestedAttributes": {"TOXICITY": {}}}
    caplog.set_level("INFO", logger="moderation.serve")
    for log_text in (False, True):
        app = create_app(tiny_moderator, api_keys=KEYS, coral_secret=None, labeled_dir=tmp_path, log_text=log_text)
        with serving(app) as http:
            assert post(http, "/v1alpha1/comments:analyze", request).status_code == 200
        assert ("zebra crossings" in caplog.text) == log_text
        assert KEYS[0] not in caplog.text  # the ?key= query string is never logged


def test_verify_signature():
    body = b'{"a": 1}'
    good = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert verify_signature("k", body, good) and verify_signature("k", body, f"sha256=00, {good}")
    assert not verify_signature("k", body, None) and not verify_signature("k", body, "sha256=00")
    assert not verify_signature("other", body, good)


# --- /v1/score, /healthz, /metrics --------------------------------------------------------------------------------

def test_batch_score_has_the_cli_columns(client, tiny_moderator):
    comments = [{"id": "a", "text": RUDE}, {"id": "b", "text": CIVIL, "article": "budget"}, {"id": "c", "text": ""}]
    response = post(client, "/v1/score", {"comments": comments, "reasons": "flagged"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [list(r) for r in results] == [tiny_moderator.columns() + ["error"]] * 3
    assert [r["id"] for r in results] == ["a", "b", "c"] and results[0]["decision"] != "approve"
    assert results[0]["reasons"] and results[1]["reasons"] == [] and results[1]["error"] is None
    assert results[2]["decision"] is None and "empty text" in results[2]["error"]
    assert post(client, "/v1/score", {"comments": []}).status_code == 400
    assert post(client, "/v1/score", {"comments": comments, "reasons": "some"}).status_code == 400


def test_healthz_and_metrics(client, tiny_moderator):
    health = client.get("/healthz").json()
    assert health["model_version"] == "tiny-test" and health["categories"] == list(tiny_moderator.categories)
    assert "TOXICITY" in health["attributes"] and "SEVERE_TOXICITY" not in health["attributes"]
    post(client, "/v1alpha1/comments:analyze", ANALYZE)
    post(client, "/v1/score", {"comments": [{"text": RUDE}]})
    text = client.get("/metrics").text
    assert 'moderation_requests_total{endpoint="/v1alpha1/comments:analyze",status="200"}' in text
    assert 'moderation_request_seconds_bucket{endpoint="/v1alpha1/comments:analyze",le="0.05"}' in text
    assert 'moderation_decisions_total{decision="' in text
    assert 'moderation_model_info{version="tiny-test"} 1.0' in text


class Recording:
    """Stands in for a Moderator with an off-topic model: records the texts of each scoring call."""

    offtopic = object()

    def __init__(self):
        self.calls = []

    def score(self, frame, reasons, policy):
        self.calls.append(list(frame["text"]))
        return pd.DataFrame({"text": frame["text"], "decision": "approve"})


def test_batcher_merges_requests_but_never_copies():
    stub = Recording()
    batcher = Batcher(stub, policy=None)
    spam, other = "Buy cheap watches online today", "The council should publish the budget."

    async def three_requests():
        worker = asyncio.create_task(batcher.run())
        results = await asyncio.gather(batcher.score([spam]), batcher.score([spam.upper()]), batcher.score([other]))
        worker.cancel()
        return results

    results = asyncio.run(three_requests())
    assert [rows[0]["text"] for rows in results] == [spam, spam.upper(), other]
    assert stub.calls == [[spam, other], [spam.upper()]]  # a copy in one call would raise the other's score


@pytest.mark.skipif(not (artifacts.shipped_dir() / "abuse.joblib").exists(), reason="no shipped model")
def test_shipped_model_over_http(tmp_path, serving):
    with serving(create_app(load(), api_keys=[], coral_secret=None, labeled_dir=tmp_path)) as http:
        def scores(text):
            request = {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}, "SEVERE_TOXICITY": {}}}
            body = http.post("/v1alpha1/comments:analyze", json=request).json()["attributeScores"]
            return body["TOXICITY"]["summaryScore"]["value"], body["SEVERE_TOXICITY"]["summaryScore"]["value"]

        rude, civil = scores(RUDE), scores(CIVIL)
        assert rude[0] > 0.5 > civil[0] and rude[1] <= rude[0] and civil[1] <= civil[0]
        if "SPAM" in http.get("/healthz").json()["attributes"]:  # with the off-topic model
            request = {"comment": {"text": "Cheap watches at www.example.shop, call 555 123 4567 now"},
                       "requestedAttributes": {"SPAM": {}, "TOXICITY": {}}}
            spam = http.post("/v1alpha1/comments:analyze", json=request).json()["attributeScores"]
            assert spam["SPAM"]["summaryScore"]["value"] > 0.5 > spam["TOXICITY"]["summaryScore"]["value"]


# --- pure request mapping -----------------------------------------------------------------------------------------

def test_attributes_follow_the_categories():
    assert available_attributes(["abusive", "insult"]) == ["TOXICITY", "INSULT"]
    assert "SEVERE_TOXICITY" in available_attributes(["abusive", "toxic"])
    assert {"SPAM", "OFF_TOPIC"} <= set(available_attributes(["abusive", "off_topic"]))


def test_analyze_request_reads_context():
    request = analyze_request({"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": None},
                               "context": {"entries": [{"text": "one"}, {"text": "two"}]}}, ["TOXICITY"])
    assert request.article == "one\n\ntwo" and request.thresholds == {"TOXICITY": None} and not request.spans


@given(st.text(alphabet=st.sampled_from("ab .!?\n"), max_size=60))
def test_sentence_spans_cover_the_words(text):
    spans = sentence_spans(text)
    assert all(0 <= b < e <= len(text) and text[b:e].strip() == text[b:e] for b, e in spans)
    assert all(e1 <= b2 for (_, e1), (b2, _) in zip(spans, spans[1:], strict=False))
    assert "".join(text[b:e] for b, e in spans).replace(" ", "").replace("\n", "") == \
        text.replace(" ", "").replace("\n", "")


# --- the command --------------------------------------------------------------------------------------------------

def test_refuses_public_address_without_keys(tmp_path):
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--labeled", str(tmp_path)],
                                env={"MODERATION_API_KEYS": ""})
    assert result.exit_code != 0 and "refusing to listen on 0.0.0.0" in result.output


def test_workers_not_started_without_a_loadable_model(tmp_path):
    gone = {"current": "abuse-gone.joblib", "history": [{"file": "abuse-gone.joblib", "version": "abuse-gone",
                                                         "promoted_at": "", "reason": "test"}]}
    (tmp_path / "registry.json").write_text(json.dumps({"abuse": gone}))  # the current model's file is missing
    result = CliRunner().invoke(main, ["serve", "--workers", "2", "--labeled", str(tmp_path)],
                                env={"MODERATION_MODELS": str(tmp_path)})
    assert result.exit_code == 1 and "abuse-gone.joblib" in result.output and "moderation rollback" in result.output


def test_command_with_two_workers(tiny_moderator, tmp_path):
    """The real command: two worker processes load a model from $MODERATION_MODELS, share metrics and labels."""
    models = tmp_path / "models"
    thresholds = {c: {"review": 0.5, "reject": 0.9} for c in tiny_moderator.categories}
    artifacts.save(tiny_moderator.abuse, models / "abuse.joblib", {"version": "tiny-disk", "thresholds": thresholds})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = os.environ | {"MODERATION_MODELS": str(models), "MODERATION_API_KEYS": "k"}
    command = [sys.executable, "-c", "from moderation.cli import main; main()", "serve", "--port", str(port),
               "--workers", "2", "--labeled", str(tmp_path / "labels")]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if http.get("/healthz").status_code == 200:
                        break
                time.sleep(0.2)
            for _ in range(6):  # new connections, so both workers may take some
                response = post(http, "/v1alpha1/comments:suggestscore", SUGGEST, key="k",
                                headers={"Connection": "close"})
                assert response.status_code == 200
            assert post(http, "/v1alpha1/comments:analyze", ANALYZE, key="k").status_code == 200
            metrics = http.get("/metrics").text
        assert len(labels_in(tmp_path / "labels")) == 1
        assert 'moderation_requests_total{endpoint="/v1alpha1/comments:suggestscore",status="200"} 6.0' in metrics
        assert 'version="tiny-disk+offtopic-' in metrics  # the home's abuse model, the shipped off-topic one
    finally:
        process.terminate()
        process.wait(20)


# --- TLS: what production Coral needs (https phase URL) -------------------------------------------------------------

def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as the README's openssl recipe makes them."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


def test_coral_phase_over_https(tiny_moderator, tmp_path, serving):
    certfile, keyfile = self_signed(tmp_path)
    options = tls_options(ServeConfig(certfile=str(certfile), keyfile=str(keyfile)))
    app = create_app(tiny_moderator, api_keys=[], coral_secret=SECRET, labeled_dir=tmp_path)
    with serving(app, **options) as https:
        assert str(https.base_url).startswith("https://127.0.0.1:")
        raw, signature = signed(CORAL)
        answer = https.post("/coral/external-moderation", content=raw, headers={"X-Coral-Signature": signature})
        assert answer.status_code == 200 and answer.json()["status"] in {"REJECTED", "SYSTEM_WITHHELD"}
        with pytest.raises(httpx.ConnectError):  # a client that does not trust the certificate is refused
            httpx.get(f"{https.base_url}/healthz", timeout=5)


def test_tls_files_checked_before_start(tmp_path):
    certfile, keyfile = self_signed(tmp_path)
    with pytest.raises(ServeError, match="both"):
        tls_options(ServeConfig(certfile=str(certfile)))
    with pytest.raises(ServeError, match="cannot use"):
        tls_options(ServeConfig(certfile=str(keyfile), keyfile=str(keyfile)))
    result = CliRunner().invoke(main, ["serve", "--certfile", str(certfile), "--labeled", str(tmp_path)])
    assert result.exit_code == 1 and "both --certfile and --keyfile" in result.output


@pytest.mark.parametrize("trouble", ["late", "failing"])
def test_coral_holds_what_it_cannot_judge_in_time(tiny_moderator, tmp_path, serving, trouble):
    """Coral publishes unchecked on a late or failed answer: the phase answers by its deadline and holds."""
    app = create_app(tiny_moderator, api_keys=[], coral_secret=SECRET, labeled_dir=tmp_path,
                     limits=Limits(coral_deadline_ms=100))

    async def troubled(texts, article=None):
        await asyncio.sleep(2 if trouble == "late" else 0)
        raise RuntimeError("scorer down")

    app.state.service.batcher.score = troubled
    civil = CORAL | {"comment": CORAL["comment"] | {"body": CIVIL}}
    with serving(app) as http:
        raw, signature = signed(civil)
        started = time.monotonic()
        answer = http.post("/coral/external-moderation", content=raw, headers={"X-Coral-Signature": signature})
        assert time.monotonic() - started < 1.5
        assert answer.status_code == 200 and answer.json() == {"status": "SYSTEM_WITHHELD", "actions": []}
        assert 'moderation_coral_unjudged_total{cause="late_or_failed"} 1.0' in http.get("/metrics").text


@given(st.text(alphabet=st.sampled_from("ab <>/!-&;pstyle\n"), max_size=80))
def test_readings_never_lose_a_word(body):
    """The plain reading is always judged; the HTML reading, when there is one, drops tags and nothing else."""
    found = readings(body)
    assert found[-1] == body
    if len(found) == 2:
        assert "<" not in TAG.sub("", body)
        assert "".join(found[0].split()) == "".join(html.unescape(TAG.sub("", body)).split())


def test_batcher_drops_jobs_nobody_waits_for():
    """A request that gave up at its deadline costs no scoring: under overload that would make all later ones late."""
    stub = Recording()
    batcher = Batcher(stub, policy=None)

    async def one_gives_up():
        gave_up = asyncio.ensure_future(asyncio.wait_for(batcher.score(["late"]), 0.001))
        await asyncio.sleep(0.01)  # it times out before the worker starts
        worker = asyncio.create_task(batcher.run())
        rows = await batcher.score(["in time"])
        worker.cancel()
        with pytest.raises(TimeoutError):
            await gave_up
        return rows

    assert asyncio.run(one_gives_up())[0]["text"] == "in time" and stub.calls == [["in time"]]
