"""Load test of `moderation serve` on loopback, against a server this script starts with the shipped models.

    python benchmarks/serve.py [--duration 60] [--clients 1,5,50] [--workers 1] [--labels 500]
                               [--coral-deadline-ms MS] [--quick]

1. ``comments:analyze`` (TOXICITY, INSULT, THREAT; one real comment each) for ``--duration`` seconds at each
   number of concurrent clients in ``--clients``: throughput, latency p50/p95/p99, errors.
2. Coral's external moderation phase, the same way: each request built as Coral builds it (the comment as its
   editor stores it, HTML or plain text at random, ``JSON.stringify(request, null, 2)``, ``X-Coral-Signature``),
   plus the share of answers over Coral's default 200 ms timeout and of comments held unjudged because the
   server's ``--coral-deadline-ms`` passed first (from ``/metrics``).
3. ``/v1/score`` with batches of 100 comments for a quarter of ``--duration`` at 4 clients: comments/s, latency.
4. ``comments:suggestscore``: ``--labels`` distinct verdicts, each sent twice in shuffled order (a client
   retrying) over the largest number of clients; then checks that the labels file holds each verdict exactly once.

``--windows N`` instead measures, without a server, what judging long comments in windows (as the Coral phase
does) changes: on N C3 comments over 1,000 characters, the decisions of the whole text vs the strictest over the
text and its windows, by label; and for abusive insults-2012 comments put after 5,000 and 25,000 characters of
civil C3 text, how many are caught (not approved). The shipped models were trained on both corpora, so the
scores are in-sample: the change between the two ways is what to read, not the levels.

Comments are sampled from the insults-2012 corpus. Each client is an asyncio task on its own keep-alive
connection in this process, which shares the machine's cores with the server; every request loop stops at its
deadline. ``--quick``: 10 s phases, 1, 5 and 20 clients, 100 labels. Models come from ``models/`` (or
``$MODERATION_MODELS``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import html
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from moderation.corpora.abuse import insults_2012

KEY = "benchmark-key"
CORAL_SECRET = "benchmark-coral-secret"
CORAL_TIMEOUT = 0.2  # seconds: the phase timeout Coral's form suggests
REQUEST_TIMEOUT = 30  # seconds; a request unanswered by then counts as an error, so every run ends
ATTRIBUTES = {"TOXICITY": {}, "INSULT": {}, "THREAT": {}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, workers: int, labeled: Path, log, options: list[str]) -> subprocess.Popen:
    """The real command in its own process; its log goes to ``log`` (a pipe nobody reads would fill and stall it)."""
    command = [sys.executable, "-c", "from moderation.cli import main; main()", "serve", "--port", str(port),
               "--workers", str(workers), "--labeled", str(labeled), *options]
    env = os.environ | {"MODERATION_API_KEYS": KEY, "MODERATION_CORAL_SECRET": CORAL_SECRET}
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


def wait_ready(base: str, process: subprocess.Popen, log_path: Path, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"server exited: {log_path.read_text()[-2000:]}")
        try:
            return httpx.get(f"{base}/healthz", timeout=2).json()
        except httpx.HTTPError:
            time.sleep(0.5)
    sys.exit("server did not start in time")


class Connection:
    """One keep-alive HTTP/1.1 connection, as little client as can be: a general-purpose async client (httpx)
    spends more CPU per request than the server does on this 2-core machine, and would measure itself."""

    def __init__(self, port: int):
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: dict | bytes, headers: str = "") -> int:
        """POST ``body`` (JSON, or bytes as they are) with the benchmark's key and any extra header lines; the
        status, or 0 when it failed or timed out."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = (f"POST {path}?key={KEY} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"{headers}Content-Length: {len(data)}\r\n\r\n").encode()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                return await self._exchange(head + data)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            self.close()
            return 0

    async def _exchange(self, request: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(request)
        response = await self.reader.readuntil(b"\r\n\r\n")
        lines = response.decode("latin-1").split("\r\n")
        length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
        await self.reader.readexactly(length)
        return int(lines[0].split(" ", 2)[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def hammer(port: int, clients: int, seconds: float, make_request) -> tuple[list, Counter, float]:
    """``clients`` connections sending ``make_request()`` until the deadline; latencies (s), errors by status
    (0: no answer), elapsed."""
    latencies, errors = [], Counter()
    deadline = time.perf_counter() + seconds

    async def loop():
        connection = Connection(port)
        while time.perf_counter() < deadline:
            path, *request = make_request()
            started = time.perf_counter()
            status = await connection.post(path, *request)
            latencies.append(time.perf_counter() - started)
            if status not in (200, 204):
                errors[status] += 1
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


def report(name: str, latencies: list, errors: Counter, elapsed: float, per_request: int = 1) -> None:
    ms = np.percentile(latencies, [50, 95, 99]) * 1000 if latencies else [float("nan")] * 3
    rate = len(latencies) / elapsed
    extra = f"  ({rate * per_request:.0f} comments/s)" if per_request > 1 else ""
    print(f"{name:<34} {len(latencies):>7} req  {rate:>7.1f} req/s{extra}  p50 {ms[0]:6.1f} ms  "
          f"p95 {ms[1]:6.1f} ms  p99 {ms[2]:6.1f} ms  errors {errors.total()}"
          + (f" (by status: {dict(sorted(errors.items()))})" if errors else ""), flush=True)


async def suggest_run(port: int, texts: list[str], labels: int, clients: int) -> int:
    """Send each verdict twice, shuffled, over ``clients`` connections; the number of failed requests."""
    bodies = [{"comment": {"text": texts[i % len(texts)]}, "clientToken": f"bench-{i}",
               "attributeScores": {"TOXICITY": {"summaryScore": {"value": float(i % 2)}}}} for i in range(labels)]
    queue = [body for body in bodies for _ in range(2)]
    random.Random(0).shuffle(queue)
    pending = iter(queue)
    failed = 0

    async def worker():
        nonlocal failed
        connection = Connection(port)
        for body in pending:
            failed += await connection.post("/v1alpha1/comments:suggestscore", body) != 200
        connection.close()

    await asyncio.gather(*(worker() for _ in range(clients)))
    return failed


async def main_async(args, port: int, labeled: Path) -> bool:
    """Run the phases and print their figures; False when a label was lost or duplicated or a request failed."""
    corpus = insults_2012().frame["text"]
    texts = [t for t in corpus.astype(str) if t.strip() and len(t) <= 20_000]
    rng = random.Random(1)
    print(f"{len(texts)} insults-2012 comments to sample from; {os.cpu_count()} cores", flush=True)
    await hammer(port, 4, 2, lambda: ("/v1alpha1/comments:analyze", analyze_body(rng.choice(texts))))  # warm-up
    for clients in args.clients:
        result = await hammer(port, clients, args.duration,
                              lambda: ("/v1alpha1/comments:analyze", analyze_body(rng.choice(texts))))
        report(f"comments:analyze, {clients} clients", *result)
    for clients in args.clients:
        held_before = unjudged(port)
        latencies, errors, elapsed = await hammer(port, clients, args.duration,
                                                  lambda: coral_request(rng.choice(texts), rng))
        report(f"Coral phase, {clients} clients", latencies, errors, elapsed)
        late = np.mean(np.array(latencies) > CORAL_TIMEOUT) if latencies else float("nan")
        print(f"{'':<34} over {CORAL_TIMEOUT * 1000:.0f} ms: {late:.2%}; held unjudged at the deadline: "
              f"{unjudged(port) - held_before:.0f}", flush=True)
    batch = args.batch
    result = await hammer(port, 4, max(args.duration / 4, 5), lambda: (
        "/v1/score", {"comments": [{"id": str(i), "text": rng.choice(texts)} for i in range(batch)]}))
    report(f"/v1/score, batches of {batch}, 4 clients", *result, per_request=batch)
    started = time.perf_counter()
    failed = await suggest_run(port, texts, args.labels, max(args.clients))
    elapsed = time.perf_counter() - started
    rows = [json.loads(line) for line in (labeled / "suggestscore.jsonl").read_text().splitlines()]
    ids = [row["id"] for row in rows]
    expected = {f"bench-{i}" for i in range(args.labels)}
    lost, duplicated = len(expected - set(ids)), len(ids) - len(set(ids))
    print(f"suggestscore: {2 * args.labels} requests ({args.labels} verdicts, each sent twice) in {elapsed:.1f} s, "
          f"failed {failed}; labels file: {len(rows)} rows, lost {lost}, duplicated {duplicated}", flush=True)
    return not (failed or lost or duplicated or len(rows) != args.labels)


def coral_request(text: str, rng: random.Random) -> tuple[str, bytes, str]:
    """A signed External Moderation Request as Coral 9 sends it (see tests/test_coral_replay.py)."""
    stored = "<br>".join(html.escape(line, quote=False) for line in text.split("\n"))
    body = stored if rng.random() < 0.5 else html.unescape(stored.replace("<br>", "\n"))
    request = {"action": "NEW", "comment": {"body": body, "parentID": None},
               "author": {"id": "user-1", "role": "COMMENTER"}, "story": {"id": "s-1", "url": "https://x.example/a"},
               "site": {"id": "site-1"}, "tenantID": "t-1", "tenantDomain": "x.example"}
    data = json.dumps(request, indent=2, ensure_ascii=False).encode()
    signature = hmac.new(CORAL_SECRET.encode(), data, hashlib.sha256).hexdigest()
    return "/coral/external-moderation", data, f"X-Coral-Signature: sha256={signature}\r\n"


def unjudged(port: int) -> float:
    """Comments the Coral phase has held unjudged so far (``moderation_coral_unjudged_total``)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("moderation_coral_unjudged_total"))


def window_effect(n: int) -> None:
    """Print what windows change on long real comments and on padded abuse (see the module docstring)."""
    from moderation.corpora.abuse import c3
    from moderation.scoring import load
    from moderation.service.bodies import windows
    from moderation.service.coral import UNJUDGED, strictest

    moderator = load()

    def decisions(texts: list[str], max_chars: int = 20_000) -> tuple[list[str], list[str]]:
        whole = moderator.score(pd.DataFrame({"text": texts}), reasons="none")["decision"].tolist()
        pieces = [windows(text, max_chars) for text in texts]
        flat = [piece for chunks, _ in pieces for piece in chunks]
        rows = moderator.score(pd.DataFrame({"text": flat}), reasons="none").to_dict("records")
        judged, start = [], 0
        for chunks, unread in pieces:
            decision, codes = strictest(rows[start:start + len(chunks)], unread)
            judged.append(decision if codes != [UNJUDGED] else "held unjudged")
            start += len(chunks)
        return whole, judged

    frame = c3().frame
    long = frame[frame["text"].str.len() > 1_000]
    long = long.sample(min(n, len(long)), random_state=0)
    whole, judged = decisions(long["text"].tolist())
    for label, rows in (("abusive", long["abusive"] == 1), ("civil", long["abusive"] == 0)):
        w = np.array(whole)[rows.to_numpy()]
        j = np.array(judged)[rows.to_numpy()]
        print(f"C3 comments over 1,000 chars, {label} (n={rows.sum()}): not approved whole "
              f"{np.mean(w != 'approve'):.1%}, with windows {np.mean(j != 'approve'):.1%}; rejected "
              f"{np.mean(w == 'reject'):.1%} -> {np.mean(j == 'reject'):.1%}", flush=True)
    civil = " ".join(frame.loc[frame["abusive"] == 0, "text"].sample(2_000, random_state=1))
    rude = insults_2012().frame
    rude = rude.loc[rude["abusive"] == 1, "text"].sample(200, random_state=2).tolist()
    for padding in (5_000, 25_000):
        texts = [civil[:padding] + "\n" + text for text in rude]
        whole, judged = decisions(texts)
        judged = np.array(judged)
        print(f"abusive insults-2012 comment after {padding:,} chars of civil C3 text (n={len(texts)}): caught whole "
              f"{np.mean(np.array(whole) != 'approve'):.1%}, as the Coral phase judges it "
              f"{np.mean(~np.isin(judged, ['approve', 'held unjudged'])):.1%} for what it says "
              f"(+{np.mean(judged == 'held unjudged'):.1%} held unjudged, too long)", flush=True)
    alone = moderator.score(pd.DataFrame({"text": rude}), reasons="none")["decision"]
    print(f"the same comments alone: caught {np.mean(alone != 'approve'):.1%}", flush=True)


def analyze_body(text: str) -> dict:
    return {"comment": {"text": text}, "requestedAttributes": ATTRIBUTES, "languages": ["en"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60, help="Seconds per analyze phase.")
    parser.add_argument("--clients", default="1,5,50", help="Concurrent clients per analyze phase, comma-separated.")
    parser.add_argument("--workers", type=int, default=1, help="Server worker processes.")
    parser.add_argument("--batch", type=int, default=100, help="Comments per /v1/score request.")
    parser.add_argument("--labels", type=int, default=500, help="Distinct suggestscore verdicts.")
    parser.add_argument("--coral-deadline-ms", type=int, help="The server's --coral-deadline-ms (default: its own).")
    parser.add_argument("--windows", type=int, default=0, help="Measure window judging on N long comments, no server.")
    parser.add_argument("--quick", action="store_true", help="10 s phases, 1, 5 and 20 clients, 100 labels.")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.clients, args.labels = 10, "1,5,20", 100
    args.clients = [int(c) for c in str(args.clients).split(",")]
    if args.windows:
        window_effect(args.windows)
        return
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        labeled, log_path = Path(tmp) / "labeled", Path(tmp) / "server.log"
        with open(log_path, "wb") as log:
            options = ["--coral-deadline-ms", str(args.coral_deadline_ms)] if args.coral_deadline_ms else []
            process = start_server(port, args.workers, labeled, log, options)
        try:
            health = wait_ready(base, process, log_path)
            print(f"server: model {health['model_version']}, workers {args.workers}, attributes "
                  f"{', '.join(health['attributes'])}", flush=True)
            ok = asyncio.run(main_async(args, port, labeled))
        finally:
            process.terminate()
            process.wait(30)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
