"""The tracker node's memory stays bounded over lifecycle cycles (issue #18): each activation starts new input and
worker threads and each configure builds a new model, and what they freed must not pile up in the process.

The node runs the demo weights, a real network: the colour-key stand-in allocates too little per frame for the
arena cap to show (with memory handed back at cleanup it passed without the cap, 594 to 619 MiB). RSS is noisy by
about 50 MiB from run to run (kept free memory, re-touched as tracking needs it): the readings are taken at the same
point of a cycle, after the same number of tracked frames."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.slow]

rclpy = pytest.importorskip("rclpy")
from jcat_ros.msg import TrackerState  # noqa: E402
from jcat_ros.srv import InitTarget  # noqa: E402
from lifecycle_msgs.msg import Transition  # noqa: E402
from lifecycle_msgs.srv import ChangeState  # noqa: E402
from vision_msgs.msg import Detection2DArray  # noqa: E402

from jcat_core.models.demo_weights import DEMO_WEIGHTS  # noqa: E402
from jcat_ros.init_client import init_request  # noqa: E402
from jcat_ros.message_fields import box_xywh  # noqa: E402

TRACKER = "/jcat_tracker"
CAMERA_ARGS = ["-m", "jcat_ros.camera_node", "--ros-args", "-p", "rate:=10.0", "-p", "num_frames:=400",
               "-p", "loop:=true"]  # 640x480 rgb8: frame buffers of 0.9 MB, kept by the node's malloc tuning
TRACKER_ARGS = ["-m", "jcat_ros.tracker_node", "--ros-args", "-p", f"weights:={DEMO_WEIGHTS}", "-p", "device:=cpu",
                "-p", "cpu_threads:=1"]
ROUNDS = 10  # of two restarts and five switches: the 50 switches and 20 restarts, spread out
BASELINE = 5  # cycles after which RSS is the reference: a restart and four switches
SETTLE_FRAMES = 30  # tracked before RSS is read, so that it has reached what tracking keeps
GROWTH_ALLOWED = 1.15


def rss_mib(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS line for process {pid}")


def large_anonymous_mappings(pid: int) -> int:
    """Anonymous mappings of 32 MiB or more (glibc's arena heaps are 64 MiB each): where growth goes when it does."""
    count = 0
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split()
        start, end = (int(address, 16) for address in fields[0].split("-"))
        count += len(fields) < 6 and end - start >= 32 << 20
    return count


class Lifecycle:
    """Drives the tracker node's transitions; every cycle ends with the node tracking a target on fresh frames."""

    def __init__(self, probe) -> None:
        self.probe = probe
        self.states = probe.record(TrackerState, f"{TRACKER}/state")
        self.truth = probe.record(Detection2DArray, "/jcat_camera/ground_truth")
        self.targets = 0

    def transition(self, transition_id: int) -> None:
        request = ChangeState.Request()
        request.transition.id = transition_id
        assert self.probe.call(ChangeState, f"{TRACKER}/change_state", request).success, transition_id

    def frames_processed(self, count: int = 3) -> None:
        """Wait until the node has published `count` more states: its new threads took and processed frames."""
        since = len(self.states)
        self.probe.wait_for(lambda: len(self.states) >= since + count, 60, f"{count} more states")

    def init(self) -> None:
        """Start tracking the camera's target (from its ground truth) and wait until the node says TRACKING."""
        self.targets += 1
        target_id = f"target_{self.targets}"
        self.frames_processed()  # a frame in the node's history to initialise on
        message = next(m for m in reversed(list(self.truth)) if m.detections)
        request = init_request(box_xywh(message.detections[0].bbox), message.header.stamp, target_id)
        response = self.probe.call(InitTarget, f"{TRACKER}/init", request)
        assert response.success, response.message
        self.probe.wait_for(lambda: any(m.target_id == target_id and m.state == TrackerState.TRACKING
                                        for m in list(self.states)[-5:]), 30, f"{target_id} tracked")

    def switch(self) -> None:
        """Deactivate and activate: new input and worker threads go on with the target."""
        self.transition(Transition.TRANSITION_DEACTIVATE)
        self.transition(Transition.TRANSITION_ACTIVATE)
        self.frames_processed()

    def restart(self) -> None:
        """Clean up and configure again (a new model), activate and track a new target."""
        for transition_id in (Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP,
                              Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            self.transition(transition_id)
        self.init()


# With the arena cap alone the growth was near the bound (11, 16 and 22 % in three runs); the node also hands the
# old model's freed pages back at cleanup (release_freed_memory).
def test_rss_stays_bounded_over_lifecycle_cycles_and_the_node_still_tracks(spawn, probe) -> None:
    spawn(*CAMERA_ARGS)
    node = spawn(*TRACKER_ARGS)
    lifecycle = Lifecycle(probe)
    probe.wait_for(lambda: len(lifecycle.states) >= 3, 120, "states from the active tracker node")
    lifecycle.init()
    started = time.monotonic()
    # Both readings follow a switch, so the two compare like with like.
    cycles = [lifecycle.restart, *[lifecycle.switch] * 4, lifecycle.restart, lifecycle.switch] * ROUNDS
    rss = {}
    for done, cycle in enumerate(cycles, 1):
        cycle()
        if done in (BASELINE, len(cycles)):
            lifecycle.frames_processed(SETTLE_FRAMES)
            rss[done] = rss_mib(node.pid)
            print(f"after {done} cycles ({time.monotonic() - started:.0f} s): RSS {rss[done]:.0f} MiB, "
                  f"{large_anonymous_mappings(node.pid)} anonymous mappings >= 32 MiB")
    assert rss[len(cycles)] <= GROWTH_ALLOWED * rss[BASELINE], (
        f"RSS grew from {rss[BASELINE]:.0f} MiB after {BASELINE} cycles to {rss[len(cycles)]:.0f} MiB after "
        f"{len(cycles)}")
    lifecycle.init()  # still tracks
