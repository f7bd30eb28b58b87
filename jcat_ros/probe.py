"""A node of one's own, spun in a background thread: records topics and calls services from plain Python code.

Used by the demo and the tests to drive the tracker node from outside, as a user's program would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions


class ProbeTimeoutError(TimeoutError):
    """A service or a message did not come in time."""


class Probe:
    """Own context (so it can live beside other rclpy users in the process), own domain id if given."""

    def __init__(self, name: str = "jcat_probe", domain_id: int | None = None) -> None:
        self.context = rclpy.Context()
        # No rclpy signal handlers: Ctrl-C stays a KeyboardInterrupt in the caller's thread, so programs that
        # use a probe can clean up (stop their child processes) instead of having their context shut under them.
        rclpy.init(context=self.context, domain_id=domain_id, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.clients: dict[str, object] = {}
        self._store_lock = threading.Lock()
        self._entities = threading.Lock()  # rclpy must not create entities while a wait set is being waited on
        self._thread = threading.Thread(target=self._spin, name=f"{name}_spin", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            while self.context.ok():
                with self._entities:
                    self.executor.spin_once(timeout_sec=0.02)
                time.sleep(0.001)
        except (ExternalShutdownException, RuntimeError):
            pass  # the context was shut down: the probe is closing

    def record(self, msg_type: type, topic: str, qos=10, with_receipt: bool = False) -> list:
        """Start recording `topic`; returns the live list its messages are appended to, as (receipt time in
        wall-clock ns, message) pairs with `with_receipt` (for end-to-end latencies)."""
        received: list = []

        def store(msg) -> None:
            item = (time.time_ns(), msg) if with_receipt else msg
            with self._store_lock:
                received.append(item)

        with self._entities:
            self.node.create_subscription(msg_type, topic, store, qos)
        return received

    def publisher(self, msg_type: type, topic: str, qos=10):
        with self._entities:
            return self.node.create_publisher(msg_type, topic, qos)

    def call(self, srv_type: type, name: str, request, timeout: float = 60.0):
        """The service's response; ProbeTimeoutError when it does not appear or answer within `timeout` seconds."""
        with self._entities:
            if name not in self.clients:
                self.clients[name] = self.node.create_client(srv_type, name)
            client = self.clients[name]
        if not client.wait_for_service(timeout_sec=timeout):
            raise ProbeTimeoutError(f"service {name} did not appear within {timeout:g} s")
        with self._entities:
            future = client.call_async(request)
        end = time.monotonic() + timeout
        while not future.done() and time.monotonic() < end:
            time.sleep(0.01)
        if not future.done():
            raise ProbeTimeoutError(f"no response from {name} within {timeout:g} s")
        return future.result()

    def wait_for(self, condition: Callable[[], object], timeout: float, what: str) -> None:
        """Poll `condition` until it is true; ProbeTimeoutError naming `what` otherwise."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if condition():
                return
            time.sleep(0.05)
        raise ProbeTimeoutError(f"timed out after {timeout:g} s waiting for {what}")

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=5)
