"""Frame hand-off between the image input and the tracking worker, and the count of what became of each frame.

`FrameHistory` keeps the last few frames so an init box drawn on an older frame is applied to that frame;
`LatestFrame` is a one-slot mailbox: the worker always gets the newest frame, frames replaced before the worker
took them are dropped, never queued. The mailbox also keeps the books: every frame it is given ends in exactly one
of processed, dropped or bad, so received = processed + dropped + bad + queued + in progress at any moment.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

PROCESSED, DROPPED, BAD = "processed", "dropped", "bad"
OUTCOMES_KEPT = 1024  # decided frames remembered, so a re-tracked one (init catch-up) can move between outcomes


@dataclass(frozen=True)
class Frame:
    """A received camera message, kept unconverted until it is used."""

    stamp_ns: int  # header.stamp in nanoseconds
    msg: Any  # sensor_msgs/Image or CompressedImage
    received_ns: int  # node clock time of arrival (the ROS clock: sim time under use_sim_time)
    sequence: int = 0  # arrival order, 1, 2, ...: frames are ordered by it, never by a clock


@dataclass(frozen=True)
class FrameCounts:
    """What became of the frames given to a mailbox, read at one instant."""

    received: int = 0
    processed: int = 0
    dropped: int = 0  # replaced by a newer frame before the worker was free
    bad: int = 0  # could not be used (conversion failed, the tracker refused it, a receive error)
    queued: int = 0  # waiting for the worker (0 or 1)
    in_progress: int = 0  # being tracked now (0 or 1)

    @property
    def balanced(self) -> bool:
        return self.received == self.processed + self.dropped + self.bad + self.queued + self.in_progress


class FrameHistory:
    """The last `capacity` frames in arrival order, looked up by stamp."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"frame history capacity must be >= 1, got {capacity}")
        self._frames: deque[Frame] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    def add(self, frame: Frame) -> None:
        with self._lock:
            self._frames.append(frame)

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()

    def newest(self) -> Frame | None:
        with self._lock:
            return self._frames[-1] if self._frames else None

    def nearest(self, stamp_ns: int) -> Frame | None:
        """The frame whose stamp is closest to `stamp_ns` (the newest one on ties); None when empty."""
        with self._lock:
            frames = list(self._frames)
        if not frames:
            return None
        return min(reversed(frames), key=lambda f: abs(f.stamp_ns - stamp_ns))

    def newer_than(self, frame: Frame) -> list[Frame]:
        """Frames that arrived after `frame`, oldest first (to catch up after initialising on it)."""
        with self._lock:
            frames = list(self._frames)
        return [candidate for candidate in frames if candidate.sequence > frame.sequence]


class LatestFrame:
    """One pending frame for the worker, and the outcome of every frame put into it."""

    def __init__(self) -> None:
        self._frame: Frame | None = None
        self._taken: Frame | None = None  # taken by the worker, outcome not yet known
        self._outcomes: OrderedDict[int, str] = OrderedDict()  # sequence -> outcome, the newest OUTCOMES_KEPT
        self._totals = {PROCESSED: 0, DROPPED: 0, BAD: 0}
        self._received = 0
        self._closed = False
        self._cond = threading.Condition()

    @property
    def dropped(self) -> int:
        with self._cond:
            return self._totals[DROPPED]

    def counts(self) -> FrameCounts:
        with self._cond:
            return FrameCounts(self._received, self._totals[PROCESSED], self._totals[DROPPED], self._totals[BAD],
                               int(self._frame is not None), int(self._taken is not None))

    def put(self, frame: Frame) -> None:
        with self._cond:
            self._received += 1
            if self._frame is not None:
                self._decide(self._frame.sequence, DROPPED)
            self._frame = frame
            self._cond.notify()

    def reject(self) -> None:
        """Count a message that arrived but never became a frame (it could not be received) as bad."""
        with self._cond:
            self._received += 1
            self._totals[BAD] += 1

    def take(self, timeout: float) -> Frame | None:
        """The pending frame, waiting up to `timeout` seconds; None on timeout or after close(). It counts as in
        progress until the caller reports what became of it with `settle` or `release`."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout=timeout)
            if self._closed:
                return None
            frame, self._frame = self._frame, None
            self._taken = frame
            return frame

    def settle(self, frame: Frame, outcome: str) -> None:
        """What became of `frame`: processed or bad. Counts once per frame: a pending frame used directly (re-tracked
        after an init) leaves the mailbox, and a dropped one that is published after all moves to processed."""
        with self._cond:
            if self._frame is not None and self._frame.sequence == frame.sequence:
                self._frame = None
            if self._taken is frame:
                self._taken = None
            self._decide(frame.sequence, outcome)

    def release(self, frame: Frame) -> None:
        """The worker took `frame` and will not use it: counted as dropped unless already decided."""
        with self._cond:
            if self._taken is frame:
                self._taken = None
            if frame.sequence not in self._outcomes:
                self._decide(frame.sequence, DROPPED)

    def _decide(self, sequence: int, outcome: str) -> None:
        previous = self._outcomes.pop(sequence, None)
        if previous is not None:
            self._totals[previous] -= 1
        self._totals[outcome] += 1
        self._outcomes[sequence] = outcome
        while len(self._outcomes) > OUTCOMES_KEPT:
            self._outcomes.popitem(last=False)

    def close(self) -> None:
        """Wake the worker so it can exit."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        """Open for a new activation: no pending frame, counts from zero."""
        with self._cond:
            self._closed = False
            self._frame = self._taken = None
            self._outcomes.clear()
            self._totals = dict.fromkeys(self._totals, 0)
            self._received = 0
