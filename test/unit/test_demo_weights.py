"""The project's demo weights: committed, small, and tracking a held-out synthetic sequence through build_tracker()."""

from __future__ import annotations

import numpy as np
import pytest

from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite
from jcat_core.eval.metrics import box_iou
from jcat_core.models.demo_weights import DEMO_WEIGHTS, describe
from jcat_core.tracker import TrackerState, build_tracker

FLOOR = 0.75  # mean box IoU on the held-out "clean" sequence, 30 frames; the demo weights measured 0.853


def test_demo_weights_are_committed_small_and_described() -> None:
    assert DEMO_WEIGHTS.is_file() and DEMO_WEIGHTS.stat().st_size <= 25 * 2**20
    assert "demo weights" in describe() and "\n" not in describe()


@pytest.mark.slow
def test_build_tracker_without_weights_tracks_a_held_out_sequence() -> None:
    tracker = build_tracker(device="cpu")
    assert tracker.params.segm_size == 192 and tracker.params.one_backbone_pass  # the lite profile
    frames = list(SyntheticSequence(synthetic_suite(num_frames=30, seed=0)["clean"]))  # seeds unseen in training
    tracker.initialize(frames[0].image, box=frames[0].box)
    outputs = [tracker.track(f.image) for f in frames[1:]]
    iou = box_iou(np.array([o.box for o in outputs]), np.array([f.box for f in frames[1:]]))
    assert float(iou.mean()) > FLOOR, f"mean IoU {iou.mean():.3f}"
    assert all(o.state != TrackerState.LOST for o in outputs)
    assert build_tracker("standin", device="cpu").params.segm_size == 384  # other weights keep the published size
