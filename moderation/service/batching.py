"""Scoring in batches, off the event loop: what lets one process answer many concurrent requests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pandas as pd
from starlette.concurrency import run_in_threadpool

from moderation.policy import Policy
from moderation.scoring import Moderator


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
        the others wait for the next call. A job nobody waits for any more (its request gave up at a deadline, or
        its client went away) is dropped unscored: under overload, scoring answers nobody reads would make every
        later request late too."""
        while True:
            if not self._waiting:
                self._waiting.append(await self._queue.get())
            while not self._queue.empty():
                self._waiting.append(self._queue.get_nowait())
            self._waiting = [job for job in self._waiting if not job.future.done()]
            if self._waiting:
                break
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
        return self.moderator.score(frame, reasons="none", policy=self.policy).to_dict("records")
