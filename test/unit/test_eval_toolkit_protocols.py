"""OTB and LaSOT scored as their MATLAB toolkits score them (OTB's calcSeqErrRobust.m / genPerfMat.m /
plotDrawSave.m, LaSOT's calc_seq_err_robust.m / eval_tracker.m / plot_draw_save.m): invalid predictions hold the
previous box, every frame counts in the divisor, ground-truth rows with a value <= 0 (1-based) fail every overlap
threshold and pass every distance threshold, and the first frame's prediction is its ground truth. Hand-computed
cases through ``report`` (the per-dataset default) and the got10k package's ExperimentOTB on the same files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from jcat_core.eval.datasets import load_dataset
from jcat_core.eval.report import ResultSource, report

SIZE = 40  # the fixture frames are SIZE x SIZE
ALL_BUT_TOP = 20 / 21  # a perfect frame passes 20 of the 21 overlap thresholds (not the strict 1.0)


def write_frames(folder: Path, count: int, digits: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, count + 1):
        cv2.imwrite(str(folder / f"{i:0{digits}d}.jpg"), np.full((SIZE, SIZE, 3), 90, np.uint8))


def write_rows(path: Path, rows: np.ndarray | list) -> None:
    """Rows as a benchmark file writes them (1-based where the benchmark is), "nan" for NaN."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join("nan" if np.isnan(v) else f"{v:g}" for v in row) + "\n"
                            for row in np.asarray(rows, float)))


def otb_root(root: Path, truth: dict[str, np.ndarray]) -> Path:
    for name, boxes in truth.items():
        write_frames(root / name / "img", len(boxes), 4)
        write_rows(root / name / "groundtruth_rect.txt", boxes)
    return root


def lasot_root(root: Path, name: str, truth: np.ndarray, occluded: list[int], out_of_view: list[int]) -> Path:
    folder = root / name.split("-")[0] / name
    write_frames(folder / "img", len(truth), 8)
    write_rows(folder / "groundtruth.txt", truth)
    for label, frames in (("full_occlusion", occluded), ("out_of_view", out_of_view)):
        flags = np.zeros(len(truth), int)
        flags[frames] = 1
        (folder / f"{label}.txt").write_text(",".join(map(str, flags)) + "\n")
    return root


def score(family: str, root: Path, results: dict[str, np.ndarray], out: Path, **options) -> dict:
    """report() on result files written as the benchmark's (1-based) files; returns the tracker's summary entry."""
    folder = out / "results"
    for name, rows in results.items():
        write_rows(folder / f"{name}.txt", rows)
    summary = report(load_dataset(family, root), [ResultSource("t", folder, family)], out / "report", **options)
    return summary["trackers"]["t"]


def test_otb_invalid_predictions_hold_the_previous_box(tmp_path: Path) -> None:
    """calcSeqErrRobust.m: a frame after the first whose prediction has w or h <= 0, or is NaN in all four values,
    takes the previous frame's (already held) box; a box NaN in only some values is not held and fails."""
    gt = np.array([[11.0, 11.0, 10.0, 10.0]] * 6)
    pred = np.array([[11, 11, 10, 10],
                     [13, 11, 10, 10],  # 2 px right: IoU 80/120, centre 2 px off
                     [np.nan] * 4,  # held: frame 2's box
                     [11, 11, 0, 10],  # zero width: held, frame 2's box again
                     [np.nan, 11, 10, 10],  # partly NaN: OTB holds only an all-NaN row, so this frame fails
                     [11, 11, 10, 10]], float)
    entry = score("otb", otb_root(tmp_path / "OTB", {"Car": gt}), {"Car": pred}, tmp_path)
    ious = np.array([1, 2 / 3, 2 / 3, 2 / 3, 0, 1])
    assert entry["overall"]["mean_iou"] == pytest.approx(ious.mean())
    assert entry["overall"]["auc"] == pytest.approx(np.mean([(ious > t).mean() for t in np.linspace(0, 1, 21)]))
    assert entry["overall"]["precision_20"] == pytest.approx(5 / 6)


