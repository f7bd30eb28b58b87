"""The README's first command, shortened: the demo runs the camera and tracker processes and writes its report."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def test_demo_tracks_the_synthetic_target_and_writes_its_summary(ros_env, tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jcat_ros.demo", "--frames", "48", "--width", "320", "--height", "240",
         "--weights", "standin", "--out", str(tmp_path)],
        cwd=REPO, env=ros_env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tracking 'demo'" in result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["weights"] == "standin"
    assert summary["frames_processed"] >= 15
    assert summary["frames_processed"] <= 48  # never more results than camera frames (each frame tracked once)
    assert summary["frames_seen"] <= 48
    assert summary["mean_iou"] >= 0.8  # colour-key stand-in on the clean sequence (0.98 measured)
    assert summary["time_lost_percent"] <= 10.0
    assert (tmp_path / "tracker.log").exists() and (tmp_path / "camera.log").exists()


def test_ctrl_c_stops_the_demo_and_every_process_it_started(ros_env, tmp_path) -> None:
    psutil = pytest.importorskip("psutil")
    demo = subprocess.Popen(
        [sys.executable, "-m", "jcat_ros.demo", "--frames", "400", "--width", "320", "--height", "240",
         "--weights", "standin", "--out", str(tmp_path)],
        cwd=REPO, env=ros_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines = []
    for line in demo.stdout:
        lines.append(line)
        if "tracking 'demo'" in line:
            break
    assert any("tracking 'demo'" in line for line in lines), "".join(lines)
    demo.send_signal(signal.SIGINT)
    assert demo.wait(timeout=60) == 130
    assert "[demo] interrupted" in demo.stdout.read()

    def in_this_domain(process) -> bool:
        try:
            return process.environ().get("ROS_DOMAIN_ID") == ros_env["ROS_DOMAIN_ID"]
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False

    left = [p.cmdline() for p in psutil.process_iter() if p.pid != demo.pid and in_this_domain(p)]
    assert left == []
