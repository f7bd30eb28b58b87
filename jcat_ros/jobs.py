"""Work that service threads hand to the tracker's worker thread, so the tracker is only ever touched by one thread.

A job runs once or never: a caller that stops waiting cancels it, and a cancelled job is skipped, not run later.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

PENDING, RUNNING, CANCELLED = "pending", "running", "cancelled"


@dataclass
class Job:
    """One piece of work for the worker and its (success, message) result."""

    run: Callable[[], tuple[bool, str]]
    done: threading.Event = field(default_factory=threading.Event)
    result: tuple[bool, str] = (False, "not run")
    status: str = PENDING
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self) -> bool:
        """For the worker: True if the job is to run now (it was not cancelled)."""
        with self._lock:
            if self.status != PENDING:
                return False
            self.status = RUNNING
            return True

    def cancel(self) -> bool:
        """For the caller: True if the job will never run; False if it has started (wait for it then)."""
        with self._lock:
            if self.status == PENDING:
                self.status = CANCELLED
            return self.status == CANCELLED

    def finish(self, result: tuple[bool, str]) -> None:
        self.result = result
        self.done.set()


class JobQueue:
    """Jobs waiting for the worker, in order."""

    def __init__(self) -> None:
        self._jobs: collections.deque[Job] = collections.deque()

    def submit(self, run: Callable[[], tuple[bool, str]], timeout: float) -> tuple[bool, str]:
        """Queue `run` and wait for its result; after `timeout` s a job not yet started is cancelled and refused."""
        job = Job(run)
        self._jobs.append(job)
        if job.done.wait(timeout):
            return job.result
        if job.cancel():
            return False, (f"the tracker was busy for {timeout:.0f} s and the request was cancelled without being "
                           "applied; try again")
        job.done.wait()  # started just now: its result is on the way
        return job.result

    def run_pending(self, run_job: Callable[[Job], tuple[bool, str]]) -> None:
        """Run every queued job that was not cancelled, in order (worker thread)."""
        while self._jobs:
            job = self._jobs.popleft()
            if job.claim():
                job.finish(run_job(job))

    def refuse_pending(self, reason: str) -> None:
        """Answer every queued job with a refusal, so no caller waits for a worker that has stopped."""
        while self._jobs:
            job = self._jobs.popleft()
            if job.claim():
                job.finish((False, reason))
