"""The real-footage evaluation set (docs/REAL_CLIPS.md): the committed labels agree with clips.json and the image
sizes, the keyframe corrections are what the labels say, accuracy_real's state-calibration shares, and (slow) the
fetch script plus a short benchmark run end to end."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jcat_core.eval.datasets.base import read_flags, read_numbers

REPO = Path(__file__).resolve().parents[2]
LABELS = REPO / "benchmarks" / "real_clips"
CATALOGUE = json.loads((LABELS / "clips.json").read_text())["clips"]


def accuracy_real():
    """benchmarks/accuracy_real.py as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location("accuracy_real", REPO / "benchmarks" / "accuracy_real.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def labels(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A clip's boxes and its absent flags (all False without absence.label)."""
    boxes = read_numbers(LABELS / name / "groundtruth.txt", 4)
    absence = LABELS / name / "absence.label"
    return boxes, read_flags(absence) if absence.is_file() else np.zeros(len(boxes), bool)


def test_the_set_has_at_least_four_clips_and_800_frames_with_a_target_that_leaves() -> None:
    assert len(CATALOGUE) >= 4
    assert sum(clip["frames"] for clip in CATALOGUE.values()) >= 800
    assert {"box", "cup"} <= set(CATALOGUE)
    assert any(labels(name)[1].any() for name in CATALOGUE)


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_labels_have_one_box_per_frame_inside_the_image_or_are_marked_absent(name: str) -> None:
    clip = CATALOGUE[name]
    boxes, absent = labels(name)
    assert len(boxes) == len(absent) == clip["frames"]
    assert clip["start"] + clip["frames"] <= clip["video_frames"]
    assert np.isnan(boxes[absent]).all()
    present = boxes[~absent]
    width, height = clip["size"]
    assert np.isfinite(present).all() and (present[:, 2:] > 0).all()
    assert (present[:, :2] >= 0).all()
    assert (present[:, 0] + present[:, 2] <= width).all() and (present[:, 1] + present[:, 3] <= height).all()
    assert not absent[0]  # trackers start from frame 0's box


@pytest.mark.parametrize("name", [n for n in CATALOGUE if (LABELS / n / "keyframes.json").is_file()])
def test_keyframe_corrections_are_in_the_labels(name: str) -> None:
    corrections = json.loads((LABELS / name / "keyframes.json").read_text())
    boxes, absent = labels(name)
    for frame, box in corrections["keyframes"].items():
        np.testing.assert_allclose(boxes[int(frame)], box)
    for first, last in corrections["absent"]:
        assert absent[first:last + 1].all()
    assert absent.sum() == sum(last - first + 1 for first, last in corrections["absent"])


def test_calibration_counts_tracking_reports_by_iou_and_presence() -> None:
    module = accuracy_real()
    pairs = [(0.1, True), (0.2, False), (0.29, True), (0.3, True), (0.5, True), (0.9, False), (0.7, True),
             (0.0, True), (0.0, False)]  # the last two: target absent
    ious, tracking = zip(*pairs, strict=True)
    present = np.array([True] * 7 + [False] * 2)
    result = module.calibration(np.array(ious), np.array(tracking), present)
    assert (result.low_iou_frames, result.high_iou_frames, result.absent_frames) == (3, 3, 2)
    assert result.low_iou_tracking == pytest.approx(2 / 3)
    assert result.high_iou_tracking == pytest.approx(2 / 3)
    assert result.absent_tracking == pytest.approx(1 / 2)
    pooled = module.pooled([result, module.calibration(np.array([0.1]), np.array([False]), np.array([True]))])
    assert pooled.low_iou_frames == 4 and pooled.low_iou_tracking == pytest.approx(2 / 4)
    assert np.isnan(module.calibration(np.array([0.4]), np.array([True]), np.array([True])).low_iou_tracking)


def test_accuracy_real_exits_2_naming_the_fetch_command_without_clips(tmp_path: Path, capsys,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    module = accuracy_real()
    monkeypatch.setattr(sys, "argv", ["accuracy_real.py", "--root", str(tmp_path)])
    with pytest.raises(SystemExit) as stop:
        module.main()
    assert stop.value.code == 2
    assert "scripts/fetch_real_clips.sh" in capsys.readouterr().err


@pytest.mark.slow
def test_fetch_then_a_short_benchmark_run(tmp_path: Path) -> None:
    """Downloads opencv-doc (~96 MB) from the Debian mirror, decodes the clips, then runs every tracker on 20 frames
    of cup (and the procedural synthetic suite; the textured one is switched off)."""
    dest = tmp_path / "clips"
    subprocess.run([str(REPO / "scripts" / "fetch_real_clips.sh"), str(dest)], check=True, timeout=900)
    assert (dest / "list.txt").read_text().split() == list(CATALOGUE)
    assert len(list((dest / "cup").glob("*.jpg"))) == CATALOGUE["cup"]["frames"]
    env = {**os.environ, "JCAT_TEXTURE_DIR": str(tmp_path / "no_textures")}
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "accuracy_real.py"), "--root", str(dest),
                           "--clips", "cup", "--max-frames", "20"], capture_output=True, text=True, env=env,
                          timeout=900, check=True)
    rows = [line.split()[:2] for line in done.stdout.splitlines()]
    assert ["cup", "jcat"] in rows and ["cup", "csrt"] in rows
    again = subprocess.run([str(REPO / "scripts" / "fetch_real_clips.sh"), str(dest)], capture_output=True,
                           text=True, check=True, timeout=120)
    assert "already in" in again.stdout
