"""The tracker's small parts: parameters, crops and mask geometry, DCF numerics, memory bank, sample filter."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite
from jcat_core.tracker import RUNTIME_PARAMS, build_tracker
from jcat_core.tracker.dcf import CorrelationFilter, fourier_upsample, gauss_newton_step, mlu
from jcat_core.tracker.geometry import (
    CropWindow,
    box_iou,
    crop,
    fit_mask,
    paste_mask,
    polygon_box,
    polygon_mask,
)
from jcat_core.tracker.memory_bank import MemoryBank
from jcat_core.tracker.params import TrackerParams
from jcat_core.tracker.scale import ScaleEstimator
from jcat_core.tracker.uncertainty import SampleFilter


def test_defaults_are_the_published_ones_and_vot_changes_crop_and_memory() -> None:
    p = TrackerParams()
    assert (p.dcf_search_area_scale, p.dcf_sample_size, p.projection_dim, p.filter_size) == (4.5, 288, 64, 4)
    assert p.spatial_penalty == (1.0, 0.3, 0.3, 1.0) and p.filter_regularization == 0.1
    assert (p.init_gauss_newton_iterations, p.init_cg_iterations, p.update_cg_iterations) == (6, 10, 5)
    assert (p.sample_memory_size, p.learning_rate, p.hard_negative_learning_rate) == (250, 0.0075, 0.02)
    assert (p.uncertainty_threshold, p.sample_filter_ratio, p.segmentation_uncertainty) == (3.0, 0.15, 10.0)
    assert (p.segm_search_area_scale, p.segm_size, p.bank_capacity, p.bank_search_area_scale) == (4.0, 384, 4, 4.5)
    assert (p.lost_search_growth, p.antialias_crops, p.sample_filter, p.relearn_at_new_position) == (1.0, False,
                                                                                                     True, False)
    vot = TrackerParams.profile("vot")
    assert (vot.dcf_sample_size, vot.dcf_crop_size, vot.sample_memory_size) == (360, 352, 300)
    assert (p.dcf_crop_size, p.with_overrides(dcf_sample_size=200).dcf_crop_size) == (288, 192)
    assert not vot.sample_filter and vot.relearn_at_new_position and not vot.bank_on_schedule
    assert (vot.bank_hard_negative_gap, vot.second_contour_ratio, vot.rotated_box_fit) == (20, 0.25, True)
    lite = TrackerParams.profile("lite")
    assert lite.one_backbone_pass and lite.antialias_crops and lite.lost_search_growth == 2.0
    assert not p.one_backbone_pass
    assert set(TrackerParams.describe()) == {f for f in TrackerParams.__dataclass_fields__}


@pytest.mark.parametrize(("overrides", "message"), [
    ({"no_such_thing": 1}, "unknown tracker parameter"),
    ({"learning_rate": 2.0}, "learning_rate"),
    ({"one_backbone_pass": 1}, "one_backbone_pass must be true or false"),
    ({"sample_memory_size": 10}, "sample_memory_size"),
    ({"segm_size": 100}, "segm_size of 16"),
    ({"uncertainty_threshold": float("nan")}, "uncertainty_threshold"),
    ({"spatial_penalty": (1.0, 0.3)}, "spatial_penalty"),
    ({"bank_capacity": 2.5}, "integer"),
])
def test_bad_overrides_are_rejected_with_a_message(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrackerParams().with_overrides(**overrides)
    with pytest.raises(ValueError, match="unknown profile"):
        TrackerParams.profile("fast")
    assert TrackerParams().with_overrides(bank_capacity=2).bank_capacity == 2


def test_crop_of_the_whole_image_at_scale_one_is_the_image_and_padding_follows_the_kind() -> None:
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    same = crop(image, CropWindow(16.0, 16.0, 32.0, 32))
    assert torch.allclose(same[0].permute(1, 2, 0), image.float(), atol=1e-3)
    shifted = crop(image, CropWindow(0.0, 0.0, 32.0, 32))  # top-left quarter outside the image
    assert torch.allclose(shifted[0, :, :16, :16], image[0, 0].float().view(3, 1, 1).expand(3, 16, 16), atol=1e-3)
    mask = torch.ones(32, 32, 1)
    padded = crop(mask, CropWindow(0.0, 0.0, 32.0, 32), pad_with_border=False)
    assert float(padded[0, 0, :15, :15].max()) == 0.0 and float(padded[0, 0, 17:, 17:].min()) == 1.0


def test_crop_window_maps_boxes_both_ways_and_pastes_masks_back() -> None:
    window = CropWindow.around(100.0, 50.0, 20.0, 10.0, area_scale=4.0, size=128)
    box = (90.0, 45.0, 20.0, 10.0)
    assert np.allclose(window.box_to_image(window.box_to_crop(box)), box)
    x, y, w, h = (round(v) for v in window.box_to_crop(box))
    crop_mask = np.zeros((128, 128), np.uint8)
    crop_mask[y:y + h, x:x + w] = 1
    pasted = paste_mask(crop_mask, window, (120, 200))
    rows, cols = np.nonzero(pasted)
    assert box_iou((cols.min(), rows.min(), cols.max() + 1 - cols.min(), rows.max() + 1 - rows.min()), box) > 0.9


def test_polygon_box_is_the_published_area_preserving_box_plus_one_pixel() -> None:
    # a VOT rectangle's corners: the same centre, one pixel more per side
    assert polygon_box(np.array([[83, 37], [130, 37], [130, 72], [83, 72]])) == pytest.approx((82.5, 36.5, 48, 36))
    # a square of side 10 turned 45 degrees: its bounds (14.1 px) shrink to its area, then + 1 px
    half = 10 / math.sqrt(2)
    diamond = np.array([[50, 50 - half], [50 + half, 50], [50, 50 + half], [50 - half, 50]])
    assert polygon_box(diamond) == pytest.approx((44.5, 44.5, 11, 11))


def test_polygon_mask_fills_the_truncated_corners_with_their_edge_pixels() -> None:
    window = CropWindow(8.0, 8.0, 16.0, 16)  # one crop pixel per image pixel, origin (0, 0)
    mask = polygon_mask(np.array([[2.7, 3.2], [5.9, 3.2], [5.9, 6.5], [2.7, 6.5]]), window, (16, 16)).numpy()
    expected = np.zeros((16, 16), np.float32)
    expected[3:7, 2:6] = 1  # corners truncated to (2, 3) and (5, 6), both included
    np.testing.assert_allclose(mask, expected, atol=1e-6)


def test_fit_mask_finds_the_largest_blob_its_rotated_box_and_flags_a_large_second_one() -> None:
    mask = np.zeros((200, 200), np.uint8)
    corners = cv2.boxPoints(((80.0, 90.0), (60.0, 30.0), 30.0))
    cv2.fillPoly(mask, [np.round(corners).astype(np.int32)], 1)
    fit = fit_mask(mask, min_area=50, second_ratio=0.4, fit_ratio_range=(0.1, 2.5))
    assert fit is not None and fit.second_contour_large is None  # a single blob leaves the sticky flag alone
    cx, cy, w, h, _ = fit.rotated_box
    assert abs(cx - 80.5) < 1.5 and abs(cy - 90.5) < 1.5 and abs(w * h - 61 * 31) < 0.06 * 1900
    assert fit.area == pytest.approx(cv2.contourArea(cv2.findContours(mask, cv2.RETR_EXTERNAL,
                                                                       cv2.CHAIN_APPROX_NONE)[0][0]))
    rows, cols = np.nonzero(mask)  # the fitted box: the contour's pixel-index extent
    np.testing.assert_array_equal(fit.fitted.min(axis=0), (cols.min(), rows.min()))  # type: ignore[union-attr]
    np.testing.assert_array_equal(fit.fitted.max(axis=0), (cols.max(), rows.max()))  # type: ignore[union-attr]
    rotated = fit_mask(mask, 50, 0.4, (0.1, 2.5), rotated_fit=True)
    assert rotated is not None and rotated.fitted is not None  # the VOT fit: a rotated box close to the rectangle
    assert cv2.contourArea(rotated.fitted.astype(np.float32)) == pytest.approx(60 * 30, rel=0.12)
    cv2.circle(mask, (170, 170), 18, 1, -1)
    assert fit_mask(mask, 50, 0.4, (0.1, 2.5)).second_contour_large  # type: ignore[union-attr]
    cv2.circle(mask, (20, 20), 5, 1, -1)  # a third, small blob: the flag compares the two largest only
    assert fit_mask(mask, 50, 0.4, (0.1, 2.5)).second_contour_large  # type: ignore[union-attr]
    assert fit_mask(np.zeros((50, 50), np.uint8), 50, 0.4, (0.1, 2.5)) is None
    tiny = np.zeros((50, 50), np.uint8)
    tiny[10:15, 10:15] = 1
    assert fit_mask(tiny, 50, 0.4, (0.1, 2.5)) is None


def test_fourier_upsampling_keeps_the_samples_and_gauss_newton_solves_least_squares() -> None:
    score = torch.randn(19, 19)
    up = fourier_upsample(score, 16, 288)
    assert torch.allclose(up[::16, ::16], score[:18, :18], atol=1e-4)
    even = torch.randn(18, 18)  # the published score map: as many scores as cells, an even count
    assert torch.allclose(fourier_upsample(even, 16, 288)[::16, ::16], even, atol=1e-4)
    # the Nyquist row times a sine, exact in between too
    cells, points = torch.arange(18.0), torch.arange(288.0) / 16
    wave = torch.cos(math.pi * cells)[:, None] * torch.sin(2 * math.pi * 3 * cells / 18)[None, :]
    between = torch.cos(math.pi * points)[:, None] * torch.sin(2 * math.pi * 3 * points / 18)[None, :]
    assert torch.allclose(fourier_upsample(wave, 16, 288), between, atol=1e-4)
    a, y = torch.randn(40, 6), torch.randn(40)
    (x,) = gauss_newton_step(lambda v: (a @ v - y,), (torch.zeros(6),), 12)
    assert torch.allclose(x, torch.linalg.lstsq(a, y[:, None]).solution[:, 0], atol=1e-4)
    assert float(mlu(torch.tensor(-10.0), 0.05)) == pytest.approx(-0.05, abs=1e-6)
    assert float(mlu(torch.tensor(2.0), 0.05)) == pytest.approx(2.0)


def test_filter_refresh_equals_the_autodiff_gauss_newton_step_and_learning_fills_then_replaces() -> None:
    torch.manual_seed(0)
    params = TrackerParams(sample_memory_size=40)
    dcf = CorrelationFilter(params, torch.device("cpu"))
    dcf.initialize(torch.randn(8, 32, 12, 12), torch.full((8, 2), 5.5), 1.0)
    dcf.add_sample(dcf.project(torch.randn(1, 32, 12, 12)), (5.0, 5.5), 1.0, 0.02)
    # the published weights: the first online sample gets the rate after the others were divided by 1 - rate
    assert float(dcf.weights[8]) == pytest.approx(0.02 / (1 / 0.98 + 0.02))
    for step in range(39):  # 8 initial samples + 40 online ones: the last 8 replace the lowest weights
        previous = float(dcf.weights[dcf.last_slot])  # type: ignore[index]
        dcf.add_sample(dcf.project(torch.randn(1, 32, 12, 12)), (5.0 + step % 3, 5.5), 1.0, 0.02)
        ratio = float(dcf.weights[dcf.last_slot]) / previous  # type: ignore[index]
        assert ratio == pytest.approx(1 / 0.98, rel=0.03)  # each one the previous one's weight / (1 - rate)
    assert dcf.count == 40 and float(dcf.weights.sum()) == pytest.approx(1.0)
    samples, labels, root_w = dcf.samples, dcf.labels, dcf.weights.sqrt().view(-1, 1, 1)

    def residuals(filt: torch.Tensor) -> tuple[torch.Tensor, ...]:  # samples are stored normalised and projected
        data = mlu(dcf._response(samples, filt), params.mlu_slope) - labels
        return data * root_w, math.sqrt(params.filter_regularization) * dcf.spatial_weight * filt

    (expected,) = gauss_newton_step(residuals, (dcf.filter,), params.update_cg_iterations)
    dcf.refine(params.update_cg_iterations)
    torch.testing.assert_close(dcf.filter, expected, rtol=1e-3, atol=1e-6)  # FFT vs direct convolution


def test_memory_bank_schedule_counts_frames_since_the_last_addition_and_evicts_the_oldest() -> None:
    bank = MemoryBank(TrackerParams())
    added = []
    for frame in range(2, 61):
        if bank.due(frame, hard_negative=False):
            bank.attempted(frame)
            bank.add(frame)
            added.append(frame)
    assert added == [2, 3, 4, 5, 6, 7, 8, 9, 10, 30, 50]  # >= 20 frames since the last one, not every 20th
    assert list(bank.entries) == [9, 10, 30, 50]  # capacity 4, oldest evicted
    assert not bank.due(59, hard_negative=True)  # only 9 frames since frame 50
    assert not MemoryBank(TrackerParams()).due(3, hard_negative=True)  # a hard negative never falls through
    assert bank.due(60, hard_negative=True)
    bank.attempted(60)
    assert not bank.due(79, hard_negative=False) and bank.due(80, hard_negative=False)
    vot = MemoryBank(TrackerParams.profile("vot"))  # hard negatives only, >= 20 frames apart
    assert not any(vot.due(frame, hard_negative=False) for frame in range(2, 100))
    assert not vot.due(19, hard_negative=True) and vot.due(20, hard_negative=True)
    assert not MemoryBank(TrackerParams(bank_capacity=0)).due(2, hard_negative=False)


def test_sample_filter_gates_moving_and_learning() -> None:
    f = SampleFilter(TrackerParams())
    for frame in range(1, 6):  # up to frame 5: u = 0, r = 1, everything accepted
        verdict = f.assess(frame, peak=1.0, confidence=10.0)
        assert (verdict.uncertainty, verdict.ratio, verdict.move, verdict.learn) == (0.0, 1.0, True, True)
    steady = f.assess(6, peak=1.0, confidence=10.0)
    assert steady.uncertainty == pytest.approx(1.0) and steady.learn
    low_confidence = f.assess(7, peak=1.0, confidence=1.0)  # r = 0.1: moves but learns nothing
    assert low_confidence.move and not low_confidence.learn
    assert list(f.confidences)[-1] == 10.0  # r <= 0.3: the confidence is not accepted
    assert next(iter(f.peaks)) == 1.0  # the history is seeded with the first frame's peak, 1
    weak_peak = f.assess(8, peak=0.2, confidence=10.0)  # u = 5: neither moves nor learns
    assert weak_peak.uncertainty == pytest.approx(5.0) and not weak_peak.move and not weak_peak.learn
    assert 0.2 not in f.peaks
    assert f.assess(9, peak=0.0, confidence=0.0).uncertainty == float("inf")


def test_scale_moves_at_most_five_percent_per_frame_and_large_area_changes_reject_the_mask() -> None:
    estimator = ScaleEstimator(TrackerParams())
    estimator.areas.append(100.0)
    steps = (0.95, 1.05)
    grow = estimator.decide(uncertainty=1.0, area=150.0, wanted_scale=1.3, target_scale=1.0, step_range=steps)
    assert grow.accepted and grow.scale_factor == pytest.approx(1.05) and grow.move_to_mask
    assert estimator.decide(1.0, 150.0, 2.0, 1.0, steps).scale_factor == 1.0  # a change >= 0.75 is refused
    huge = estimator.decide(uncertainty=1.0, area=1000.0, wanted_scale=1.0, target_scale=1.0, step_range=steps)
    assert not huge.accepted and huge.scale_factor == 1.0 and not huge.move_to_mask
    unsure = estimator.decide(uncertainty=3.6, area=110.0, wanted_scale=1.02, target_scale=1.0, step_range=steps)
    assert unsure.accepted and unsure.scale_factor == 1.0 and unsure.move_to_mask  # position whatever u is


def test_runtime_parameters_change_between_frames_and_fixed_ones_are_refused() -> None:
    sequence = SyntheticSequence(synthetic_suite(height=96, width=128, num_frames=4)["clean"])
    tracker = build_tracker(weights="standin", device="cpu")
    tracker.initialize(sequence[0].image, box=sequence[0].box)
    tracker.track(sequence[1].image)
    tracker.update_params(uncertainty_threshold=4.0, segm_threshold=0.6)
    assert tracker.params.uncertainty_threshold == 4.0 and tracker.threshold == 0.6
    assert tracker.sample_filter.params is tracker.params and tracker.bank.params is tracker.params
    tracker.track(sequence[2].image)
    with pytest.raises(ValueError, match=r"\['segm_size'\] cannot change while tracking"):
        tracker.update_params(segm_size=256)
    with pytest.raises(ValueError, match="out of range"):
        tracker.update_params(segm_threshold=2.0)
    assert tracker.params.segm_threshold == 0.6  # a refused change leaves the parameters as they were
    assert "segm_size" not in RUNTIME_PARAMS
    tracker.track(sequence[3].image)
