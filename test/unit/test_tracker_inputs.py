"""Bad input gets a clear ValueError and leaves the tracker usable; odd but valid images are converted."""

from __future__ import annotations

import numpy as np
import pytest

from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite
from jcat_core.models.backbone import build_backbone
from jcat_core.models.jcat_net import JcatConfig, build_jcat_net
from jcat_core.tracker import JcatTracker, TrackerParams, TrackerState, auto_profile, build_tracker
from jcat_core.tracker.network import JcatNetwork
from jcat_core.tracker.standin import ColourKeyNetwork

pytestmark = pytest.mark.usefixtures("one_thread")
SEQUENCE = SyntheticSequence(synthetic_suite(height=120, width=160, num_frames=8)["clean"])



@pytest.fixture
def tracker():
    tracker = build_tracker("standin", device="cpu")
    tracker.initialize(SEQUENCE[0].image, box=SEQUENCE[0].box)
    return tracker


def assert_still_tracks(tracker) -> None:
    out = tracker.track(SEQUENCE[1].image)
    assert out.state is TrackerState.TRACKING and out.mask.shape == SEQUENCE[1].mask.shape


@pytest.mark.parametrize(("box", "message"), [
    ((500, 500, 10, 10), "outside"),
    ((-50, -50, 20, 20), "outside"),
    ((10, 10, 0, 5), "positive"),
    ((10, 10, 5, -3), "positive"),
    ((float("nan"), 10, 5, 5), "non-finite"),
    ((10, 10, float("inf"), 5), "non-finite"),
    ((1, 2, 3), "four numbers"),
    ("abcd", "four numbers"),
    ((10, 10, 1.5, 20), "too small"),
    ((0, 0, 1e154, 1e154), "far larger"),  # overflowed the crop maths ("as_strided: Negative strides") before
    ((-1e308, 0, 1e308, 50), "far larger"),
    ((0, 0, 160, 481), "far larger"),  # 4x the 120-px height is the limit
])
def test_bad_boxes_are_refused_and_the_tracker_keeps_working(tracker, box, message) -> None:
    with pytest.raises(ValueError, match=message):
        tracker.initialize(SEQUENCE[0].image, box=box)
    assert_still_tracks(tracker)  # the refused box changed nothing: the previous target is still tracked
    tracker.initialize(SEQUENCE[0].image, box=SEQUENCE[0].box)
    assert_still_tracks(tracker)


def test_a_failed_initialize_leaves_the_previous_target_exactly_as_it_was(tracker, monkeypatch) -> None:
    twin = build_tracker("standin", device="cpu")
    twin.initialize(SEQUENCE[0].image, box=SEQUENCE[0].box)
    for t in (1, 2):
        tracker.track(SEQUENCE[t].image)
        twin.track(SEQUENCE[t].image)

    def fail(*args: object) -> None:
        raise RuntimeError("out of memory half-way through the first frame")

    monkeypatch.setattr(tracker, "_start_segmentation", fail)  # fails after the DCF has been rebuilt
    with pytest.raises(RuntimeError, match="half-way"):
        tracker.initialize(SEQUENCE[3].image, box=(5, 5, 30, 30))
    for t in range(3, 8):  # decision for decision the same as the tracker that never saw the failed init
        ours, theirs = tracker.track(SEQUENCE[t].image), twin.track(SEQUENCE[t].image)
        assert ours.state is theirs.state and ours.box == pytest.approx(theirs.box)
        np.testing.assert_array_equal(ours.mask, theirs.mask)


@pytest.mark.parametrize(("image", "message"), [
    (np.zeros((120, 160, 3), np.float32), "dtype"),
    (np.zeros((120, 160, 2), np.uint8), "shape"),
    (np.zeros((0, 160, 3), np.uint8), "empty"),
    ([[0, 1], [2, 3]], "numpy array"),
])
def test_bad_images_are_refused_in_track_and_the_tracker_keeps_working(tracker, image, message) -> None:
    with pytest.raises(ValueError, match=message):
        tracker.track(image)
    assert_still_tracks(tracker)


def test_grayscale_rgba_and_uint16_images_are_converted() -> None:
    rgb = SEQUENCE[0].image
    tracker = build_tracker("standin", device="cpu")
    tracker.initialize(rgb, box=SEQUENCE[0].box)
    nxt = SEQUENCE[1].image
    rgba = np.concatenate([nxt, np.full((*nxt.shape[:2], 1), 255, np.uint8)], axis=2)
    assert tracker.track(rgba).state is TrackerState.TRACKING
    assert tracker.track(nxt.astype(np.uint16) * 257).state is TrackerState.TRACKING
    gray = nxt.mean(axis=2).astype(np.uint8)
    tracker.initialize(gray, box=SEQUENCE[0].box)
    assert tracker.track(gray[:, :, None]).box[2] > 0


