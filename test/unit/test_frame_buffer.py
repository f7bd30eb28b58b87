"""Frame hand-off: nearest-stamp lookup for init, newest-frame-wins mailbox with drop counting."""

from __future__ import annotations

import threading
import time

import pytest

from jcat_ros.frame_buffer import Frame, FrameHistory, LatestFrame


def frame(stamp_ns: int) -> Frame:
    return Frame(stamp_ns=stamp_ns, msg=f"msg@{stamp_ns}", received_ns=stamp_ns + 5)


def test_history_finds_the_frame_nearest_a_stamp_and_the_frames_after_it() -> None:
    history = FrameHistory(capacity=3)
    assert history.nearest(0) is None and history.newest() is None
    frames = [frame(t) for t in (100, 200, 300, 400)]
    for f in frames:
        history.add(f)
    assert history.newest() is frames[-1]
    assert history.nearest(0) is frames[1]  # 100 fell out of the 3-frame history
    assert history.nearest(260) is frames[2]
    assert history.nearest(350) is frames[3]  # tie between 300 and 400: the newer one
    assert history.nearest(10**12) is frames[3]
    assert history.newer_than(frames[1]) == frames[2:]
    assert history.newer_than(frames[3]) == []
    assert history.newer_than(frames[0]) == []  # no longer held
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        FrameHistory(0)


def test_mailbox_keeps_only_the_newest_frame_and_counts_the_replaced_ones() -> None:
    box = LatestFrame()
    for t in range(5):
        box.put(frame(t))
    assert box.take(timeout=0.1).stamp_ns == 4
    assert box.dropped == 4
    assert box.take(timeout=0.05) is None  # nothing pending: times out
    box.put(frame(9))
    box.discard()
    assert box.take(timeout=0.05) is None and box.dropped == 4


def test_mailbox_wakes_a_waiting_worker_and_close_releases_it() -> None:
    box = LatestFrame()
    got: list[object] = []
    worker = threading.Thread(target=lambda: got.append(box.take(timeout=5)))
    worker.start()
    time.sleep(0.05)
    box.put(frame(1))
    worker.join(timeout=2)
    assert got and got[0].stamp_ns == 1

    waiting = threading.Thread(target=lambda: got.append(box.take(timeout=30)))
    started = time.monotonic()
    waiting.start()
    box.close()
    waiting.join(timeout=2)
    assert not waiting.is_alive() and got[-1] is None and time.monotonic() - started < 2
    box.reopen()
    box.put(frame(2))
    assert box.take(timeout=0.1).stamp_ns == 2