def test_lasot_holds_a_prediction_with_any_nan_and_checks_only_frames_whose_truth_has_no_nan() -> None:
    """calc_seq_err_robust.m tests ``sum(isnan(r))``: one NaN value is enough; no frame is held where the ground
    truth has a NaN, and the first frame is never held (it becomes the ground truth afterwards)."""
    from jcat_core.eval.metrics import LASOT_TOOLKIT, OTB_TOOLKIT, hold_invalid_predictions

    gt = np.array([[10.0, 10.0, 10.0, 10.0]] * 5)
    gt[3, 0] = np.nan
    pred = np.array([[0, 0, -1, 5], [12, 10, 10, 10], [np.nan, 10, 10, 10], [0, 0, 0, 0], [9, 9, 0, 5]], float)
    lasot = hold_invalid_predictions(pred, gt, LASOT_TOOLKIT)
    np.testing.assert_array_equal(lasot[:3], [[0, 0, -1, 5], [12, 10, 10, 10], [12, 10, 10, 10]])
    np.testing.assert_array_equal(lasot[3:], [[0, 0, 0, 0], [0, 0, 0, 0]])  # 3 kept (NaN in its truth), 4 copies 3
    otb = hold_invalid_predictions(pred, gt, OTB_TOOLKIT)
    assert np.isnan(otb[2, 0]) and otb[2, 1] == 10  # partly NaN: not held by OTB
    first_bad = hold_invalid_predictions(np.array([[0, 0, 0, 0], [1, 1, 0, 1]], float), gt[:2], OTB_TOOLKIT)
    np.testing.assert_array_equal(first_bad, [[0, 0, 0, 0], [0, 0, 0, 0]])  # frame 2 copies the raw frame 1


def test_lasot_divides_by_every_frame_absent_ones_failing(tmp_path: Path) -> None:
    """eval_tracker.m divides the hits by ``size(anno, 1)``: frames flagged full_occlusion or out_of_view are
    removed from the hits but stay in the divisor."""
    gt = np.array([[5.0, 6.0, 12.0, 9.0]] * 8)
    root = lasot_root(tmp_path / "LaSOT", "cat-1", gt, occluded=[3, 4], out_of_view=[6])
    entry = score("lasot", root, {"cat-1": gt}, tmp_path)  # a perfect tracker
    assert entry["overall"]["auc"] == pytest.approx(ALL_BUT_TOP * 5 / 8)
    assert entry["overall"]["precision_20"] == pytest.approx(5 / 8)
    assert entry["overall"]["normalized_precision"] == pytest.approx(5 / 8)
    assert entry["per_sequence"]["cat-1"]["auc"] == pytest.approx(ALL_BUT_TOP * 5 / 8)
    assert entry["scoring"] == "lasot-toolkit"


def test_otb_truth_rows_with_a_value_at_or_below_zero_fail_overlap_and_pass_distance(tmp_path: Path) -> None:
    """calcSeqErrRobust.m: ``idx = sum(rect_anno > 0, 2) == 4``; other rows get errCoverage -1 (below every overlap
    threshold) and errCenter -1 (within every distance threshold), and genPerfMat.m still counts them."""
    gt = np.array([[11.0, 11.0, 10.0, 10.0],
                   [0.0, 11.0, 10.0, 10.0],  # x = 0 in the 1-based file: rejected
                   [0.5, 11.0, 10.0, 10.0],  # x = 0.5 > 0: scored as usual
                   [11.0, 11.0, 0.0, 10.0],  # zero width: rejected (was: target absent, left out)
                   [11.0, 11.0, 10.0, 10.0]])
    pred = gt.copy()
    pred[1:4] = [[30, 30, 5, 5]] * 3  # far off: IoU 0 and over 20 px wherever it is scored
    entry = score("otb", otb_root(tmp_path / "OTB", {"Edge": gt}), {"Edge": pred}, tmp_path)
    # success: frames 1 and 5 pass 20 thresholds, the rest none; precision: 1, 5 and the two rejected rows
    assert entry["overall"]["auc"] == pytest.approx(ALL_BUT_TOP * 2 / 5)
    assert entry["overall"]["precision_20"] == pytest.approx(4 / 5)
    assert entry["overall"]["mean_iou"] == pytest.approx(2 / 5)


def test_lasot_absent_flags_come_before_the_truth_check(tmp_path: Path) -> None:
    """calc_seq_err_robust.m removes the absent frames first: an all-zero row flagged absent fails every threshold
    (a frame of the divisor with no hit); the same row not flagged passes every distance threshold."""
    gt = np.array([[5.0, 6.0, 12.0, 9.0], [0, 0, 0, 0], [0, 0, 0, 0], [5.0, 6.0, 12.0, 9.0]])
    pred = np.array([[5.0, 6.0, 12.0, 9.0]] * 4)
    root = lasot_root(tmp_path / "LaSOT", "dog-1", gt, occluded=[1], out_of_view=[])
    entry = score("lasot", root, {"dog-1": pred}, tmp_path)
    assert entry["overall"]["precision_20"] == pytest.approx(3 / 4)  # frames 1, 3 (rejected row) and 4
    assert entry["overall"]["normalized_precision"] == pytest.approx(3 / 4)
    assert entry["overall"]["auc"] == pytest.approx(ALL_BUT_TOP * 2 / 4)


