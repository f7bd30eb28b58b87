"""A subscription taken on a thread of its own, outside the node's executor.

rclpy's executors rebuild their wait set in Python over every entity of the node (a lifecycle node has about twenty)
before each callback and again after it, holding the GIL. For camera frames that cost about 1 ms before the
callback, and the worker the callback wakes then waits for the GIL while the executor rebuilds. This thread waits
on the one subscription with a small wait set, takes the message the moment it arrives and goes straight back to
waiting, which lets the GIL go. The subscription's QoS event handlers (incompatible-QoS warnings) wait in the same
set: Fast DDS wakes whoever waits on a subscription's events for each message too, so leaving them to the executor
would bring its rebuild back on every frame.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

from rclpy.callback_groups import CallbackGroup
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.exceptions import InvalidHandle
from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
from rclpy.node import Node
from rclpy.qos import QoSProfile
from rclpy.subscription import MessageInfo

WAIT_NS = 100_000_000  # wake every 0.1 s to notice a shut-down context even without a stop request


class OwnThreadGroup(CallbackGroup):
    """Entities an executor never waits on or runs: their own thread takes them."""

    def can_execute(self, entity: Any) -> bool:
        return False

    def beginning_execution(self, entity: Any) -> bool:
        return False

    def ending_execution(self, entity: Any) -> None:
        pass


class SubscriptionThread:
    """`node`'s subscription to `topic`, each message handed to `callback(msg, info)` on a thread named `name`.

    `event_callbacks` (rclpy's defaults when None: a warning for incompatible QoS) run on the same thread. An
    exception from a callback is passed to `on_error` and the thread goes on. `close()` stops the thread, then
    destroys the subscription; a shut-down context ends the thread too.
    """

    def __init__(self, node: Node, msg_type: type, topic: str, callback: Callable[[Any, MessageInfo], None],
                 qos: QoSProfile, *, name: str, on_error: Callable[[Exception], None],
                 event_callbacks: SubscriptionEventCallbacks | None = None) -> None:
        self._node, self._callback, self._on_error = node, callback, on_error
        own = OwnThreadGroup()
        self.subscription = node.create_subscription(msg_type, topic, callback, qos, callback_group=own,
                                                     event_callbacks=event_callbacks)
        self._events = list(self.subscription.event_handlers)  # in `own` too: this thread handles them
        self._wake = node.create_guard_condition(lambda: None, callback_group=own)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def topic_name(self) -> str:
        return self.subscription.topic_name

    def _run(self) -> None:
        context = self._node.context
        with context.handle:
            wait_set = _rclpy.WaitSet(1, 1, 0, 0, 0, len(self._events), context.handle)
        while not self._stopping.is_set() and context.ok():
            try:
                calls = self._wait_and_take(wait_set)
            except InvalidHandle:
                return  # the node or the context went away under this thread: nothing more will come
            for callback, args in calls:
                try:
                    callback(*args)
                except Exception as err:  # one bad message must not stop the input
                    self._on_error(err)

    def _wait_and_take(self, wait_set: Any) -> list[tuple[Callable, tuple]]:
        """Wait up to WAIT_NS; the callbacks to run (events first, then the message) with their arguments."""
        subscription = self.subscription
        with ExitStack() as handles:
            for entity in (subscription.handle, self._wake.handle, *self._events):
                handles.enter_context(entity)
            wait_set.clear_entities()
            wait_set.add_subscription(subscription.handle)
            wait_set.add_guard_condition(self._wake.handle)
            for event in self._events:
                event.add_to_wait_set(wait_set)
            wait_set.wait(WAIT_NS)
            events = [(event.callback, event.take_data()) for event in self._events if event.is_ready(wait_set)]
            ready = subscription.handle.pointer in wait_set.get_ready_entities("subscription")
            taken = subscription.handle.take_message(subscription.msg_type, subscription.raw) if ready else None
        calls = [(callback, (data,)) for callback, data in events if callback is not None and data is not None]
        if taken is not None:
            calls.append((self._callback, taken))
        return calls

    def close(self) -> None:
        """Stop taking messages (waits for the callback in progress), then destroy the subscription."""
        self._stopping.set()
        self._wake.trigger()
        self._thread.join(timeout=10)
        self._node.destroy_subscription(self.subscription)
        self._node.destroy_guard_condition(self._wake)
