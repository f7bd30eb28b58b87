"""Test helper: the real tracker node whose stand-in network sleeps in every segment() call, so frames arrive
faster than it tracks and the node really drops them. Nothing else changes: same node, parameters and topics.

    python test/ros/slow_tracker_node.py SECONDS --ros-args -p weights:=standin ...
"""

from __future__ import annotations

import sys
import time

from jcat_ros import node_params, tracker_node


class SlowNetwork:
    """Delegates everything to the wrapped network; segment() first sleeps `delay` seconds."""

    def __init__(self, network, delay: float) -> None:
        self.network, self.delay = network, delay

    def __getattr__(self, name: str):
        return getattr(self.network, name)

    def segment(self, *args, **kwargs):
        time.sleep(self.delay)
        return self.network.segment(*args, **kwargs)


def main() -> int:
    delay = float(sys.argv[1])
    build = node_params.NodeParams.build_tracker

    def build_slow(params: node_params.NodeParams):
        tracker, device, weights = build(params)
        tracker.network = SlowNetwork(tracker.network, delay)
        return tracker, device, weights

    node_params.NodeParams.build_tracker = build_slow
    return tracker_node.main([sys.argv[0], *sys.argv[2:]])


if __name__ == "__main__":
    sys.exit(main())
