"""InlineSubscriptionExecutor: subscriptions on the spinning thread, services in the pool, so a service that waits
does not hold up the subscriptions."""

from __future__ import annotations

import random
import sys
import threading
import time

import pytest

rclpy = pytest.importorskip("rclpy")
from rclpy.callback_groups import ReentrantCallbackGroup  # noqa: E402
from std_msgs.msg import String  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from jcat_ros.executor import InlineSubscriptionExecutor  # noqa: E402


def wait_for(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_subscriptions_run_inline_while_a_service_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=random.randint(101, 200))
    node = rclpy.create_node("executor_test", context=context)
    release, threads = threading.Event(), {}

    def on_message(msg: String) -> None:
        threads.setdefault("subscription", threading.current_thread())

    def on_trigger(request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        threads["service"] = threading.current_thread()
        release.wait(10.0)  # like ~/init waiting for the tracker
        response.success = True
        return response

    node.create_subscription(String, "chatter", on_message, 10)  # separate callback groups, as in the node
    node.create_service(Trigger, "wait", on_trigger, callback_group=ReentrantCallbackGroup())
    publisher = node.create_publisher(String, "chatter", 10)
    client = node.create_client(Trigger, "wait")
    executor = InlineSubscriptionExecutor(num_threads=2, context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        assert client.wait_for_service(timeout_sec=10.0)
        future = client.call_async(Trigger.Request())
        assert wait_for(lambda: "service" in threads)
        assert wait_for(lambda: publisher.publish(String(data="x")) or "subscription" in threads)
        assert not future.done(), "the service should still be waiting"
        assert threads["subscription"] is spinner, "subscription callbacks run on the spinning thread"
        assert threads["service"] is not spinner, "services run in the pool"
        release.set()
        assert wait_for(future.done) and future.result().success
    finally:
        release.set()
        executor.shutdown(timeout_sec=5.0)
        node.destroy_node()
        context.try_shutdown()
        spinner.join(timeout=5.0)


def test_entities_destroyed_from_the_pool_while_spinning_do_not_stop_the_executor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The node's deactivate/cleanup destroy its subscription in a pool thread while the spinning thread builds the
    wait set; rclpy then raises InvalidHandle there. The executor must keep spinning and serving."""
    monkeypatch.setenv("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads interleave often, as with the node's short switch interval
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=random.randint(101, 200))
    node = rclpy.create_node("executor_churn_test", context=context)
    churned = []

    def on_trigger(request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        for _ in range(300):  # like activate/deactivate cycles: a subscription made and destroyed
            node.destroy_subscription(node.create_subscription(String, "churn", lambda msg: None, 10))
        churned.append(1)
        response.success = True
        return response

    node.create_service(Trigger, "churn", on_trigger, callback_group=ReentrantCallbackGroup())
    node.create_timer(0.001, lambda: None)  # keeps the spinning thread rebuilding its wait set
    client = node.create_client(Trigger, "churn")
    executor = InlineSubscriptionExecutor(num_threads=2, context=context)
    executor.add_node(node)
    errors: list[BaseException] = []

    def spin() -> None:
        try:
            executor.spin()
        except BaseException as error:  # the test reports what stopped the spin
            errors.append(error)

    spinner = threading.Thread(target=spin, daemon=True)
    spinner.start()
    try:
        assert client.wait_for_service(timeout_sec=10.0)
        for _ in range(10):
            future = client.call_async(Trigger.Request())
            assert wait_for(lambda call=future: call.done() or bool(errors), timeout=30.0)
            assert not errors, f"the executor stopped: {errors[0]!r}"
            assert future.result().success
        assert len(churned) == 10 and spinner.is_alive()
    finally:
        executor.shutdown(timeout_sec=5.0)
        node.destroy_node()
        context.try_shutdown()
        spinner.join(timeout=5.0)
        sys.setswitchinterval(switch_interval)
