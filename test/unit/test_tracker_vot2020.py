"""The ``vot2020`` profile: the authors' VOT2020 mask tracker (their ``vot20_wrapper`` and ``Jcat_mask``), rule by
rule. No trace of that tracker exists (test/data/tracker_traces holds no masks), so each difference from ``vot`` is
checked here on its own, the expected values written out as the authors' code computes them."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

import jcat_core.tracker.tracker as tracker_module
from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite
from jcat_core.tracker import TrackerParams, build_tracker
from jcat_core.tracker.geometry import CropWindow, crop, filled_box_mask, probability_mask

pytestmark = pytest.mark.usefixtures("one_thread")
NEW_FIELDS = {"mask_init_overrides": True, "mask_from_probability": False, "dcf_box_when_no_mask": False}
VOT2020_CHANGES = {"rotated_box_fit": False, "second_contour_ratio": 0.4, "bank_capacity": 0,
                   "init_mask_threshold": 0.5, "mask_init_overrides": False, "mask_from_probability": True,
                   "dcf_box_when_no_mask": True}


def suite(name: str, num_frames: int = 26) -> SyntheticSequence:
    return SyntheticSequence(synthetic_suite(height=120, width=160, num_frames=num_frames)[name])


def authors_dcf_mask(position: tuple[float, float], size: tuple[float, float], shape: tuple[int, int]
                     ) -> np.ndarray:
    """Their output without a mask: state = pos - (size - 1) / 2 and size, its corners as int32, fillConvexPoly."""
    (cx, cy), (w, h) = position, size
    x, y = cx - (w - 1) / 2, cy - (h - 1) / 2
    corners = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]]).astype(np.int32)
    canvas = np.zeros(shape, np.int32)
    cv2.fillConvexPoly(canvas, corners, 1)
    return canvas.astype(bool)


def authors_resize_mask(contour: np.ndarray, probability: np.ndarray, window: CropWindow, shape: tuple[int, int]
                        ) -> np.ndarray:
    """Their resize_mask: dilate 7x7 once, x probability, bilinear resize to the crop's image side, > 0.5, pasted
    at the crop's top-left pixel; here through a canvas padded by the side and cut back to the image."""
    gated = cv2.dilate(contour.astype(np.uint8), np.ones((7, 7), np.uint8), iterations=1) * probability
    side = round(window.side)
    resized = cv2.resize(gated.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR) > 0.5
    x0, y0 = round(window.origin[0]), round(window.origin[1])
    canvas = np.zeros((shape[0] + 2 * side, shape[1] + 2 * side), bool)
    canvas[y0 + side:y0 + 2 * side, x0 + side:x0 + 2 * side] = resized
    return canvas[side:side + shape[0], side:side + shape[1]]


def test_only_the_vot2020_profile_changes_the_new_fields_and_it_differs_from_vot_only_as_published() -> None:
    for name in ("default", "vot", "lite"):
        params = TrackerParams.profile(name)
        assert {field: getattr(params, field) for field in NEW_FIELDS} == NEW_FIELDS, name
    vot = dataclasses.asdict(TrackerParams.profile("vot"))
    vot2020 = dataclasses.asdict(TrackerParams.profile("vot2020"))
    assert {k: v for k, v in vot2020.items() if vot[k] != v} == VOT2020_CHANGES
    assert build_tracker("standin", device="cpu", profile="vot2020").params == TrackerParams.profile("vot2020")


def test_filled_box_mask_truncates_the_corners_and_includes_the_far_edge() -> None:
    mask = filled_box_mask((2.7, 3.2, 4.0, 5.0), (12, 10))  # columns int(2.7)..int(6.7), rows int(3.2)..int(8.2)
    expected = np.zeros((12, 10), bool)
    expected[3:9, 2:7] = True
    np.testing.assert_array_equal(mask, expected)
    clipped = filled_box_mask((-1.5, 9.5, 3.0, 4.0), (12, 10))  # int(-1.5) = -1 (towards zero), clipped to 0
    expected = np.zeros((12, 10), bool)
    expected[9:12, 0:2] = True
    np.testing.assert_array_equal(clipped, expected)
    for box in [(2.7, 3.2, 4.0, 5.0), (-1.5, 9.5, 3.0, 4.0), (-8.0, -9.0, 3.0, 4.0), (7.9, 0.0, 30.0, 1.0)]:
        x, y, w, h = box
        np.testing.assert_array_equal(filled_box_mask(box, (12, 10)),
                                      authors_dcf_mask((x + (w - 1) / 2, y + (h - 1) / 2), (w, h), (12, 10)))


