"""The README's first command, shortened. scripts/demo.sh is scripts/setup.sh (tested in test_setup_script.py)
followed by `python -m jcat_ros.demo "$@"`, which is what runs here: a demo bag, the node through ros2 launch,
the bag replayed into it, ~/init with init_client, and the report."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from jcat_core.models.checkpoint import default_weights_path

pytestmark = [pytest.mark.ros, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
FRAMES = 40
SHORT = ["--frames", str(FRAMES), "--width", "320", "--height", "240"]  # weights: the demo's own choice
DEMO_WEIGHTS_IOU_FLOOR = 0.7  # the project's demo weights on the clean synthetic sequence (0.865 at 640x480)


def test_demo_replays_its_bag_into_the_node_and_writes_the_report(ros_env, tmp_path) -> None:
    result = subprocess.run([sys.executable, "-m", "jcat_ros.demo", *SHORT, "--out", str(tmp_path)],
                            cwd=REPO, env=ros_env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    published = default_weights_path()  # the demo prefers the published weights when a user has them
    assert ("JcatNet.pth.tar" if published.is_file() else "the project's demo weights") in result.stdout
    assert "ros2 launch jcat_ros tracker.launch.py" in result.stdout
    assert "$ ros2 run jcat_ros init_client --box" in result.stdout and "tracking 'demo'" in result.stdout
    assert "mean IoU / mask IoU" in result.stdout and "time lost" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    system = report["system"]
    assert report["mode"] == "replay" and report["frames"] == FRAMES
    assert system["frames_answered"] + system["frames_dropped"] == FRAMES  # every frame processed or counted dropped
    assert system["outputs"] > 0 and system["outputs_with_input_header"] == system["outputs"]
    assert report["accuracy"]["mean_iou"] >= DEMO_WEIGHTS_IOU_FLOOR
    assert report["states"]["time_lost_percent"] <= 10.0
    for name in ("iou_over_time.png", "latency_histogram.png", "success.png", "overlay.mp4", "tracker.log"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert (tmp_path / "result_bag" / "metadata.yaml").is_file()

    again = subprocess.run([sys.executable, "-m", "jcat_ros.demo", *SHORT, "--out", str(tmp_path)],
                           cwd=REPO, env=ros_env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(made by an earlier run)" in again.stdout and "making the demo bag" not in again.stdout


def test_ctrl_c_stops_the_demo_and_every_process_it_started(ros_env, tmp_path) -> None:
    psutil = pytest.importorskip("psutil")
    demo = subprocess.Popen(
        [sys.executable, "-m", "jcat_ros.demo", "--frames", "400", "--width", "160", "--height", "120",
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
