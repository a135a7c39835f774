"""Forked worker processes that map a function over items in order, and stop cleanly on Ctrl-C or SIGTERM.

``multiprocessing.Pool`` feeds tasks from a background thread; interrupted at the wrong moment its terminate
can block forever on a pipe no worker reads, and every worker prints its own KeyboardInterrupt traceback.
Here the main process talks to each worker over its own pair of pipes, with one task in flight per worker, so
nothing can block once the workers are gone; workers ignore SIGINT (the main process decides) and are killed
when the main process stops for any reason.
"""

from __future__ import annotations

import multiprocessing
import signal
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any


class WorkerError(RuntimeError):
    """A worker failed (its traceback is the message) or died."""


def _serve(tasks, results, function: Callable[[Any], Any]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    while True:
        try:
            item = tasks.recv()
        except EOFError:  # the main process closed the pipe: no more work
            return
        try:
            results.send((True, function(item)))
        except Exception:  # noqa: BLE001 - sent back whole, raised in the main process
            results.send((False, traceback.format_exc()))


def ordered_map(function: Callable[[Any], Any], items: Iterable[Any], jobs: int) -> Iterator[Any]:
    """``function(item)`` for every item in ``jobs`` forked processes, yielded in input order.

    ``function`` and what it closes over reach the workers by fork, not by pickling (a loaded model is shared
    copy-on-write); items and results are pickled. Raises ``WorkerError`` when a worker fails.
    """
    context = multiprocessing.get_context("fork")
    workers = []
    try:
        for _ in range(jobs):
            task_read, task_write = context.Pipe(duplex=False)
            result_read, result_write = context.Pipe(duplex=False)
            process = context.Process(target=_serve, args=(task_read, result_write, function), daemon=True)
            process.start()
            task_read.close()
            result_write.close()
            workers.append((process, task_write, result_read))
        yield from _run(workers, iter(items))
    finally:
        for process, task_write, result_read in workers:
            task_write.close()
            if process.is_alive():
                process.kill()
            process.join()
            result_read.close()


def _run(workers: list, items: Iterator[Any]) -> Iterator[Any]:
    """One task in flight per worker; workers wait in the order their results are due, so results come back
    in input order. A worker gets its next item before its result is handed on, so it never waits for the
    caller."""
    due: deque = deque()
    for worker in workers:
        item = next(items, _DONE)
        if item is _DONE:
            break
        worker[1].send(item)
        due.append(worker)
    while due:
        process, task_write, result_read = worker = due.popleft()
        try:
            ok, result = result_read.recv()
        except EOFError:
            raise WorkerError(f"worker process {process.pid} died (exit code {process.exitcode})") from None
        if not ok:
            raise WorkerError(f"worker process failed:\n{result}")
        item = next(items, _DONE)
        if item is not _DONE:
            task_write.send(item)
            due.append(worker)
        yield result


_DONE = object()
