"""docs/evaluate_your_video.md, run as written: every ```bash block of the guide is marked with the cases it belongs
to (<!-- guide-test: a,b -->); each case's blocks run in order, unchanged, in one bash process, on a short generated
video whose target starts at the guide's own BOX. The test then checks what the guide says lands where: the report,
the plots, JCAT and the OpenCV baselines side by side, figures in range. No ROS processes (replay is marked skip)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from jcat_core.eval.metrics import box_iou

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "evaluate_your_video.md"
MARKED = re.compile(r"<!-- guide-test: (?P<tags>[^>]*?) -->\n```bash\n(?P<code>.*?)```", re.S)
CASES = ("a", "b", "c")
TRACKERS = {"jcat", "csrt", "kcf", "mil"}
FRAMES = 20
SIZE = (320, 240)


def guide_text() -> str:
    return GUIDE.read_text()


def blocks() -> list[tuple[set[str], str]]:
    """(cases, code) of every marked bash block, in the guide's order."""
    return [({t.strip() for t in m["tags"].split(",")}, m["code"]) for m in MARKED.finditer(guide_text())]


def script(case: str) -> str:
    return "\n".join(code for tags, code in blocks() if case in tags)


def guide_box() -> tuple[int, int, int, int]:
    values = set(re.findall(r"^BOX=(\S+)", guide_text(), re.M))
    assert len(values) == 1, f"the guide's BOX lines differ: {values}"
    x, y, w, h = (int(v) for v in values.pop().split(","))
    return x, y, w, h


def section(case: str) -> str:
    """The guide's text under '## A. ...' (B., C.) up to the next '## ' heading."""
    match = re.search(rf"^## {case.upper()}\. .*?(?=^## |\Z)", guide_text(), re.M | re.S)
    assert match, f"no '## {case.upper()}.' section in the guide"
    return match[0]