def test_the_first_prediction_is_replaced_by_the_ground_truth(tmp_path: Path) -> None:
    """``rectMat(1,:) = rect_anno(1,:)`` (OTB) and ``rect_mat(1,:) = rect_anno(1,:)`` (LaSOT), as got10k's and
    pytracking's ports do: a published file whose first line is not the initial box scores frame 1 as perfect."""
    gt = np.array([[11.0, 11.0, 10.0, 10.0]] * 4)
    pred = gt.copy()
    pred[0] = [25, 25, 10, 10]
    entry = score("otb", otb_root(tmp_path / "OTB", {"Car": gt}), {"Car": pred}, tmp_path)
    assert entry["overall"]["auc"] == pytest.approx(ALL_BUT_TOP)


def test_toolkit_curves_leave_out_sequences_whose_curve_is_all_zero(tmp_path: Path) -> None:
    """plotDrawSave.m / plot_draw_save.m: ``aa = aa(sum(aa, 2) > eps, :)`` before the mean over sequences. With the
    first frame replaced by its truth this needs a rejected first row; here the success curve of "Edge" is all
    zero (so left out of the success mean) while its precision curve is not (the rejected row passes)."""
    good = np.array([[11.0, 11.0, 10.0, 10.0]] * 3)
    edge = np.array([[0.0, 11.0, 10.0, 10.0]] * 3)  # x = 0 (1-based) on every frame: all rows rejected
    truth = {"Good": good, "Edge": edge}
    entry = score("otb", otb_root(tmp_path / "OTB", truth), {"Good": good, "Edge": edge}, tmp_path)
    assert entry["per_sequence"]["Edge"]["auc"] == 0.0
    assert entry["overall"]["auc"] == pytest.approx(ALL_BUT_TOP)  # "Good" alone
    assert entry["overall"]["precision_20"] == pytest.approx(1.0)  # both sequences, every frame a hit


def test_present_frames_scoring_stays_available(tmp_path: Path) -> None:
    """The previous convention (only the frames where the target is present; invalid predictions fail) is still
    evaluate_boxes' default and can be asked of report() for OTB/LaSOT."""
    from jcat_core.eval.metrics import LASOT_TOOLKIT, PRESENT_FRAMES, evaluate_boxes

    gt = np.array([[5.0, 6.0, 12.0, 9.0]] * 8)
    present = evaluate_boxes(gt, gt, visible=np.arange(8) % 4 != 3)
    assert present.protocol == PRESENT_FRAMES and present.num_frames == 6
    assert present.auc == pytest.approx(ALL_BUT_TOP)
    toolkit = evaluate_boxes(gt, gt, visible=np.arange(8) % 4 != 3, protocol=LASOT_TOOLKIT)
    assert toolkit.num_frames == 8 and toolkit.auc == pytest.approx(ALL_BUT_TOP * 6 / 8)

    root = lasot_root(tmp_path / "LaSOT", "cat-1", gt, occluded=[3], out_of_view=[7])
    entry = score("lasot", root, {"cat-1": gt}, tmp_path, protocol=PRESENT_FRAMES)
    assert entry["overall"]["auc"] == pytest.approx(ALL_BUT_TOP) and entry["scoring"] == "present-frames"


class _FixtureOTB:
    """What got10k's ExperimentOTB.report reads of its dataset: names, and (frames, 1-based truth) per sequence."""

    def __init__(self, root: Path, names: list[str]) -> None:
        self.seq_names = names
        self.annos = [np.loadtxt(root / n / "groundtruth_rect.txt", delimiter=",") for n in names]

    def __len__(self) -> int:
        return len(self.seq_names)

    def __iter__(self):
        return iter([([], anno) for anno in self.annos])


def got10k_otb_report(root: Path, names: list[str], results: Path, out: Path) -> dict:
    """got10k's ExperimentOTB.report (the package's code, unchanged) on our fixture and one result folder."""
    from got10k.experiments.otb import ExperimentOTB

    experiment = ExperimentOTB.__new__(ExperimentOTB)  # its __init__ would download OTB
    experiment.dataset = _FixtureOTB(root, names)
    experiment.result_dir, experiment.report_dir = str(results.parent), str(out)
    experiment.nbins_iou, experiment.nbins_ce = 21, 51
    return experiment.report([results.name])[results.name]


