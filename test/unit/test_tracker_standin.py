"""The real tracker driven end to end by the colour-key stand-in network on the synthetic suite.

With a network that cannot learn, every result here measures the tracker: crops, mapping back to the image, DCF,
sample filter, memory bank, scale estimation and states.
"""

from __future__ import annotations

import numpy as np
import pytest

from jcat_core.data.synthetic import Occlusion, SequenceSpec, SyntheticSequence, synthetic_suite
from jcat_core.tracker import TrackerState, build_tracker
from jcat_core.tracker.geometry import box_iou
from jcat_core.tracker.inputs import mask_box
from jcat_core.tracker.standin import ColourKeyNetwork

pytestmark = pytest.mark.usefixtures("one_thread")
EDGE_TOLERANCE_PX = 1.5  # box from the mask vs the ground-truth mask's bounding box, clean sequences



def run(sequence: SyntheticSequence, profile: str = "default", **init: object) -> list:
    tracker = build_tracker("standin", device="cpu", profile=profile)
    first = sequence[0]
    tracker.initialize(first.image, **(init or {"box": first.box}))  # type: ignore[arg-type]
    return [(frame, tracker.track(frame.image)) for frame in sequence[1:]]


@pytest.mark.slow
@pytest.mark.parametrize("profile", ["default", "lite"])
def test_mean_iou_over_the_suite_is_at_least_0_85(profile: str) -> None:
    """IoU against the bounding box of the visible target, over frames where the target is visible."""
    per_sequence = {}
    for name, spec in synthetic_suite(num_frames=40).items():
        ious = [box_iou(out.box, mask_box(frame.mask)) for frame, out in run(SyntheticSequence(spec), profile)
                if frame.visible]
        per_sequence[name] = float(np.mean(ious))
    assert np.mean(list(per_sequence.values())) >= 0.85, per_sequence
    assert min(per_sequence.values()) >= 0.7, per_sequence


@pytest.mark.parametrize("name", ["clean", "scale"])
def test_box_from_the_mask_matches_ground_truth_within_pixels_on_clean_sequences(name: str) -> None:
    results = run(SyntheticSequence(synthetic_suite(num_frames=30)[name]))
    for frame, out in results:
        x, y, w, h = mask_box(frame.mask)
        error = np.abs(np.subtract((out.box[0], out.box[1], out.box[0] + out.box[2], out.box[1] + out.box[3]),
                                   (x, y, x + w, y + h)))
        assert error.max() <= EDGE_TOLERANCE_PX, (out.box, (x, y, w, h))
        assert out.state is TrackerState.TRACKING and 0.0 <= out.score <= 1.0
        overlap = (out.mask & frame.mask).sum() / (out.mask | frame.mask).sum()
        assert overlap > 0.9
        cx, cy, rw, rh, _ = out.rotated_box
        assert abs(cx - (x + w / 2)) < 3 and abs(cy - (y + h / 2)) < 3 and 0.6 < rw * rh / frame.mask.sum() < 1.6


class CountingNetwork(ColourKeyNetwork):
    """The stand-in, counting its backbone passes (every DCF or segmentation feature extraction)."""

    passes = 0

    def extract_features(self, images):
        self.passes += 1
        return super().extract_features(images)

    def dcf_features(self, images):
        self.passes += 1
        return super().dcf_features(images)


def test_the_lite_profile_runs_one_backbone_pass_per_frame_and_fills_the_bank_from_it() -> None:
    sequence = SyntheticSequence(synthetic_suite(num_frames=25)["scale"])
    network = CountingNetwork()
    tracker = build_tracker(network, device="cpu", profile="lite")
    tracker.initialize(sequence[0].image, box=sequence[0].box)
    for frame in sequence[1:]:
        before = network.passes
        out = tracker.track(frame.image)
        assert network.passes - before == 1
        assert out.state is TrackerState.TRACKING and box_iou(out.box, mask_box(frame.mask)) > 0.85
    assert len(tracker.bank) == tracker.params.bank_capacity  # bank entries came from the segmented crops
    published = build_tracker(CountingNetwork(), device="cpu")
    published.initialize(sequence[0].image, box=sequence[0].box)
    before = published.network.passes
    published.track(sequence[1].image)  # a bank frame: DCF crop, segmentation crop and bank crop
    assert published.network.passes - before == 3


def test_initialising_from_a_mask_tracks_as_well_as_from_a_box() -> None:
    sequence = SyntheticSequence(synthetic_suite(num_frames=20)["rotation"])
    ious = [box_iou(out.box, mask_box(frame.mask)) for frame, out in run(sequence, mask=sequence[0].mask)]
    assert min(ious) > 0.8


def test_full_occlusion_for_15_frames_stops_learning_and_tracking_resumes_after_it() -> None:
    start, end = 12, 27  # occluded frames start .. end - 1 (0-based frame index)
    spec = SequenceSpec(name="occluded", num_frames=45, seed=11, speed=0.004, occlusions=(Occlusion(start, end),))
    sequence = SyntheticSequence(spec)
    tracker = build_tracker("standin", device="cpu")
    tracker.initialize(sequence[0].image, box=sequence[0].box)
    states, learned, bank_additions = {}, {}, {}
    for index in range(1, len(sequence)):
        samples = tracker.dcf.samples_added
        states[index] = tracker.track(sequence[index].image).state
        learned[index] = tracker.dcf.samples_added - samples
        bank_additions[index] = tracker.last_record.bank_added  # type: ignore[union-attr]
    assert all(states[i] is TrackerState.TRACKING for i in range(1, start))
    assert any(states[i] is not TrackerState.TRACKING for i in range(start, start + 3))  # leaves within 3 frames
    assert all(states[i] is not TrackerState.TRACKING for i in range(start + 3, end))
    assert sum(learned[i] for i in range(start, end)) == 0  # nothing learned while occluded
    assert not any(bank_additions[i] for i in range(start, end))
    assert any(states[i] is TrackerState.TRACKING for i in range(end, end + 10))  # back within 10 frames
    assert all(states[i] is TrackerState.TRACKING for i in range(end + 10, len(sequence)))


def test_leaving_the_image_turns_lost_and_reentry_is_found_again() -> None:
    spec = synthetic_suite(num_frames=40)["exit_reentry"]
    results = run(SyntheticSequence(spec))
    hidden = [i for i, (frame, _) in enumerate(results) if not frame.visible]
    assert hidden and all(results[i][1].state is not TrackerState.TRACKING for i in hidden)
    after = results[hidden[-1] + 1:]
    recovered = [i for i, (frame, out) in enumerate(after) if out.state is TrackerState.TRACKING
                 and box_iou(out.box, mask_box(frame.mask)) > 0.7]
    assert recovered and recovered[0] < 10
    assert all(box_iou(out.box, mask_box(frame.mask)) > 0.8 for frame, out in after[recovered[0] + 3:])