def test_frame_size_change_and_track_before_initialize_are_refused(tracker) -> None:
    with pytest.raises(ValueError, match="frame size changed"):
        tracker.track(np.zeros((60, 80, 3), np.uint8))
    assert_still_tracks(tracker)
    fresh = build_tracker("standin", device="cpu")
    with pytest.raises(ValueError, match="before initialize"):
        fresh.track(SEQUENCE[0].image)
    tracker.reset()
    with pytest.raises(ValueError, match="before initialize"):
        tracker.track(SEQUENCE[0].image)


def test_bad_masks_and_ambiguous_targets_are_refused(tracker) -> None:
    with pytest.raises(ValueError, match="no foreground"):
        tracker.initialize(SEQUENCE[0].image, mask=np.zeros((120, 160), bool))
    with pytest.raises(ValueError, match="differs"):
        tracker.initialize(SEQUENCE[0].image, mask=np.ones((10, 10), bool))
    with pytest.raises(ValueError, match="exactly one"):
        tracker.initialize(SEQUENCE[0].image)
    with pytest.raises(ValueError, match="exactly one"):
        tracker.initialize(SEQUENCE[0].image, box=SEQUENCE[0].box, mask=SEQUENCE[0].mask)
    tracker.initialize(SEQUENCE[0].image, box=SEQUENCE[0].box)
    assert_still_tracks(tracker)


@pytest.mark.parametrize(("polygon", "message"), [
    ([[10, 10], [20, 10]], "at least 3"),
    ([10, 10, 20, 10, 20], "corners"),
    ([[10, 10], [20, 10], [20, float("nan")], [10, 20]], "non-finite"),
    ([[10, 10], [20, 10], [30, 10]], "no area"),
    ([[500, 500], [520, 500], [520, 520], [500, 520]], "outside"),
    ([[0, 0], [1e154, 0], [1e154, 1e154], [0, 1e154]], "far larger"),
])
def test_bad_polygons_are_refused_and_the_tracker_keeps_working(tracker, polygon, message) -> None:
    with pytest.raises(ValueError, match=message):
        tracker.initialize(SEQUENCE[0].image, polygon=polygon)
    assert_still_tracks(tracker)


def test_a_polygon_starts_the_tracker_as_the_published_vot_tracker_does(tracker) -> None:
    """A VOT rectangle handed over as its four corners: centre the corners' mean, size the extent + 1 px."""
    x, y, w, h = SEQUENCE[0].box
    corners = [x, y, x + w, y, x + w, y + h, x, y + h]  # the toolkit's flat x1, y1, ... list
    tracker.initialize(SEQUENCE[0].image, polygon=corners)
    assert tracker.position == pytest.approx((x + w / 2, y + h / 2))
    assert tracker.size == pytest.approx((w + 1, h + 1))
    assert_still_tracks(tracker)
    with pytest.raises(ValueError, match="exactly one"):
        tracker.initialize(SEQUENCE[0].image, box=SEQUENCE[0].box, polygon=corners)


@pytest.mark.slow
def test_one_pixel_and_very_large_images_work() -> None:
    tracker = build_tracker("standin", device="cpu")
    tiny = np.full((1, 1, 3), 200, np.uint8)
    tracker.initialize(tiny, box=(0, 0, 1, 1))
    out = tracker.track(tiny)
    assert out.mask.shape == (1, 1) and 0.0 <= out.score <= 1.0
    big = np.zeros((10000, 10000, 3), np.uint8)
    big[5000:5060, 5000:5080] = (220, 40, 40)
    tracker.initialize(big, box=(5000, 5000, 80, 60))
    out = tracker.track(big)
    assert out.mask.shape == (10000, 10000) and abs(out.box[0] - 5000) < 3 and abs(out.box[2] - 80) < 4


def test_build_tracker_refuses_missing_weights_and_unknown_options(tmp_path) -> None:
    # build_tracker(None) means the demo weights: test/unit/test_demo_weights.py
    missing = tmp_path / "JcatNet.pth.tar"
    with pytest.raises(ValueError, match=str(missing)):
        build_tracker(missing, device="cpu")
    with pytest.raises(ValueError, match="unknown tracker parameter"):
        build_tracker("standin", device="cpu", bogus=1)
    with pytest.raises(ValueError, match="unknown profile"):
        build_tracker("standin", device="cpu", profile="fastest")
    assert build_tracker("standin", device="cpu", profile="vot").params.dcf_sample_size == 360


def test_the_auto_profile_is_lite_only_for_a_lite_backbone_that_feeds_the_dcf() -> None:
    resnet = build_jcat_net(JcatConfig(backbone="resnet18"))
    assert auto_profile(JcatNetwork(build_jcat_net(JcatConfig(backbone="efficientnet_lite0")))) == "lite"
    assert auto_profile(JcatNetwork(resnet)) == "default"
    assert auto_profile(ColourKeyNetwork()) == "default"
    assert not build_tracker("standin", device="cpu").params.one_backbone_pass
    with pytest.raises(ValueError, match="separate DCF backbone"):
        JcatTracker(JcatNetwork(resnet, build_backbone("resnet18")), TrackerParams.profile("lite"))
