"""benchmarks/soak.py's arithmetic, without ROS: the RSS slope, output gaps around the benchmark's own actions, and
the frame counters."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"
MS = 1_000_000


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("soak", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    yield module
    del sys.modules[spec.name]


def test_rss_slope_is_fitted_after_the_warm_up_in_mb_per_hour(bench) -> None:
    samples = [(0.0, 100.0), (10.0, 400.0)] + [(t, 500.0 + 2.0 * t / 3600) for t in range(60, 3600, 60)]
    slope, fitted = bench.rss_slope(samples, warmup_s=60)
    assert slope == pytest.approx(2.0) and fitted == 59
    assert bench.rss_slope(samples[:4], warmup_s=60) == (None, 2)


def test_gaps_count_after_tracking_only_and_not_around_the_benchmarks_actions(bench) -> None:
    def state(at_ms: int, state: int = bench.TRACKING, stale: bool = False):
        return bench.StateSample(at_ms * MS, at_ms * MS - MS, state, stale, at_ms * MS - 40 * MS, at_ms / 100)

    states = [state(0), state(70), state(400), state(450, stale=True), state(500), state(600, state=0), state(2000),
              state(2100), state(3000)]
    gaps = bench.tracking_gaps(states, windows=[(2900 * MS, 3100 * MS)])
    assert [round(g.seconds, 3) for g in gaps] == [0.07, 0.33, 0.1, 0.1, 0.1]  # not after IDLE, nor into the window
    assert gaps[1].published_s == pytest.approx(0.33) and gaps[1].frames_apart_s == pytest.approx(0.33)
    assert gaps[1].tracker_ms == 4.0  # the later state's


def test_the_camera_pause_is_the_longest_frame_interval_overlapping_a_gap(bench) -> None:
    frames = [0, 66 * MS, 133 * MS, 400 * MS, 466 * MS, 1000 * MS]
    assert bench.camera_pause_s(frames, 140 * MS, 300 * MS) == pytest.approx(0.267)
    assert bench.camera_pause_s(frames, 0, 100 * MS) == pytest.approx(0.067)


def test_a_gap_counts_as_camera_steady_only_when_the_camera_never_paused_over_one_and_a_half_periods(bench) -> None:
    period = 0.0667
    camera = [round(i * 66.7 * MS) for i in range(10)] + [round((9 * 66.7 + 300) * MS)]  # a 300 ms pause at the end
    node_late = bench.Gap(0.25, 100 * MS, 0.25, 0.067, 240.0)  # 100-350 ms: frames every 66.7 ms throughout
    camera_late = bench.Gap(0.40, 550 * MS, 0.40, 0.067, 20.0)  # 550-950 ms: holds the camera's 300 ms pause
    assert bench.camera_steady(node_late, camera, period)
    assert not bench.camera_steady(camera_late, camera, period)
    assert bench.steady_text([3.5, 1.0]).endswith("the longest gap was 3.50 periods, in 2 gaps")


def test_a_gap_gets_its_frames_cpu_time_from_the_next_diagnostics_when_it_was_the_periods_slowest(bench) -> None:
    gap = bench.Gap(0.25, 1000 * MS, 0.25, 0.067, 240.0)  # ends at 1250 ms
    diag = [bench.DiagSample(900 * MS, {"track_max_ms": "240.0", "track_max_cpu_ms": "1.0"}),  # before the gap
            bench.DiagSample(1300 * MS, {"track_max_ms": "240.0", "track_max_cpu_ms": "80.5"})]
    assert bench.tracker_cpu_ms(gap, diag) == 80.5
    assert bench.tracker_cpu_ms(gap, [bench.DiagSample(1300 * MS, {"track_max_ms": "260.0",
                                                                   "track_max_cpu_ms": "90.0"})]) is None
    assert bench.tracker_cpu_ms(gap, diag[:1]) is None and bench.cpu_share(80.5) == " (80 ms of them on the CPU)"


def test_the_invariant_counts_waiting_frames_and_run_totals_add_up_each_activation(bench) -> None:
    def sample(received: int, processed: int, dropped: int, **more: str):
        values = {"frames_received": str(received), "frames_processed": str(processed),
                  "frames_dropped": str(dropped), **more}
        return bench.Balance.of(bench.DiagSample(0, values), 0)

    assert sample(10, 8, 1, frames_queued="1").holds
    assert not sample(10, 8, 3).holds  # processed + dropped beyond received
    assert not sample(12, 8, 1, frames_queued="2", frames_in_progress="1").holds  # two waiting: not one mailbox
    assert sample(10, 9, 1).holds  # frames_queued not reported: read as 0
    totals = bench.run_totals([sample(10, 9, 1), sample(30, 25, 5), sample(4, 4, 0), sample(20, 18, 2)])
    assert totals == {"received": 50, "processed": 43, "dropped": 7, "bad": 0}
