"""The ROS latency benchmarks run end to end on a short sequence and report what they promise: every way or
reliability with frames received and a verdict line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("rclpy")
pytestmark = [pytest.mark.ros, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def run(script: str, *args: str, env: dict[str, str], timeout: float) -> str:
    result = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_image_hop_reports_each_malloc_setting_and_frame_taker(ros_env: dict[str, str]) -> None:
    out = run("image_hop.py", "--width", "320", "--height", "240", "--frames", "40", "--rate", "40",
              "--warmup", "5", env=ros_env, timeout=300)
    ways = r"malloc defaults, executor|buffers kept, executor|buffers kept, own thread"
    rows = {m.group(1): (int(m.group(2)), float(m.group(3))) for m in
            re.finditer(rf"^({ways})\s+(\d+)\s+([\d.]+)", out, re.M)}
    assert set(rows) == set(ways.split("|")), out
    for received, median_ms in rows.values():
        assert received >= 30 and 0 < median_ms < 1000, out


def test_ros_latency_splits_the_idle_path_and_gives_a_verdict(ros_env: dict[str, str]) -> None:
    out = run("ros_latency.py", "--reliability", "best_effort", "--frames", "30", "--idle-frames", "10",
              "--idle-warmup", "3", "--rate", "5", "--width", "320", "--height", "240", env=ros_env, timeout=600)
    assert "malloc keeps freed buffers" in out
    idle = re.search(r"ROS path alone: stamp -> IDLE ~/state \[ms\]\s+([\d.]+)", out)
    node = re.search(r"stamp -> the node's publish \(its latency_ms\)\s+([\d.]+)", out)
    assert idle and node, out
    assert 0 < float(node.group(1)) <= float(idle.group(1)), "the node publishes before the state arrives here"
    paced = re.search(r"in-process at that rate: stamp -> track\(\) returned\s+([\d.]+)", out)
    e2e = re.search(r"stamp -> ~/state in the recorder's callback \(e2e\)\s+([\d.]+)", out)
    of_medians = re.search(r"  median e2e - median in-process \[ms\]\s+(-?[\d.]+)", out)
    frame_by_frame = re.search(r"ROS overhead: time outside the tracker \[ms\]\s+(-?[\d.]+)", out)
    node_tracker = re.search(r"the node's track\(\) \(TrackerState.tracker_ms\) \[ms\]\s+([\d.]+)", out)
    assert paced and e2e and of_medians and frame_by_frame and node_tracker, out
    assert 0 < float(node_tracker.group(1)) < float(e2e.group(1)), out
    assert float(paced.group(1)) > 0
    assert float(of_medians.group(1)) == pytest.approx(float(e2e.group(1)) - float(paced.group(1)), abs=0.011), out
    assert -float(paced.group(1)) < float(frame_by_frame.group(1)) < float(e2e.group(1)), out
    assert re.search(r"^VERDICT \[best_effort\]: (PASS|FAIL|INCONCLUSIVE): ", out, re.M), out
