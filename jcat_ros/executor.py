"""An rclpy executor for the tracker node: subscription callbacks on the spinning thread, the rest in a pool.

Subscription callbacks (/clock under use_sim_time) are short, so they run inline as in a SingleThreadedExecutor.
Services, timers and lifecycle transitions may wait on the tracker (~/init waits for the worker), so they run in
the pool and never hold the spinning thread up. Camera frames do not pass through here at all: the node takes them
on a thread of its own (jcat_ros.subscription_thread).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from rclpy.context import Context
from rclpy.exceptions import InvalidHandle
from rclpy.executors import Executor, ShutdownException, TimeoutException
from rclpy.subscription import Subscription
from rclpy.task import Task


class InlineSubscriptionExecutor(Executor):
    """Subscriptions run where they are taken; services, clients, timers and waitables run in `num_threads`."""

    def __init__(self, num_threads: int = 3, *, context: Context | None = None) -> None:
        super().__init__(context=context)
        self._pool = ThreadPoolExecutor(num_threads, thread_name_prefix="jcat_executor")
        self._pending: list[Task] = []  # pool callbacks not yet seen finished

    def spin_once(self, timeout_sec: float | None = None) -> None:
        """Wait for one ready callback and run it (inline for a subscription); re-raise a pool task's error."""
        try:
            handler, entity, _ = self.wait_for_ready_callbacks(timeout_sec)
        except (ShutdownException, TimeoutException):
            return
        except InvalidHandle:
            # A lifecycle transition in the pool destroyed an entity (a subscription's event handler) while this
            # thread built the wait set; rclpy keeps such a waitable in the set. Build a fresh one next time.
            self._cb_iter = None
            return
        if isinstance(entity, Subscription):
            handler()
            handler.result()  # raises what the callback raised, as SingleThreadedExecutor does
        else:
            self._pool.submit(handler)
            self._pending.append(handler)
        self._raise_finished()

    def _raise_finished(self) -> None:
        """Forget finished pool tasks, raising the first error one of them ended with."""
        finished = [task for task in self._pending if task.done()]
        self._pending = [task for task in self._pending if task not in finished]
        for task in finished:
            task.result()

    def shutdown(self, timeout_sec: float | None = None) -> bool:
        """Stop spinning, then wait for the pool's running callbacks."""
        stopped = super().shutdown(timeout_sec)
        self._pool.shutdown(wait=True)
        return stopped
