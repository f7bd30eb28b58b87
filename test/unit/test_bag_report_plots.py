"""jcat-bag's report pictures: without ground truth the over-time plot draws the tracker's score, not an empty IoU
axis; frames are numbered from 1 (#1 = the first frame, 00000001.jpg of a GOT-10k folder) in jcat-bag's overlay,
frame strip and plot, as in jcat-eval's strip."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from matplotlib.figure import Figure

from jcat_core.eval import plots
from jcat_ros.bag.records import FrameRecord, RunResult, fill_ious
from jcat_ros.bag.report import OverlayVideo, write_report

SCORES = [1.0, 0.9, 0.8, 0.3, 0.7, 0.6]
STATES = ["TRACKING", "TRACKING", "TRACKING", "UNCERTAIN", "TRACKING", "TRACKING"]


def result(truth: bool) -> RunResult:
    records = [FrameRecord(i, 10**8 * i, state=state, score=score, box=(10.0 + i, 10.0, 20.0, 15.0),
                           gt_known=truth, gt_box=(10.0, 10.0, 20.0, 15.0) if truth else None)
               for i, (state, score) in enumerate(zip(STATES, SCORES, strict=True))]
    fill_ious(records)
    return RunResult("eval", "/bags/mybag", "/camera/image_raw", "standin",
                     {"frame": 0, "box": [10.0, 10.0, 20.0, 15.0], "from": "command line"}, records)


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> dict[str, Figure]:
    """Every figure saved, by file name."""
    saved: dict[str, Figure] = {}
    real = Figure.savefig

    def spy(self: Figure, path, *args, **kwargs):
        saved[Path(str(path)).name] = self
        return real(self, path, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    return saved


def test_without_ground_truth_the_over_time_plot_draws_the_score(tmp_path: Path, figures: dict) -> None:
    paths = write_report(result(truth=False), tmp_path)
    plot = Path(next(p for p in paths.values() if Path(p).name == "iou_over_time.png"))
    assert plot.stat().st_size > 0
    axes = figures[plot.name].axes[0]
    assert "IoU" not in axes.get_title() and "no ground truth" in axes.get_title() and "score" in axes.get_title()
    assert axes.get_ylabel() != "IoU"
    [line] = axes.get_lines()
    assert list(line.get_ydata()) == pytest.approx(SCORES)


def test_with_ground_truth_the_over_time_plot_draws_the_iou(tmp_path: Path, figures: dict) -> None:
    write_report(result(truth=True), tmp_path / "truth")
    axes = figures["iou_over_time.png"].axes[0]
    assert "IoU with the ground truth" in axes.get_title()
    ious = [r.iou for r in result(truth=True).records]
    assert list(axes.get_lines()[0].get_ydata()) == pytest.approx([math.nan if v is None else v for v in ious],
                                                                  nan_ok=True)


def test_both_tools_number_frames_from_1(tmp_path: Path, figures: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    labels: list[str] = []
    real = cv2.putText

    def put_text(image, text, *args, **kwargs):
        labels.append(text)
        return real(image, text, *args, **kwargs)

    monkeypatch.setattr(cv2, "putText", put_text)
    video = OverlayVideo(tmp_path / "overlay.mp4", 10)
    run = result(truth=True)
    for record in run.records:
        video.add(np.zeros((48, 64, 3), np.uint8), record, None)
    video.close()
    assert video.frame_strip(tmp_path / "frame_strip.png") is not None
    assert labels[0].split()[0] == "#1" and labels[-1].split()[0] == f"#{len(run.records)}"  # the first frame: #1
    write_report(run, tmp_path / "report")
    assert figures["iou_over_time.png"].axes[0].get_lines()[0].get_xdata()[0] == 1  # the plot counts alike

    truth = np.array([[10.0, 10.0, 20.0, 15.0]] * 6)
    plots.qualitative_strip(lambda i: np.zeros((48, 64, 3), np.uint8), [0, 5], truth, {"csrt": truth}, {},
                            "strip", tmp_path / "strip")
    assert [a.get_title() for a in figures["strip.png"].axes] == ["#1", "#6"]  # jcat-eval's strip
