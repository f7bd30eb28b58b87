"""Metrics on hand-computed cases and against the got10k package's independent implementation."""

from __future__ import annotations

import numpy as np
import pytest

from jcat_core.eval.metrics import (
    IOU_THRESHOLDS,
    aggregate,
    boundary_f_measure,
    box_iou,
    center_errors,
    clip_to_image,
    evaluate_boxes,
    evaluate_masks,
    mask_iou,
)

GT = np.array([[10.0, 20.0, 40.0, 30.0]] * 4)


def test_perfect_prediction_scores_one_except_the_strict_top_threshold() -> None:
    m = evaluate_boxes(GT, GT)
    np.testing.assert_allclose(m.ious, 1.0)
    np.testing.assert_allclose(m.center_errors, 0.0)
    # IoU 1 is above every threshold but the last (1.0, strict as in OTB): AUC = 20/21
    assert m.auc == pytest.approx(20 / 21)
    assert m.success[-1] == 0.0 and np.all(m.success[:-1] == 1.0)
    for score in (m.precision_20, m.normalized_precision, m.ao, m.sr50, m.sr75, m.mean_iou):
        assert score == pytest.approx(1.0)


def test_shifted_boxes_by_hand() -> None:
    gt = np.array([[0.0, 0.0, 10.0, 10.0]] * 3)
    pred = np.array([[5.0, 0.0, 10.0, 10.0],  # overlap 50 of 150: IoU 1/3, centre 5 px off
                     [0.0, 0.0, 10.0, 5.0],  # inside, half the area: IoU 1/2, centre 2.5 px off
                     [30.0, 0.0, 10.0, 10.0]])  # disjoint: IoU 0, centre 30 px off
    np.testing.assert_allclose(box_iou(pred, gt), [1 / 3, 1 / 2, 0.0])
    np.testing.assert_allclose(center_errors(pred, gt), [5.0, 2.5, 30.0])
    m = evaluate_boxes(pred, gt)
    assert m.ao == pytest.approx((1 / 3 + 1 / 2) / 3)
    assert m.sr50 == 0.0  # 0.5 is not strictly above 0.5
    assert m.precision_20 == pytest.approx(2 / 3)
    # normalised by the 10 px box: 0.5, 0.25, 3.0 -> none within 0.2
    assert m.normalized_precision == 0.0
    expected = np.mean([(np.array([1 / 3, 1 / 2, 0.0]) > t).mean() for t in IOU_THRESHOLDS])
    assert m.auc == pytest.approx(expected)


def test_normalized_precision_uses_the_ground_truth_size() -> None:
    gt = np.array([[0.0, 0.0, 100.0, 10.0]] * 2)
    pred = np.array([[10.0, 0.0, 100.0, 10.0],  # 10 px off along the 100 px side: 0.1
                     [0.0, 3.0, 100.0, 10.0]])  # 3 px off along the 10 px side: 0.3
    m = evaluate_boxes(pred, gt)
    assert m.normalized_precision == pytest.approx(0.5)
    assert m.precision_20 == pytest.approx(1.0)


def test_missing_predictions_fail_and_absent_targets_are_left_out() -> None:
    gt = np.array([[0, 0, 10, 10], [np.nan] * 4, [0, 0, 0, 10], [0, 0, 10, 10], [0, 0, 10, 10]], float)
    pred = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [np.nan] * 4, [0, 0, 10, 10]], float)
    visible = np.array([True, True, True, True, False])
    m = evaluate_boxes(pred, gt, visible)
    # frame 1 NaN gt, frame 2 zero width, frame 4 not visible: frames 0 and 3 remain; 3 has no prediction
    np.testing.assert_array_equal(m.frames, [0, 3])
    np.testing.assert_allclose(m.ious, [1.0, 0.0])
    assert m.center_errors[1] == np.inf
    assert m.ao == pytest.approx(0.5) and m.precision_20 == pytest.approx(0.5)


def test_empty_input_gives_nan_scores() -> None:
    m = evaluate_boxes(np.zeros((0, 4)), np.zeros((0, 4)))
    assert m.num_frames == 0
    assert all(np.isnan(v) for v in m.scores().values())
    all_absent = evaluate_boxes(GT, GT, visible=np.zeros(4, bool))
    assert np.isnan(all_absent.auc)


