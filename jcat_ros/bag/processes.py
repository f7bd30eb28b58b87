"""Child processes for the demo and `jcat-bag replay --start-node`: each in its own process group, all stopped
(Ctrl-C first, then SIGKILL to the group) on exit, so nothing is left running."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class Processes:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir, self.children = env, log_dir, []

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("w")
        child = subprocess.Popen(command, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        self.children.append(child)
        return child

    def stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.send_signal(signal.SIGINT)  # Ctrl-C to the leader only: ros2 launch forwards it once
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()


def tracker_command(image: str, weights: str, device: str = "auto", transport: str = "raw",
                    use_sim_time: bool = False) -> tuple[list[str], str]:
    """How a user starts the tracker node (`ros2 launch` where it exists, else the node executable with the same
    parameter file) and that command as they would type it."""
    sim = "true" if use_sim_time else "false"
    if shutil.which("ros2"):
        command = ["ros2", "launch", "jcat_ros", "tracker.launch.py", f"image:={image}", f"weights:={weights}",
                   f"device:={device}", f"transport:={transport}", f"use_sim_time:={sim}"]
        return command, " ".join(command)
    command = [sys.executable, "-m", "jcat_ros.tracker_node", "--ros-args", "--params-file",
               str(REPO / "config" / "tracker.yaml"), "-r", f"image:={image}", "-r", f"image/compressed:={image}"
               "/compressed", "-p", f"weights:={weights}", "-p", f"device:={device}", "-p",
               f"image_transport:={transport}", "-p", f"use_sim_time:={sim}"]
    return command, "tracker_node " + " ".join(command[3:])
