"""Frame hand-off between the image callback and the tracking worker.

`FrameHistory` keeps the last few frames so an init box drawn on an older frame is applied to that frame;
`LatestFrame` is a one-slot mailbox: the worker always gets the newest frame, and frames replaced before the
worker took them are counted as dropped, never queued.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Frame:
    """A received camera message, kept unconverted until it is used."""

    stamp_ns: int  # header.stamp in nanoseconds
    msg: Any  # sensor_msgs/Image or CompressedImage
    received_ns: int  # node clock time of arrival


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
        for index, candidate in enumerate(frames):
            if candidate is frame:
                return frames[index + 1 :]
        return []


class LatestFrame:
    """One pending frame for the worker; putting a frame over an untaken one counts a drop."""

    def __init__(self) -> None:
        self._frame: Frame | None = None
        self._dropped = 0
        self._closed = False
        self._cond = threading.Condition()

    @property
    def dropped(self) -> int:
        with self._cond:
            return self._dropped

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self._dropped += 1
            self._frame = frame
            self._cond.notify()

    def discard(self) -> None:
        """Forget the pending frame without counting it (e.g. it was already used by an init request)."""
        with self._cond:
            self._frame = None

    def take(self, timeout: float) -> Frame | None:
        """The pending frame, waiting up to `timeout` seconds; None on timeout or after close()."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout=timeout)
            frame, self._frame = self._frame, None
            return None if self._closed else frame

    def close(self) -> None:
        """Wake the worker so it can exit."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
            self._frame = None