@pytest.mark.parametrize("name", ["occlusion", "exit_reentry"])
def test_a_frame_without_an_accepted_mask_reports_the_filled_dcf_box(name: str) -> None:
    sequence = suite(name, num_frames=40)
    tracker = build_tracker("standin", device="cpu", profile="vot2020")
    tracker.initialize(sequence[0].image, mask=sequence[0].mask)
    without = 0
    for frame in sequence[1:]:
        out = tracker.track(frame.image)
        assert out.mask.any(), f"frame {tracker.frame}: an empty mask"
        if out.polygon is None:  # no accepted mask: no contour > 50 px, area change >= 2, or u >= 10
            without += 1
            np.testing.assert_array_equal(out.mask, authors_dcf_mask(tracker.position, tracker.size,
                                                                     frame.image.shape[:2]))
    assert without > 0
    vot = build_tracker("standin", device="cpu", profile="vot")
    vot.initialize(sequence[0].image, mask=sequence[0].mask)
    assert not all(vot.track(frame.image).mask.any() for frame in sequence[1:])  # vot reports empty masks there


def test_the_dcf_box_is_about_one_pixel_wider_than_the_target_size() -> None:
    tracker = build_tracker("standin", device="cpu", profile="vot2020", min_contour_area=1e6)  # no mask accepted
    sequence = suite("clean", num_frames=6)
    tracker.initialize(sequence[0].image, mask=sequence[0].mask)
    for frame in sequence[1:]:
        out = tracker.track(frame.image)
        (cx, cy), (w, h) = tracker.position, tracker.size
        x, y = cx - (w - 1) / 2, cy - (h - 1) / 2
        columns, rows = np.flatnonzero(out.mask.any(axis=0)), np.flatnonzero(out.mask.any(axis=1))
        assert (columns[0], columns[-1]) == (int(x), int(x + w)) and (rows[0], rows[-1]) == (int(y), int(y + h))
        assert out.mask.sum() == (int(x + w) - int(x) + 1) * (int(y + h) - int(y) + 1)


def test_a_mask_start_keeps_the_ordinary_threshold_and_scale_step(monkeypatch: pytest.MonkeyPatch) -> None:
    sequence = suite("scale", num_frames=12)
    steps: dict[str, set] = {}
    for profile in ("vot", "vot2020"):
        tracker = build_tracker("standin", device="cpu", profile=profile)
        tracker.initialize(sequence[0].image, mask=sequence[0].mask)
        decide = tracker.scale.decide
        seen = steps.setdefault(profile, set())

        def spying(*args, seen=seen, decide=decide):
            seen.add(tuple(args[-1]))  # step_range
            return decide(*args)

        monkeypatch.setattr(tracker.scale, "decide", spying)
        for frame in sequence[1:]:
            tracker.track(frame.image)
        expected = (tracker.params.segm_threshold, tracker.params.scale_step_range) if profile == "vot2020" else \
            (tracker.params.segm_threshold_mask_init, tracker.params.scale_step_range_mask_init)
        assert tracker.initialised_from_mask and tracker.threshold == expected[0]
        assert steps[profile] == {expected[1]}
    assert steps == {"vot": {(0.9, 1.1)}, "vot2020": {(0.95, 1.05)}}


def test_the_given_mask_is_cropped_with_zero_padding_and_thresholded_at_0_5() -> None:
    sequence = suite("clean", num_frames=2)
    tracker = build_tracker("standin", device="cpu", profile="vot2020")
    tracker.initialize(sequence[0].image, mask=sequence[0].mask)
    p = tracker.params
    window = CropWindow.pixel_aligned(*tracker.position, *tracker.size, p.segm_search_area_scale, p.segm_size)
    given = torch.from_numpy(sequence[0].mask.astype(np.float32))[:, :, None]
    expected = (crop(given, window, pad_with_border=False) > 0.5).float()
    torch.testing.assert_close(tracker.reference_mask, expected, atol=0, rtol=0)
    assert tracker.scale.areas[0] == float(expected.sum())


