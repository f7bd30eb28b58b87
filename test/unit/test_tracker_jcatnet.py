"""The tracker with the real JcatNet (random weights, ResNet-18, small crops): runs and is deterministic on CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite
from jcat_core.models.jcat_net import JcatConfig, build_jcat_net
from jcat_core.tracker import TrackerState, build_tracker

SMALL_CROPS = {"dcf_sample_size": 96, "segm_size": 128}  # keeps 2 x 100 frames of two backbone passes quick



def run_once(sequence: SyntheticSequence) -> list:
    torch.manual_seed(0)
    net = build_jcat_net(JcatConfig(backbone="resnet18"))
    tracker = build_tracker(net, device="cpu", **SMALL_CROPS)
    tracker.initialize(sequence[0].image, box=sequence[0].box)
    return [tracker.track(frame.image) for frame in sequence[1:]]


@pytest.mark.slow
def test_random_weight_jcatnet_runs_100_frames_deterministically(one_thread) -> None:
    sequence = SyntheticSequence(synthetic_suite(height=120, width=160, num_frames=101)["rotation"])
    first, second = run_once(sequence), run_once(sequence)
    assert len(first) == 100
    for a, b in zip(first, second, strict=True):
        assert a.box == b.box and a.rotated_box == b.rotated_box and a.state == b.state and a.score == b.score
        assert np.array_equal(a.mask, b.mask)
        assert isinstance(a.state, TrackerState) and 0.0 <= a.score <= 1.0 and all(np.isfinite(a.box))
        assert a.mask.shape == (120, 160)
