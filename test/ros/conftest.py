"""Fixtures for tests that start real ROS 2 processes: an isolated DDS domain per test."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ros_env() -> dict[str, str]:
    """Environment for child processes: a random domain id, discovery kept on this host."""
    env = dict(os.environ)
    env["ROS_DOMAIN_ID"] = str(random.randint(1, 100))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def spawn(ros_env: dict[str, str], tmp_path: Path) -> Iterator:
    """Start Python module processes in the test's domain; all of them are stopped at the end of the test.
    stdout is a pipe (for handshakes); stderr, where ROS logs go, is a file, so a chatty child never blocks on a
    full pipe. The logs are printed when the test fails."""
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        log = tmp_path / f"process_{len(procs)}.log"
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=REPO, env=ros_env, text=True,
            stdout=subprocess.PIPE, stderr=log.open("w"),
        )
        proc.log_path = log
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        print(f"--- {' '.join(proc.args[1:4])} (exit {proc.poll()}) ---\n{proc.log_path.read_text()[-4000:]}")
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def probe(ros_env: dict[str, str]) -> Iterator:
    """jcat_ros.probe.Probe in the test's domain: records topics and calls services from the test process."""
    from jcat_ros.probe import Probe

    node = Probe("test_probe", int(ros_env["ROS_DOMAIN_ID"]))
    yield node
    node.close()