def test_shape_errors_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        evaluate_boxes(np.zeros((3, 5)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="3 predicted boxes for 2"):
        evaluate_boxes(np.zeros((3, 4)), np.zeros((2, 4)))


def test_aggregate_averages_curves_over_sequences_and_pools_frames_for_ao() -> None:
    a = evaluate_boxes(GT[:1], GT[:1])  # one frame, IoU 1
    gt = np.array([[0.0, 0.0, 10.0, 10.0]] * 3)
    b = evaluate_boxes(gt + np.array([30.0, 0, 0, 0]), gt)  # three frames, IoU 0, centre 30 px off
    total = aggregate([a, b, evaluate_boxes(np.zeros((0, 4)), np.zeros((0, 4)))])
    assert total.auc == pytest.approx((a.auc + b.auc) / 2)
    assert total.precision_20 == pytest.approx(0.5)
    assert total.ao == pytest.approx(1 / 4)  # pooled over the 4 frames, as the GOT-10k toolkit
    assert total.num_frames == 4


def test_mask_iou_and_boundary_f() -> None:
    empty = np.zeros((20, 20), bool)
    square = empty.copy()
    square[5:15, 5:15] = True
    half = empty.copy()
    half[5:15, 5:10] = True
    assert mask_iou(empty, empty) == 1.0
    assert mask_iou(square, empty) == 0.0
    assert mask_iou(square, square) == 1.0
    assert mask_iou(half, square) == pytest.approx(0.5)
    assert boundary_f_measure(square, square) == 1.0
    assert boundary_f_measure(empty, empty) == 1.0
    assert boundary_f_measure(square, empty) == 0.0
    far = empty.copy()
    far[0:3, 17:20] = True
    assert boundary_f_measure(far, square) == 0.0
    m = evaluate_masks([square, half, empty], [square, square, empty])
    np.testing.assert_allclose(m.j, [1.0, 0.5, 1.0])
    assert m.j_mean == pytest.approx(2.5 / 3)
    assert m.jf_mean == pytest.approx((m.j_mean + m.f_mean) / 2)


def test_against_the_got10k_package() -> None:
    got10k_metrics = pytest.importorskip("got10k.utils.metrics", reason="the got10k package (eval extra)")
    from got10k.experiments.got10k import ExperimentGOT10k
    from got10k.experiments.otb import ExperimentOTB

    rng = np.random.default_rng(3)
    gt = np.column_stack([rng.uniform(0, 200, (300, 2)), rng.uniform(5, 80, (300, 2))])
    pred = gt + rng.normal(0, 12, gt.shape)
    pred[:, 2:] = np.abs(pred[:, 2:]) + 1
    ious = box_iou(pred, gt)
    np.testing.assert_allclose(ious, got10k_metrics.rect_iou(pred.copy(), gt.copy()), atol=1e-9)
    np.testing.assert_allclose(center_errors(pred, gt), got10k_metrics.center_error(pred, gt), atol=1e-9)

    otb = ExperimentOTB.__new__(ExperimentOTB)  # only the curve code, without the dataset it would download
    otb.nbins_iou, otb.nbins_ce = 21, 51
    success, precision = otb._calc_curves(ious, center_errors(pred, gt))
    m = evaluate_boxes(pred, gt)
    np.testing.assert_allclose(m.success, success, atol=1e-12)
    np.testing.assert_allclose(m.precision, precision, atol=1e-12)
    assert m.auc == pytest.approx(float(np.mean(success)), abs=1e-12)
    assert m.precision_20 == pytest.approx(float(precision[20]), abs=1e-12)

    ao, sr, _, _ = ExperimentGOT10k.__new__(ExperimentGOT10k)._evaluate(ious, np.zeros(0))
    assert m.ao == pytest.approx(ao, abs=1e-12)
    assert m.sr50 == pytest.approx(sr, abs=1e-12)


def test_boxes_outside_the_image_against_the_got10k_package() -> None:
    """GOT-10k's toolkit bounds both boxes by the image before IoU; OTB's computes IoU on the boxes as given."""
    got10k_metrics = pytest.importorskip("got10k.utils.metrics", reason="the got10k package (eval extra)")
    from got10k.experiments.got10k import ExperimentGOT10k

    size = (160.0, 120.0)
    rng = np.random.default_rng(7)
    gt = np.column_stack([rng.uniform(-20, 150, (400, 2)), rng.uniform(5, 70, (400, 2))])
    pred = gt + np.column_stack([rng.normal(0, 40, (400, 2)), rng.normal(0, 15, (400, 2))])
    pred[:, 2:] = np.abs(pred[:, 2:]) + 1
    pred[:10, 0] = rng.uniform(170, 300, 10)  # wholly right of the image
    pred[10:20, 1] = -pred[10:20, 3] - rng.uniform(1, 50, 10)  # wholly above it
    bounded = got10k_metrics.rect_iou(pred.copy(), gt.copy(), bound=size)
    assert np.abs(bounded - got10k_metrics.rect_iou(pred.copy(), gt.copy())).max() > 0.1  # the case matters

    m = evaluate_boxes(pred, gt, image_size=size)
    np.testing.assert_allclose(m.ious, bounded, atol=1e-9)
    ao, sr, _, _ = ExperimentGOT10k.__new__(ExperimentGOT10k)._evaluate(bounded, np.zeros(0))
    assert m.ao == pytest.approx(ao, abs=1e-12) and m.sr50 == pytest.approx(sr, abs=1e-12)
    clipped_pred, clipped_gt = pred.copy(), gt.copy()
    got10k_metrics.rect_iou(clipped_pred, clipped_gt, bound=size)  # bounds its arguments in place
    np.testing.assert_allclose(clip_to_image(pred, size), clipped_pred, atol=1e-12)
    np.testing.assert_allclose(clip_to_image(gt, size), clipped_gt, atol=1e-12)

    unbounded = evaluate_boxes(pred, gt)  # OTB (and LaSOT, TrackingNet): the boxes as given
    np.testing.assert_allclose(unbounded.ious, got10k_metrics.rect_iou(pred.copy(), gt.copy()), atol=1e-9)
    np.testing.assert_allclose(unbounded.center_errors, got10k_metrics.center_error(pred, gt), atol=1e-9)
