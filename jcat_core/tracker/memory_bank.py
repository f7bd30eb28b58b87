"""The segmentation memory bank: which frames add a sample, and the bounded store (oldest evicted)."""

from __future__ import annotations

from collections import deque
from typing import Any

from jcat_core.tracker.params import TrackerParams


class MemoryBank:
    """Up to ``bank_capacity`` (features, mask) entries, added on JCAT's schedule."""

    def __init__(self, params: TrackerParams) -> None:
        self.params = params
        self.entries: deque[Any] = deque(maxlen=params.bank_capacity)
        self.last_update = 0  # the frame of the last attempt to add (0: none yet; the initial frame is 1)

    def due(self, frame: int, hard_negative: bool) -> bool:
        """Whether frame ``frame`` (1 = initial) tries to add a sample, given a DCF or segmentation hard negative.

        As published: on a hard negative, when at least ``bank_hard_negative_gap`` frames passed since the last
        attempt (and not otherwise, even if the schedule would); without one, on every frame up to
        ``bank_every_frame_until`` and then when at least ``bank_interval`` frames passed (``bank_on_schedule``)."""
        p = self.params
        gap = frame - self.last_update
        if p.bank_capacity == 0:
            return False
        if hard_negative:
            return gap >= p.bank_hard_negative_gap
        return p.bank_on_schedule and (frame <= p.bank_every_frame_until or gap >= p.bank_interval)

    def attempted(self, frame: int) -> None:
        """Frame ``frame`` tried to add a sample (whether or not its crop held a target)."""
        self.last_update = frame

    def add(self, entry: Any) -> None:
        self.entries.append(entry)

    def __len__(self) -> int:
        return len(self.entries)
