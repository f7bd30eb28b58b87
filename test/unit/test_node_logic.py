"""The tracker node's ROS-free parts: service jobs that run once or never, the stale-input watch, init checks."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from jcat_ros.init_checks import MAX_TARGET_ID_CHARS, init_request_problem
from jcat_ros.input_watch import InputWatch
from jcat_ros.jobs import JobQueue


def test_a_job_that_times_out_is_cancelled_and_never_runs() -> None:
    queue, ran = JobQueue(), []
    started = time.monotonic()
    assert queue.submit(lambda: ran.append("late") or (True, ""), timeout=0.1)[0] is False  # nobody runs jobs
    assert time.monotonic() - started < 2
    queue.run_pending(lambda job: job.run())  # the worker gets to the queue afterwards
    assert ran == []


def test_a_job_that_started_before_the_timeout_is_waited_for() -> None:
    queue, release = JobQueue(), threading.Event()

    def slow() -> tuple[bool, str]:
        release.wait(5)
        return True, "done"

    def worker() -> None:
        while not queue._jobs:
            time.sleep(0.001)
        queue.run_pending(lambda job: job.run())

    thread = threading.Thread(target=worker)
    thread.start()
    threading.Timer(0.3, release.set).start()
    assert queue.submit(slow, timeout=0.1) == (True, "done")  # started in time: its result, not a timeout
    thread.join(5)


def test_queued_jobs_are_refused_when_the_worker_stops() -> None:
    queue, answers = JobQueue(), []
    caller = threading.Thread(target=lambda: answers.append(queue.submit(lambda: (True, ""), timeout=5)))
    caller.start()
    while not queue._jobs:
        time.sleep(0.001)
    queue.refuse_pending("node was deactivated")
    caller.join(5)
    assert answers == [(False, "node was deactivated")]


def test_stale_input_is_reported_with_its_reason() -> None:
    watch = InputWatch()
    watch.start(now=100.0)
    assert watch.problem(1.0, "/cam", "", now=100.5) == ""
    assert watch.problem(1.0, "/cam", "", now=101.5) == "no frame received on /cam in 1.5 s"
    watch.frame_arrived(now=102.0)
    watch.frame_used(now=102.0)
    assert watch.problem(1.0, "/cam", "", now=102.9) == ""
    assert watch.problem(1.0, "/cam", "", now=104.0) == "no frame on /cam for 2.0 s"
    watch.frame_arrived(now=104.1)
    assert watch.problem(1.0, "/cam", "", now=105.0) == ""  # arriving, not yet used: a busy worker is not stale
    for t in (104.6, 105.1):  # frames keep coming, the ones used are bad
        watch.frame_arrived(now=t)
        watch.frame_bad(now=t + 0.01)
    assert watch.problem(1.0, "/cam", "bad encoding 'yuv9'", now=105.2) == (
        "frames arrive on /cam but none could be used for 3.2 s: bad encoding 'yuv9'")
    watch.frame_used(now=105.3)
    assert watch.problem(1.0, "/cam", "", now=105.4) == ""


def request(cx=50.0, cy=40.0, w=20.0, h=10.0, sec=0, nanosec=0, target_id="") -> SimpleNamespace:
    box = SimpleNamespace(center=SimpleNamespace(position=SimpleNamespace(x=cx, y=cy)), size_x=w, size_y=h)
    return SimpleNamespace(box=box, stamp=SimpleNamespace(sec=sec, nanosec=nanosec), target_id=target_id)


def test_init_requests_are_checked_before_anything_is_touched() -> None:
    assert init_request_problem(request()) == ""
    assert "non-finite" in init_request_problem(request(w=float("nan")))
    assert "degenerate" in init_request_problem(request(h=0.0))
    assert "nanosec must be in [0, 1e9)" in init_request_problem(request(nanosec=1_000_000_000))
    assert "must not be negative" in init_request_problem(request(sec=-1))
    assert init_request_problem(request(target_id="x" * MAX_TARGET_ID_CHARS)) == ""
    assert "at most 256" in init_request_problem(request(target_id="x" * (MAX_TARGET_ID_CHARS + 1)))
    assert "printable" in init_request_problem(request(target_id="cup\n"))