def write_video(folder: Path, box: tuple[int, int, int, int]) -> np.ndarray:
    """myvideo.mp4 (mp4v, 10 fps) of a coloured target moving over a smooth textured background, starting at `box`,
    and its groundtruth.txt as GOT-10k writes it; returns the (FRAMES, 4) true boxes."""
    x0, y0, w, h = box
    width, height = SIZE
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:height, 0:width]
    background = np.stack([90 + 60 * np.sin(xx / 37.0), 110 + 50 * np.cos(yy / 23.0),
                           120 + 40 * np.sin((xx + yy) / 51.0)], -1)
    noise = cv2.GaussianBlur(rng.normal(0, 25, (height, width, 3)), (0, 0), 2)
    background = np.clip(background + noise, 0, 255).astype(np.uint8)
    target = np.zeros((h, w, 3), np.uint8)
    target[:] = (30, 60, 220)
    cv2.circle(target, (w // 3, h // 2), min(w, h) // 4, (240, 220, 40), -1)
    cv2.rectangle(target, (w // 2, h // 5), (w - 4, h - 6), (40, 200, 40), -1)
    writer = cv2.VideoWriter(str(folder / "myvideo.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, SIZE)
    assert writer.isOpened(), "OpenCV cannot write mp4v here"
    truth = []
    for i in range(FRAMES):
        x, y = x0 + 3 * i, y0 + round(10 * np.sin(i / 4.0))
        assert x >= 0 and y >= 0 and x + w <= width and y + h <= height, "the guide's BOX leaves the test video"
        frame = background.copy()
        frame[y:y + h, x:x + w] = target
        writer.write(frame)
        truth.append((x, y, w, h))
    writer.release()
    (folder / "groundtruth.txt").write_text("".join(f"{x:.4f},{y:.4f},{w:.4f},{h:.4f}\n" for x, y, w, h in truth))
    return np.array(truth, float)


def environment() -> dict[str, str]:
    # one torch thread (faster on shared cores); the CPU for both tools, so jcat-bag's figures equal jcat-eval's
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # the venv's console scripts
    return env


def run_guide(case: str, folder: Path) -> str:
    env = environment()
    for tool in ("jcat-eval", "jcat-bag"):
        if not any((Path(d) / tool).is_file() for d in env["PATH"].split(os.pathsep) if d):
            pytest.skip(f"{tool} is not installed (pip install -e '.[eval,ros]' or scripts/setup.sh)")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script(case)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"case {case}: exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def promised_paths(case: str, folder: Path) -> None:
    """Every `runs/...` path the guide's section names exists (<tracker> standing for each tracker)."""
    paths = re.findall(r"`(runs/[^`\s]+)`", section(case))
    assert paths, f"section {case.upper()} names no runs/ path"
    for path in paths:
        for name in sorted(TRACKERS) if "<tracker>" in path else [None]:
            concrete = path.replace("<tracker>", name) if name else path
            assert (folder / concrete).exists(), f"the guide promises {concrete}"


def image(path: Path) -> np.ndarray:
    picture = cv2.imread(str(path))
    assert picture is not None and picture.shape[0] > 50 and picture.shape[1] > 50, f"{path} is not a picture"
    return picture


def boxes(path: Path) -> np.ndarray:
    return np.array([[float(v) for v in re.split(r"[,\s]+", line.strip())]
                     for line in path.read_text().splitlines() if line.strip()])


def in_unit_range(figures: dict[str, float]) -> None:
    for key in ("auc", "precision_20", "normalized_precision", "ao", "sr50", "sr75"):
        assert 0.0 <= figures[key] <= 1.0, (key, figures[key])


def check_jcat_report(out: Path, box: tuple[int, ...], start: str) -> dict:
    report = json.loads((out / "report.json").read_text())
    assert report["init"]["box"] == pytest.approx(list(box)) and report["init"]["frame"] == 0
    assert start in report["init"]["from"]
    assert len(report["per_frame"]) == FRAMES
    assert sum(report["states"]["counts"].values()) == FRAMES
    assert report["system"]["track_time"]["median_ms"] > 0
    for name in ("overlay.mp4", "iou_over_time.png"):
        assert (out / name).stat().st_size > 0, name
    image(out / "frame_strip.png")
    return report


def test_the_guide_marks_every_command_block_and_uses_one_box() -> None:
    text = guide_text()
    marked = blocks()
    assert len(marked) == text.count("```bash"), "a ```bash block of the guide has no <!-- guide-test: ... --> mark"
    tags = set().union(*(t for t, _ in marked))
    assert tags <= {*CASES, "skip (needs ROS processes)"}, tags
    for case in CASES:
        assert script(case).strip(), f"no block for case {case}"
    assert sum(1 for t, _ in marked if not t & set(CASES)) == 1, "only the ROS replay block may go untested"
    guide_box()


@pytest.mark.slow
def test_case_a_video_and_first_frame_box(tmp_path: Path) -> None:
    box = guide_box()
    truth = write_video(tmp_path, box)
    (tmp_path / "groundtruth.txt").unlink()  # case A has no ground truth
    run_guide("a", tmp_path)
    promised_paths("a", tmp_path)

    assert len(list((tmp_path / "sequences/myvideo").glob("*.jpg"))) == FRAMES
    out = tmp_path / "runs/myvideo-side-by-side/got10k"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["trackers"]) == TRACKERS
    assert summary["unscored"] == ["myvideo"] and not summary["skipped"] and not summary["failed"]
    for name, entry in summary["trackers"].items():
        assert entry["run"]["frames"] == FRAMES - 1 and entry["run"]["fps"] > 0, name
        tracked = boxes(out / name / "myvideo" / "myvideo_001.txt")
        assert tracked.shape == (FRAMES, 4) and tracked[0] == pytest.approx(box), name
        assert np.isfinite(tracked).all(), name
    # the frames are the video's, in order: CSRT follows this easy target (checks the extraction, not JCAT)
    assert box_iou(boxes(out / "csrt/myvideo/myvideo_001.txt")[1:], truth[1:]).mean() > 0.5
    assert "unscored" in (out / "report.md").read_text().lower()
    image(out / "plots/strip_myvideo.png")

    assert (tmp_path / "bags/myvideo/metadata.yaml").is_file()
    report = check_jcat_report(tmp_path / "runs/myvideo-jcat", box, "init request")
    assert not report["accuracy"]  # no ground truth: system figures only


@pytest.mark.slow
def test_case_b_video_and_groundtruth(tmp_path: Path) -> None:
    box = guide_box()
    write_video(tmp_path, box)
    stdout = run_guide("b", tmp_path)
    promised_paths("b", tmp_path)

    out = tmp_path / "runs/myvideo-eval/got10k"
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["trackers"]) == TRACKERS
    assert not summary["unscored"] and not summary["skipped"] and not summary["failed"]
    for name, entry in summary["trackers"].items():
        in_unit_range(entry["overall"])
        assert set(entry["per_sequence"]) == {"myvideo"} and entry["fps"] > 0, name
    assert summary["trackers"]["csrt"]["overall"]["auc"] > 0.5  # the ground truth lines up with the frames
    table = (out / "report.md").read_text()
    for name in TRACKERS:
        assert re.search(rf"^\| {name} \| \d\.\d{{3}} \|", table, re.M), f"no scored row for {name}"
        assert f"| {name} |" in stdout  # the table is printed at the end of the run too
    for plot in ("success", "precision", "sequences_auc", "strip_myvideo"):
        image(out / "plots" / f"{plot}.png")

    report = check_jcat_report(tmp_path / "runs/myvideo-gt-jcat", box, "first ground truth")
    accuracy = report["accuracy"]
    in_unit_range(accuracy)
    assert accuracy["frames_with_truth"] == FRAMES - 1
    # the guide: the same figures as jcat-eval on this folder (same frames, start and weights)
    assert accuracy["auc"] == pytest.approx(summary["trackers"]["jcat"]["overall"]["auc"], abs=0.01)


@pytest.mark.slow
def test_case_c_bag_and_box(tmp_path: Path) -> None:
    box = guide_box()
    write_video(tmp_path, box)
    made = subprocess.run([sys.executable, "-m", "jcat_ros.bag.cli", "make", "myvideo.mp4", "mybag"], cwd=tmp_path,
                          env=environment(), capture_output=True, text=True, timeout=300)  # no ground truth, no init
    assert made.returncode == 0, made.stderr
    run_guide("c", tmp_path)
    report = check_jcat_report(tmp_path / "runs/mybag-eval", box, "command line")
    assert not report["accuracy"]
