"""benchmarks/ros_latency.py's default publish rate: the one-frame mailbox simulation behind its drop-free rate."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "ros_latency.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("ros_latency", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    yield module
    del sys.modules[spec.name]


def test_one_slow_frame_drops_one_when_two_frames_arrive_during_it(bench) -> None:
    # at 20 ms a frame: a 45 ms frame (40..85) sees frames at 60 (waits) and 80 (replaces it); 39 ms (40..79) none
    assert bench.mailbox_drops((10, 10, 45, 10, 10, 10), 20) == 1
    assert bench.mailbox_drops((10, 10, 39, 10, 10, 10), 20) == 0
    assert bench.mailbox_drops((10,) * 20, 20) == 0
    assert bench.mailbox_drops((10,) * 20, 9) > 0  # slower than the camera: it falls behind and drops


def test_the_drop_free_rate_is_below_the_mean_rate_when_some_frames_are_slow(bench) -> None:
    times = (20.0,) * 9 + (100.0,)  # a refresh-like slow frame every 10th
    local = bench.InProcess(bench.Summary.of(list(times)), sum(times) / len(times), times * 5)
    assert local.sustainable_fps == pytest.approx(1000 / 28)
    assert local.drop_free_fps < local.sustainable_fps
    assert bench.mailbox_drops(local.times_ms, 1000 / local.drop_free_fps) == 0
    assert bench.mailbox_drops(local.times_ms, 1000 / (local.drop_free_fps * 1.05)) > 0


def test_the_overhead_pairs_each_frame_with_its_time_outside_the_tracker_in_process(bench) -> None:
    # frames after a slow one wait behind it in both paths; through ROS every frame spends 2 ms more outside the
    # tracker, and three quick ones are lost: the medians then differ by 22 ms (10 against 32), the frames by 2 ms
    in_process = {i: (50.0 if i % 3 == 0 else 10.0) for i in range(1, 10)}
    through_ros = {i: ms + 2.0 for i, ms in in_process.items() if i not in (1, 2, 4)}
    paced = bench.InProcessPaced(bench.Summary.of(list(in_process.values())), bench.Summary.of([]), 0, 10.0,
                                 in_process, ())
    result = bench.RosResult.failed("best_effort", "")
    result.outside_by_index = through_ros
    overhead = bench.paired_overhead(result, paced)
    assert bench.Summary.of(list(through_ros.values())).median - paced.latency.median == pytest.approx(22.0)
    assert overhead.count == 6
    assert overhead.median == pytest.approx(2.0)
    assert overhead.max == pytest.approx(2.0)
