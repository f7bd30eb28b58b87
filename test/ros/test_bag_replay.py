"""jcat-bag replay with the node process in the loop: outputs carry their input's header, drops are counted (a
deliberately slow node makes them happen), and latency and drop figures agree with what the result bag recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from rosbags.rosbag2 import Reader

from jcat_ros.bag import types as T
from jcat_ros.bag.cli import main as jcat_bag
from jcat_ros.message_fields import time_ns

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[2]
FRAMES, RATE, DELAY = 30, 10.0, 0.3  # the slow node tracks at most ~3 of the 10 frames per second


def test_replay_into_a_slow_node_counts_drops_and_every_output_has_its_inputs_header(spawn, ros_env, tmp_path,
                                                                                      monkeypatch) -> None:
    from jcat_ros.bag.replay import INPUT_HEADERS, Replay, ReplayOptions

    bag = tmp_path / "bag"
    assert jcat_bag(["make", "synthetic:clean", str(bag), "--frames", str(FRAMES), "--rate", str(RATE), "--width",
                     "160", "--height", "120"]) == 0
    spawn("test/ros/slow_tracker_node.py", str(DELAY), "--ros-args", "--params-file", str(REPO / "config" /
          "tracker.yaml"), "-r", "image:=/camera/image_raw", "-p", "weights:=standin", "-p", "device:=cpu")
    monkeypatch.setenv("ROS_DOMAIN_ID", ros_env["ROS_DOMAIN_ID"])
    replay = Replay(ReplayOptions(bag=bag, out=tmp_path / "result", timeout=120), "slow stand-in", progress=print)
    try:
        result = replay.run()
    finally:
        replay.close()
    system = result.system

    # every output (state, detections, mask) carries the header of a frame that was published
    assert system["outputs"] > 0 and system["outputs_with_input_header"] == system["outputs"]
    # drops really happen, and ours agree with the node's own counters
    dropped = system["frames_dropped"]
    assert dropped >= FRAMES // 3, system
    assert system["frames_published"] == FRAMES == system["frames_answered"] + dropped
    node = system["node"]
    assert int(node["frames_dropped"]) + int(node["frames_lost_before_node"]) == dropped, node
    assert system["fps"] <= 1.2 / DELAY  # at most one frame per sleep, with some slack for timing

    # latency = output received - image stamp, as recorded in the result bag (receipt time = bag time)
    store = T.typestore()
    first_answer: dict[int, int] = {}
    with Reader(tmp_path / "result") as reader:
        headers = [store.deserialize_cdr(raw, c.msgtype) for c, _, raw in reader.messages()
                   if c.topic == INPUT_HEADERS]
        for connection, received, raw in reader.messages():
            if connection.topic == "/jcat_tracker/state":
                state = store.deserialize_cdr(raw, connection.msgtype)
                first_answer.setdefault(time_ns(state.header.stamp), received)
    assert len(headers) >= FRAMES and {time_ns(h.stamp) for h in headers} >= set(first_answer)
    answered_later = [r for r in result.records if r.index > 0 and r.latency_ms is not None]
    reported = [r.latency_ms for r in answered_later]
    assert reported == pytest.approx([(first_answer[r.sent_ns] - r.sent_ns) / 1e6 for r in answered_later], abs=1e-3)
    assert min(reported) >= DELAY * 1000  # every answer waited for the slow network at least once
    # Frames answered IDLE before the init reached the node stay IDLE (no header is published twice); every frame
    # answered for the target overlaps it.
    before = system["frames_answered_before_init"]
    answered = result.evaluated()
    assert before == len(result.before_init()) and len(answered) + before + 1 + dropped >= FRAMES - 1
    assert answered and all(r.iou is not None and r.iou > 0.5 for r in answered)
