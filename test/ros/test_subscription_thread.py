"""SubscriptionThread: messages and QoS events taken on the thread of their own, never by the node's executor;
errors reported and survived; close() and a context shutdown end the thread cleanly."""

from __future__ import annotations

import contextlib
import random
import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.event_handler import SubscriptionEventCallbacks  # noqa: E402
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402
from std_msgs.msg import String  # noqa: E402

from jcat_ros.subscription_thread import SubscriptionThread  # noqa: E402

pytestmark = pytest.mark.ros
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch):
    """A node in a context of its own, spun by a SingleThreadedExecutor as an application would."""
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=random.randint(101, 200))
    node = rclpy.create_node("subscription_thread_test", context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)

    def spin() -> None:
        with contextlib.suppress(ExternalShutdownException):
            executor.spin()

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    yield node
    context.try_shutdown()
    spinner.join(timeout=5)
    executor.shutdown()
    node.destroy_node()


def test_messages_arrive_on_the_own_thread_with_their_info_and_errors_do_not_stop_it(node) -> None:
    received, errors = [], []

    def on_message(msg: String, info) -> None:
        received.append((msg.data, info["publication_sequence_number"], threading.current_thread().name))
        if msg.data == "bad":
            raise ValueError("a bad message")

    taker = SubscriptionThread(node, String, "chatter", on_message, RELIABLE, name="taker_test",
                               on_error=errors.append)
    publisher = node.create_publisher(String, "chatter", RELIABLE)
    try:
        assert wait_for(lambda: publisher.get_subscription_count() == 1)
        for text in ("first", "bad", "after"):
            publisher.publish(String(data=text))
        assert wait_for(lambda: len(received) == 3), received
        assert [data for data, _, _ in received] == ["first", "bad", "after"]
        assert [seq for _, seq, _ in received] == [1, 2, 3]
        assert {name for _, _, name in received} == {"taker_test"}, "the executor must never run this subscription"
        assert len(errors) == 1 and isinstance(errors[0], ValueError)
    finally:
        taker.close()
    assert not taker._thread.is_alive()
    assert taker.subscription not in list(node.subscriptions)
    publisher.publish(String(data="late"))
    time.sleep(0.3)
    assert len(received) == 3, "nothing is taken after close()"


def test_incompatible_qos_events_are_handled_on_the_own_thread(node) -> None:
    events = []
    callbacks = SubscriptionEventCallbacks(
        incompatible_qos=lambda event: events.append(threading.current_thread().name))
    taker = SubscriptionThread(node, String, "qos_topic", lambda msg, info: None, RELIABLE, name="taker_events",
                               on_error=pytest.fail, event_callbacks=callbacks)
    best_effort = node.create_publisher(String, "qos_topic", QoSProfile(depth=1,
                                                                        reliability=ReliabilityPolicy.BEST_EFFORT))
    try:
        assert wait_for(lambda: len(events) > 0), "a reliable reader meeting a best-effort writer raises the event"
        assert set(events) == {"taker_events"}
    finally:
        taker.close()
        node.destroy_publisher(best_effort)


def test_a_context_shutdown_ends_the_thread_without_an_error(node, monkeypatch: pytest.MonkeyPatch) -> None:
    crashes = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    taker = SubscriptionThread(node, String, "chatter", lambda msg, info: None, RELIABLE, name="taker_shutdown",
                               on_error=pytest.fail)
    node.context.try_shutdown()
    assert wait_for(lambda: not taker._thread.is_alive(), timeout=5.0)
    assert crashes == []