def test_otb_against_got10k_experiment_otb(tmp_path: Path) -> None:
    """got10k's ExperimentOTB follows the MATLAB toolkit in dividing by every frame and replacing the first
    prediction by the truth, but does not hold invalid predictions (NaN fails, zero size scores IoU 0): our scores
    equal its report on valid files, and on files with invalid boxes equal its report once the toolkit's hold rule
    is applied to the files, not before."""
    pytest.importorskip("got10k.experiments.otb", reason="the got10k package (eval extra)")
    rng = np.random.default_rng(11)
    truth, raw = {}, {}
    for name, length in (("Basketball", 30), ("Coke", 24), ("Deer", 18)):
        path = 60 + np.cumsum(rng.normal(0, 3, (length, 2)), axis=0)  # a target moving a few pixels a frame
        boxes = np.column_stack([np.clip(path, 1, None), rng.uniform(20, 60, 2) + rng.normal(0, 1, (length, 2))])
        pred = boxes + np.column_stack([rng.normal(0, 6, (length, 2)), rng.normal(0, 3, (length, 2))])
        pred[:, 2:] = np.abs(pred[:, 2:]) + 1
        pred[0] += 3  # a first line that is not the initial box
        truth[name], raw[name] = boxes.round(2), pred.round(2)
    root = otb_root(tmp_path / "OTB", truth)
    names = sorted(truth)

    valid = score("otb", root, raw, tmp_path / "valid")
    theirs = got10k_otb_report(root, names, tmp_path / "valid" / "results", tmp_path / "g_valid")
    assert valid["overall"]["auc"] == pytest.approx(theirs["overall"]["success_score"], abs=1e-12)
    assert valid["overall"]["precision_20"] == pytest.approx(theirs["overall"]["precision_score"], abs=1e-12)
    for name in names:
        assert valid["per_sequence"][name]["auc"] == pytest.approx(theirs["seq_wise"][name]["success_score"],
                                                                    abs=1e-12)

    broken = {name: pred.copy() for name, pred in raw.items()}
    broken["Basketball"][[4, 5, 17]] = np.nan  # two in a row: the second holds the first's held box
    broken["Coke"][[2, 9], 2] = 0.0  # zero width
    broken["Deer"][7, 3] = -4.0  # negative height
    held = {}
    for name, pred in broken.items():  # the toolkit's rule, written out for this case (valid truth everywhere)
        held[name] = pred.copy()
        for i in range(1, len(pred)):
            if np.isnan(held[name][i]).all() or held[name][i, 2] <= 0 or held[name][i, 3] <= 0:
                held[name][i] = held[name][i - 1]
    ours = score("otb", root, broken, tmp_path / "broken")
    score("otb", root, held, tmp_path / "held")  # writes the held files where got10k reads them
    with_hold = got10k_otb_report(root, names, tmp_path / "held" / "results", tmp_path / "g_held")
    without = got10k_otb_report(root, names, tmp_path / "broken" / "results", tmp_path / "g_broken")
    assert ours["overall"]["auc"] == pytest.approx(with_hold["overall"]["success_score"], abs=1e-12)
    assert ours["overall"]["precision_20"] == pytest.approx(with_hold["overall"]["precision_score"], abs=1e-12)
    assert abs(ours["overall"]["auc"] - without["overall"]["success_score"]) > 1e-3  # got10k's port differs here
    assert ours["overall"]["auc"] > without["overall"]["success_score"]  # a held box still overlaps the target


def test_lasot_cuts_results_longer_than_the_ground_truth(tmp_path: Path) -> None:
    """calc_seq_err_robust.m cuts the results to the annotation's length (monkey-17); OTB refuses the mismatch."""
    gt = np.array([[11.0, 11.0, 10.0, 10.0]] * 4)
    pred = np.vstack([gt, [[30.0, 30.0, 5.0, 5.0]] * 2])  # two rows past the last annotated frame
    entry = score("lasot", lasot_root(tmp_path / "LaSOT", "cat-1", gt, occluded=[], out_of_view=[]), {"cat-1": pred},
                  tmp_path / "lasot")
    assert entry["overall"]["mean_iou"] == pytest.approx(1.0)
    entry = score("otb", otb_root(tmp_path / "OTB", {"Car": gt}), {"Car": pred}, tmp_path / "otb")
    assert "6 result boxes for 4 frames" in str(entry.get("missing"))
