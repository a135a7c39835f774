"""Moderators' verdicts (``comments:suggestscore``) appended to ``labeled/suggestscore.jsonl`` in the label
format ``moderation train --labels`` reads. A verdict for a comment supersedes the earlier ones for it in what
``train`` reads (``moderation.labels.latest_verdicts``); this file keeps every verdict, in arrival order."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from pathlib import Path

from moderation.labels import LABELS

LABELS_FILE = "suggestscore.jsonl"


def verdict(record: dict) -> str:
    """What a verdict says: its labels (a retry repeats them, a reversed decision does not)."""
    return json.dumps({k: record[k] for k in LABELS if k in record}, sort_keys=True)


class LabelStore:
    """Append-only JSON Lines file of verdicts, safe across threads and processes (``--workers``).

    A verdict is written unless it repeats the latest one stored for the same comment id (a retry), so a
    decision reversed and reversed back is stored three times and the last line holds what the moderator
    decided last. Every append holds an exclusive ``flock`` and first reads what other processes appended
    since, so all workers share one view of the latest verdicts, rebuilt from the file at start-up; a line is
    flushed and fsync'ed before ``add`` returns, so an answered request is never lost.
    """

    def __init__(self, directory: str | os.PathLike):
        self.path = Path(directory) / LABELS_FILE
        self._lock = threading.Lock()
        self._latest: dict[str, str] = {}  # comment id -> its latest verdict
        self._offset = 0
        self._torn = False  # the file ends in a partial line (a crash mid-write): start ours on a new line
        created = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._locked() as handle:
            self._catch_up(handle)
        if created:
            _fsync_dir(self.path.parent)

    def __len__(self) -> int:
        return len(self._latest)

    def add(self, record: dict) -> bool:
        """Append ``record`` durably unless it repeats its comment's latest verdict; True when written."""
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._locked() as handle:
            self._catch_up(handle)
            if self._latest.get(record["id"]) == verdict(record):
                return False
            handle.write((("\n" if self._torn else "") + line).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
            self._offset = handle.tell()
            self._torn = False
            self._latest[record["id"]] = verdict(record)
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
            with contextlib.suppress(ValueError, AttributeError, KeyError, TypeError):  # a torn or hand-edited line
                record = json.loads(line)
                self._latest[record["id"]] = verdict(record)
        self._offset += len(data)
        self._torn = self._torn if not data else not data.endswith(b"\n")


def _fsync_dir(directory: Path) -> None:
    """Make a new file's directory entry durable too."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
