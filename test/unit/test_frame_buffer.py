"""Frame hand-off: nearest-stamp lookup for init, newest-frame-wins mailbox, and the books on every frame."""

from __future__ import annotations

import threading
import time

import pytest

from jcat_ros.frame_buffer import BAD, PROCESSED, Frame, FrameCounts, FrameHistory, LatestFrame


def frame(stamp_ns: int, sequence: int | None = None) -> Frame:
    return Frame(stamp_ns=stamp_ns, msg=f"msg@{stamp_ns}", received_ns=stamp_ns + 5,
                 sequence=stamp_ns if sequence is None else sequence)


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
    assert history.newer_than(frames[0]) == frames[1:]  # no longer held: every kept frame came after it
    shared = FrameHistory(capacity=5)  # equal stamps (a sim-time clock tick): arrival order decides
    same = [frame(7, sequence=n) for n in (1, 2, 3)]
    for f in same:
        shared.add(f)
    assert shared.newer_than(same[0]) == same[1:] and shared.nearest(7) is same[2]
    with pytest.raises(ValueError, match="capacity must be >= 1"):
        FrameHistory(0)


def test_mailbox_keeps_only_the_newest_frame_and_counts_the_replaced_ones() -> None:
    box = LatestFrame()
    for t in range(1, 6):
        box.put(frame(t))
    assert box.counts() == FrameCounts(received=5, dropped=4, queued=1)
    taken = box.take(timeout=0.1)
    assert taken.stamp_ns == 5 and box.dropped == 4
    assert box.counts() == FrameCounts(received=5, dropped=4, in_progress=1)
    box.settle(taken, PROCESSED)
    assert box.counts() == FrameCounts(received=5, processed=1, dropped=4) and box.counts().balanced
    assert box.take(timeout=0.05) is None  # nothing pending: times out


def test_every_frame_counts_once_whatever_happens_to_it() -> None:
    box = LatestFrame()
    frames = [frame(t) for t in range(1, 9)]
    box.put(frames[0])
    box.settle(box.take(timeout=0.1), BAD)  # could not be converted
    box.reject()  # a message that never became a frame
    for f in frames[1:4]:
        box.put(f)  # 2 and 3 replaced by 4
    box.release(box.take(timeout=0.1))  # 4 taken and not used: dropped
    box.put(frames[4])
    # An init catch-up re-tracks 2..5: the dropped 2 and 3 are published after all, the pending 5 leaves the mailbox.
    for f in frames[1:5]:
        box.settle(f, PROCESSED)
    assert box.counts() == FrameCounts(received=6, processed=4, bad=2)
    assert box.take(timeout=0.05) is None
    box.release(frames[4])  # already decided: releasing it changes nothing
    assert box.counts() == FrameCounts(received=6, processed=4, bad=2) and box.counts().balanced
    box.put(frames[5])
    box.reopen()  # a new activation counts from zero
    assert box.counts() == FrameCounts()


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
