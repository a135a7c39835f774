"""Load test of `moderation serve` on loopback, against a server this script starts with the shipped models.

    python benchmarks/serve.py [--duration 60] [--clients 1,5,50] [--workers 1] [--labels 500] [--quick]

1. ``comments:analyze`` (TOXICITY, INSULT, THREAT; one real comment each) for ``--duration`` seconds at each
   number of concurrent clients in ``--clients``: throughput, latency p50/p95/p99, errors.
2. ``/v1/score`` with batches of 100 comments for a quarter of ``--duration`` at 4 clients: comments/s, latency.
3. ``comments:suggestscore``: ``--labels`` distinct verdicts, each sent twice in shuffled order (a client
   retrying) over the largest number of clients; then checks that the labels file holds each verdict exactly once.

Comments are sampled from the insults-2012 corpus. Each client is an asyncio task on its own keep-alive
connection in this process, which shares the machine's cores with the server; every request loop stops at its
deadline. ``--quick``: 10 s phases, 1, 5 and 20 clients, 100 labels. Models come from ``models/`` (or
``$MODERATION_MODELS``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from moderation.corpora.abuse import insults_2012

KEY = "benchmark-key"
REQUEST_TIMEOUT = 30  # seconds; a request unanswered by then counts as an error, so every run ends
ATTRIBUTES = {"TOXICITY": {}, "INSULT": {}, "THREAT": {}}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, workers: int, labeled: Path, log) -> subprocess.Popen:
    """The real command in its own process; its log goes to ``log`` (a pipe nobody reads would fill and stall it)."""
    command = [sys.executable, "-c", "from moderation.cli import main; main()", "serve", "--port", str(port),
               "--workers", str(workers), "--labeled", str(labeled)]
    env = os.environ | {"MODERATION_API_KEYS": KEY}
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

    async def post(self, path: str, body: dict) -> int:
        """POST ``body`` as JSON with the benchmark's key; the status, or 0 when it failed or timed out."""
        data = json.dumps(body).encode()
        head = (f"POST {path}?key={KEY} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
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


async def hammer(port: int, clients: int, seconds: float, make_request) -> tuple[list, int, float]:
    """``clients`` connections sending ``make_request()`` until the deadline; latencies (s), errors, elapsed."""
    latencies, errors = [], 0
    deadline = time.perf_counter() + seconds

    async def loop():
        nonlocal errors
        connection = Connection(port)
        while time.perf_counter() < deadline:
            path, body = make_request()
            started = time.perf_counter()
            status = await connection.post(path, body)
            latencies.append(time.perf_counter() - started)
            errors += status != 200
        connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


def report(name: str, latencies: list, errors: int, elapsed: float, per_request: int = 1) -> None:
    ms = np.percentile(latencies, [50, 95, 99]) * 1000 if latencies else [float("nan")] * 3
    rate = len(latencies) / elapsed
    extra = f"  ({rate * per_request:.0f} comments/s)" if per_request > 1 else ""
    print(f"{name:<34} {len(latencies):>7} req  {rate:>7.1f} req/s{extra}  p50 {ms[0]:6.1f} ms  "
          f"p95 {ms[1]:6.1f} ms  p99 {ms[2]:6.1f} ms  errors {errors}", flush=True)


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


def analyze_body(text: str) -> dict:
    return {"comment": {"text": text}, "requestedAttributes": ATTRIBUTES, "languages": ["en"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60, help="Seconds per analyze phase.")
    parser.add_argument("--clients", default="1,5,50", help="Concurrent clients per analyze phase, comma-separated.")
    parser.add_argument("--workers", type=int, default=1, help="Server worker processes.")
    parser.add_argument("--batch", type=int, default=100, help="Comments per /v1/score request.")
    parser.add_argument("--labels", type=int, default=500, help="Distinct suggestscore verdicts.")
    parser.add_argument("--quick", action="store_true", help="10 s phases, 1, 5 and 20 clients, 100 labels.")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.clients, args.labels = 10, "1,5,20", 100
    args.clients = [int(c) for c in str(args.clients).split(",")]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as tmp:
        labeled, log_path = Path(tmp) / "labeled", Path(tmp) / "server.log"
        with open(log_path, "wb") as log:
            process = start_server(port, args.workers, labeled, log)
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