def test_the_memory_bank_never_gains_an_entry() -> None:
    sequence = suite("distractor")
    added = {}
    for profile in ("vot", "vot2020"):
        tracker = build_tracker("standin", device="cpu", profile=profile)
        tracker.initialize(sequence[0].image, box=sequence[0].box)
        added[profile] = []
        for frame in sequence[1:]:
            tracker.track(frame.image)
            added[profile] += [tracker.frame] if tracker.last_record.bank_added else []
        assert len(tracker.bank) == len(added[profile])
    assert added["vot"] and not added["vot2020"]


def test_probability_mask_on_a_hand_made_map_follows_resize_mask() -> None:
    size = 32
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    probability = np.clip(1.2 - np.hypot(xx - 12, yy - 14) / 9, 0, 1).astype(np.float32)  # a soft blob
    probability[2:6, 24:30] = 0.95  # a second blob, partly within the dilation of the first
    contour = (np.hypot(xx - 12, yy - 14) < 6).astype(np.uint8)  # the filled largest contour
    shape = (40, 50)
    for cx, cy in [(25.0, 20.0), (5.3, 37.8), (47.6, 2.2)]:  # inside, and cut by the image's borders
        window = CropWindow.pixel_aligned(cx, cy, 9.0, 7.0, 4.5, size)  # side ceil(4.5 sqrt(63)) = 36 px
        assert window.side == 36
        mask = probability_mask(contour, probability, window, shape)
        np.testing.assert_array_equal(mask, authors_resize_mask(contour, probability, window, shape))
        assert mask.any()
    gated = probability_mask(contour, np.full((size, size), 0.4, np.float32), window, shape)
    assert not gated.any()  # a probability of 0.4 never passes the 0.5 threshold, whatever the contour


def test_the_tracker_outputs_the_probability_mask_of_its_crop(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def recording(contour, probability, window, shape):
        calls.append((contour.copy(), probability.copy(), window, shape))
        return probability_mask(contour, probability, window, shape)

    monkeypatch.setattr(tracker_module, "probability_mask", recording)
    sequence = suite("clean", num_frames=8)
    tracker = build_tracker("standin", device="cpu", profile="vot2020")
    tracker.initialize(sequence[0].image, mask=sequence[0].mask)
    height, width = sequence[0].image.shape[:2]
    for frame in sequence[1:]:
        size = tracker.size
        out = tracker.track(frame.image)
        assert out.polygon is not None
        contour, probability, window, shape = calls[-1]
        # their crop (and paste) window: around the DCF peak clamped to the image, the frame's starting size
        peak_x, peak_y = tracker.last_record.dcf_peak
        centre = (min(max(peak_x, 0), width - 1), min(max(peak_y, 0), height - 1))
        assert window == CropWindow.pixel_aligned(*centre, *size, 4.0, tracker.params.segm_size)
        assert probability.dtype == np.float32 and ((probability > 0.01) & (probability < 0.99)).any()
        thresholded = (probability > tracker.threshold).astype(np.uint8)
        assert contour.sum() <= thresholded.sum() and not (contour & ~thresholded).any()  # its largest contour
        np.testing.assert_array_equal(out.mask, authors_resize_mask(contour, probability, window, shape))
        overlap = (out.mask & frame.mask).sum() / (out.mask | frame.mask).sum()
        assert overlap > 0.8
    assert len(calls) == len(sequence) - 1


def test_the_trax_wrapper_runs_vot2020_for_masks_and_vot_for_boxes() -> None:
    pytest.importorskip("trax", reason="vot-trax (eval extra)")
    from jcat_core.eval.trax_tracker import profile_for_region  # needs trax

    assert [profile_for_region(region) for region in ("mask", "box", "rotated")] == ["vot2020", "vot", "vot"]
