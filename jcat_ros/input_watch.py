"""Whether the camera input is alive: when the last frame arrived, and whether only bad frames came since the last
usable one, on a monotonic clock. A worker busy for a long time (a slow init) is not stale input.

The node checks it on a wall-clock timer, so a stopped camera is noticed even under use_sim_time with no /clock.
"""

from __future__ import annotations

import threading
import time


class InputWatch:
    """Times of the last received, the last usable and the last bad frame since `start`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.start()

    def start(self, now: float | None = None) -> None:
        """Begin watching (activation): the input is judged from this moment on."""
        with self._lock:
            self._since = time.monotonic() if now is None else now
            self._last_frame: float | None = None
            self._last_good: float | None = None
            self._last_bad: float | None = None

    def frame_arrived(self, now: float | None = None) -> None:
        with self._lock:
            self._last_frame = time.monotonic() if now is None else now

    def frame_used(self, now: float | None = None) -> None:
        with self._lock:
            self._last_good = time.monotonic() if now is None else now

    def frame_bad(self, now: float | None = None) -> None:
        with self._lock:
            self._last_bad = time.monotonic() if now is None else now

    def problem(self, stale_after: float, topic: str, last_error: str, now: float | None = None) -> str:
        """Why the input is stale (no frame, or no usable frame, for more than `stale_after` s), or ''."""
        now = time.monotonic() if now is None else now
        with self._lock:
            since, last_frame, last_good, last_bad = self._since, self._last_frame, self._last_good, self._last_bad
        if last_frame is None:
            waited = now - since
            return f"no frame received on {topic} in {waited:.1f} s" if waited > stale_after else ""
        if now - last_frame > stale_after:
            return f"no frame on {topic} for {now - last_frame:.1f} s"
        good = since if last_good is None else last_good
        unusable = now - good
        if last_bad is not None and last_bad > good and unusable > stale_after:
            return f"frames arrive on {topic} but none could be used for {unusable:.1f} s: {last_error}"
        return ""
