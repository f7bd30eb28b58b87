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


class Probe:
    """A node in the test process (own context, the test's domain) that records topics and calls services."""

    def __init__(self, domain_id: int) -> None:
        import threading

        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.context = rclpy.Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node("test_probe", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.messages: dict[str, list] = {}
        self.clients: dict[str, object] = {}
        self._lock = threading.Lock()
        self.entities = threading.Lock()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        import time

        from rclpy.executors import ExternalShutdownException

        try:
            while self.context.ok():
                with self.entities:  # rclpy must not create entities while a wait set is being waited on
                    self.executor.spin_once(timeout_sec=0.02)
                time.sleep(0.001)
        except (ExternalShutdownException, RuntimeError):
            pass

    def record(self, msg_type: type, topic: str, qos=10) -> list:
        """Start recording `topic`; returns the (live) list its messages are appended to."""
        received = self.messages.setdefault(topic, [])

        def store(msg) -> None:
            with self._lock:
                received.append(msg)

        with self.entities:
            self.node.create_subscription(msg_type, topic, store, qos)
        return received

    def publisher(self, msg_type: type, topic: str, qos=10):
        with self.entities:
            return self.node.create_publisher(msg_type, topic, qos)

    def call(self, srv_type: type, name: str, request, timeout: float = 60.0):
        import time

        with self.entities:
            if name not in self.clients:
                self.clients[name] = self.node.create_client(srv_type, name)
            client = self.clients[name]
        assert client.wait_for_service(timeout_sec=timeout), f"service {name} did not appear"
        with self.entities:
            future = client.call_async(request)
        end = time.monotonic() + timeout
        while not future.done() and time.monotonic() < end:
            time.sleep(0.01)
        assert future.done(), f"no response from {name} within {timeout} s"
        return future.result()

    def wait_for(self, condition, timeout: float, what: str) -> None:
        import time

        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def probe(ros_env: dict[str, str]) -> Iterator[Probe]:
    node = Probe(int(ros_env["ROS_DOMAIN_ID"]))
    yield node
    node.close()
