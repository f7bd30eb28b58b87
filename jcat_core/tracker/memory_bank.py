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
        self.last_added = 1  # the initial frame counts as the last addition

    def due(self, frame: int, hard_negative: bool) -> bool:
        """Whether frame ``frame`` (1 = initial) adds a sample, given a DCF or segmentation hard negative.

        Hard negative: when at least ``bank_hard_negative_gap`` frames passed since the last addition. Otherwise
        every frame from 2 to ``bank_every_frame_until``, then every frame divisible by ``bank_interval``."""
        p = self.params
        if p.bank_capacity == 0:
            return False
        if hard_negative:
            return frame - self.last_added >= p.bank_hard_negative_gap
        return 2 <= frame <= p.bank_every_frame_until or frame % p.bank_interval == 0

    def add(self, entry: Any, frame: int) -> None:
        self.entries.append(entry)
        self.last_added = frame

    def __len__(self) -> int:
        return len(self.entries)
