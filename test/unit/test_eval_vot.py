"""The VOT-style supervised run on hand-checked cases, the `jcat-eval vot` command, and the TraX wrapper driven
through the TraX protocol.

The TraX test plays the VOT toolkit's part with vot-trax's own client instead of running `vot test`: vot-toolkit
requires opencv-python, which would shadow opencv-contrib's trackers in this environment, so it is not installed
here (docs/evaluation.md, "VOT toolkit", shows `vot test` from a separate environment).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from jcat_core.cli.eval import main
from jcat_core.eval.datasets import load_dataset, write_synthetic
from jcat_core.eval.metrics import box_iou, mask_iou
from jcat_core.eval.results import VOT_FAILURE, VOT_INIT, VOT_SKIP, read_vot
from jcat_core.eval.trackers import TrackerSpec, parse_params
from jcat_core.eval.vot import SupervisedConfig, box_polygon, polygon_overlap, supervised_run
from jcat_core.tracker.tracker import TrackerState, TrackOutput

N = 30


def vot_fixture(root: Path) -> Path:
    """One VOT sequence of N frames, a 10x8 target moving 1 px per frame, rectangles as ground truth."""
    (root / "walk" / "color").mkdir(parents=True)
    boxes = [(5.0 + i, 6.0, 10.0, 8.0) for i in range(N)]
    for i in range(N):
        cv2.imwrite(str(root / "walk" / "color" / f"{i + 1:08d}.jpg"), np.full((40, 60, 3), 100, np.uint8))
    (root / "walk" / "groundtruth.txt").write_text("\n".join(",".join(str(v) for v in b) for b in boxes) + "\n")
    (root / "list.txt").write_text("walk\n")
    return root


class Scripted:
    """A tracker that reports the ground truth shifted by half the width (IoU 1/3), and a far box on frame 12."""

    def __init__(self, boxes: np.ndarray) -> None:
        self.boxes, self.frame, self.starts = boxes, 0, []

    def initialize(self, image: np.ndarray, box: tuple | None = None, polygon: np.ndarray | None = None) -> None:
        if polygon is not None:  # a polygon tracker gets the box's corners
            (x0, y0), (x1, y1) = polygon.min(axis=0), polygon.max(axis=0)
            box = (x0, y0, x1 - x0, y1 - y0)
        self.frame = int(np.flatnonzero((self.boxes == np.array(box)).all(axis=1))[0])
        self.starts.append(self.frame)
        self.regions = [*getattr(self, "regions", []), "polygon" if polygon is not None else "box"]

    def track(self, image: np.ndarray) -> TrackOutput:
        self.frame += 1
        x, y, w, h = self.boxes[self.frame]
        box = (x + 40.0, y, w, h) if self.frame == 12 else (x + w / 2, y, w, h)
        return TrackOutput(box, (box[0] + w / 2, y + h / 2, w, h, 0.0), np.zeros((40, 60), bool), 1.0,
                           TrackerState.TRACKING)


def test_polygon_overlap_by_hand() -> None:
    square = box_polygon(np.array([0.0, 0.0, 10.0, 10.0]))
    assert polygon_overlap(square, square) == pytest.approx(1.0)
    assert polygon_overlap(square, box_polygon(np.array([5.0, 0.0, 10.0, 10.0]))) == pytest.approx(1 / 3)
    assert polygon_overlap(square, box_polygon(np.array([20.0, 0.0, 10.0, 10.0]))) == 0.0
    diamond = np.array([[5, 0], [10, 5], [5, 10], [0, 5]], float)  # area 50, inside the square
    assert polygon_overlap(square, diamond) == pytest.approx(0.5)


def test_supervised_protocol_resets_after_failure(tmp_path: Path) -> None:
    sequence = load_dataset("vot", vot_fixture(tmp_path))["walk"]
    tracker = Scripted(sequence.boxes)
    result = supervised_run(tracker, sequence, SupervisedConfig(skip=5, burn_in=10))
    assert result.failures == [12] and tracker.starts == [0, 17]  # re-initialised 5 frames after the failure
    assert result.entries[0] == VOT_INIT and result.entries[12] == VOT_FAILURE and result.entries[17] == VOT_INIT
    assert result.entries[13:17] == [VOT_SKIP] * 4
    counted = [i for i, v in enumerate(result.overlaps) if np.isfinite(v)]
    assert counted == [10, 11, 27, 28, 29]  # 10 burn-in frames after each initialisation are left out
    assert result.accuracy == pytest.approx(1 / 3)


def test_a_polygon_tracker_is_initialised_with_the_boxs_corners(tmp_path: Path) -> None:
    sequence = load_dataset("vot", vot_fixture(tmp_path))["walk"]
    tracker = Scripted(sequence.boxes)
    result = supervised_run(tracker, sequence, SupervisedConfig(skip=5, burn_in=10), takes_polygons=True)
    assert tracker.starts == [0, 17] and tracker.regions == ["polygon", "polygon"] and result.failures == [12]
    assert TrackerSpec("standin", profile="vot").takes_polygons
    assert not TrackerSpec("standin", profile="default").takes_polygons and not TrackerSpec("csrt").takes_polygons


def test_vot_command_writes_vot_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = vot_fixture(tmp_path / "vot")
    out = tmp_path / "out"
    assert main(["vot", "--root", str(root), "--trackers", "csrt", "--out", str(out), "--no-progress"]) == 0
    entries = read_vot(out / "csrt" / "walk" / "walk_001.txt")
    assert len(entries) == N and entries[0] == VOT_INIT
    summary = json.loads((out / "vot_summary.json").read_text())
    csrt = summary["trackers"]["csrt"]
    assert csrt["failures"] == entries.count(VOT_FAILURE)
    assert csrt["accuracy"] is None or 0 <= csrt["accuracy"] <= 1
    assert "csrt: accuracy" in capsys.readouterr().out


def test_unsupervised_run_writes_the_vot_format(tmp_path: Path) -> None:
    root = vot_fixture(tmp_path / "vot")
    out = tmp_path / "out"
    assert main(["run", "--dataset", "vot", "--root", str(root), "--trackers", "kcf", "--out", str(out),
                 "--no-progress"]) == 0
    entries = read_vot(out / "vot" / "kcf" / "walk" / "walk_001.txt")
    assert len(entries) == N and entries[0] == VOT_INIT and entries[1].count(",") == 3
    summary = json.loads((out / "vot" / "summary.json").read_text())
    assert summary["trackers"]["kcf"]["overall"]["auc"] is not None


def drive(command: list[str], sequence, region: str) -> list:
    """Play the VOT toolkit: initialise the TraX server on frame 0, send every frame, return the replies."""
    trax = pytest.importorskip("trax", reason="vot-trax (eval extra)")
    from trax.client import Client

    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        # vot-trax 4.0.2's client needs a log callback (log=False passes None to ctypes)
        client = Client(stream=(server.stdin.fileno(), server.stdout.fileno()), timeout=120, log=lambda _: None)
        assert client.tracker_name.startswith("jcat_ros")
        init = trax.Mask.create(sequence.mask(0).astype(np.uint8)) if region == "mask" else \
            trax.Rectangle.create(*(float(v) for v in sequence.boxes[0]))
        replies = [client.initialize({"color": trax.FileImage.create(str(sequence.frames[0]))}, [(init, {})], {})]
        for path in sequence.frames[1:]:
            replies.append(client.frame({"color": trax.FileImage.create(str(path))}, {}, []))
        client.quit()
        assert server.wait(timeout=60) == 0
    finally:
        if server.poll() is None:
            server.kill()
    return [objects[0] for objects, _ in replies]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory):
    root = write_synthetic(tmp_path_factory.mktemp("trax"), ("clean",), height=96, width=128, num_frames=12)
    return load_dataset("synthetic", root)["clean"]


def test_trax_box_mode_completes_a_sequence(clean) -> None:
    replies = drive([sys.executable, "-m", "jcat_core.eval.trax_tracker", "--tracker", "csrt", "--region", "box",
                     "--device", "cpu"], clean, "box")
    assert len(replies) == len(clean)
    boxes = np.array([region.bounds() for region, _ in replies])
    assert float(replies[-1][1]["confidence"]) == 1.0
    assert box_iou(boxes, clean.boxes).mean() > 0.6


FAST = ("dcf_sample_size=128", "segm_size=128", "init_gauss_newton_iterations=2", "init_cg_iterations=5")


@pytest.mark.slow
def test_trax_mask_mode_gives_the_trackers_masks(clean) -> None:
    command = [sys.executable, "-m", "jcat_core.eval.trax_tracker", "--tracker", "standin", "--region", "mask",
               "--device", "cpu"] + [arg for item in FAST for arg in ("--param", item)]
    replies = drive(command, clean, "mask")
    assert len(replies) == len(clean)
    masks = [region.array(normalize=True) > 0 for region, _ in replies]
    np.testing.assert_array_equal(masks[0], clean.mask(0))  # the initialisation is echoed
    # the same tracker as the wrapper's: with --region mask its default profile is vot2020, the authors' VOT2020
    # mask tracker (python -m jcat_core.eval.trax_tracker --help)
    tracker = TrackerSpec("standin", profile="vot2020", params=parse_params(list(FAST))).build()
    tracker.initialize(clean.image(0), mask=clean.mask(0))
    for index in range(1, len(clean)):
        output = tracker.track(clean.image(index))
        assert masks[index].shape == output.mask.shape
        assert mask_iou(masks[index], output.mask) > 0.98  # the same masks through the protocol
        assert float(replies[index][1]["confidence"]) == pytest.approx(output.score, abs=0.05)


def test_mask_mode_initialised_with_a_rectangle_replies_with_its_mask() -> None:
    """The VOT toolkit's dummy sequence initialises a mask tracker with a rectangle (found by `vot test`)."""
    trax = pytest.importorskip("trax", reason="vot-trax (eval extra)")
    from jcat_core.eval.trax_tracker import _initial_reply, region_to_target  # needs trax

    target = region_to_target(trax.Rectangle.create(2.0, 3.0, 4.0, 5.0), (10, 12))
    assert target == {"box": (2.0, 3.0, 4.0, 5.0)}
    reply = _initial_reply(target, "mask", (10, 12))
    expected = np.zeros((10, 12), bool)
    expected[3:8, 2:6] = True
    np.testing.assert_array_equal(reply.array(normalize=True) > 0, expected)
    assert reply.offset() == (0, 0)


def test_the_vot_profile_receives_rectangles_and_polygons_as_polygons() -> None:
    """The published VOT tracker takes its region as polygon corners (a rectangle as its four corners)."""
    trax = pytest.importorskip("trax", reason="vot-trax (eval extra)")
    from jcat_core.eval.trax_tracker import _initial_reply, region_to_target  # needs trax

    target = region_to_target(trax.Rectangle.create(2.0, 3.0, 4.0, 5.0), (10, 12), as_polygon=True)
    np.testing.assert_array_equal(target["polygon"], [[2, 3], [6, 3], [6, 8], [2, 8]])
    reply = _initial_reply(target, "box", (10, 12))
    assert [reply.get(i) for i in range(reply.size())] == [(2, 3), (6, 3), (6, 8), (2, 8)]
    diamond = trax.Polygon.create([(5.0, 1.0), (9.0, 5.0), (5.0, 9.0), (1.0, 5.0)])
    np.testing.assert_array_equal(region_to_target(diamond, (10, 12), as_polygon=True)["polygon"][0], [5, 1])
    assert region_to_target(diamond, (10, 12)) == {"box": (1.0, 1.0, 8.0, 8.0)}  # other trackers: its bounds
    assert _initial_reply(region_to_target(diamond, (10, 12), True), "mask", (10, 12)).array(normalize=True)[5, 5]


def test_trackers_ini_names_this_interpreter_and_the_weights(tmp_path: Path) -> None:
    weights = tmp_path / "JcatNet.pth.tar"
    assert main(["trackers-ini", "--out", str(tmp_path / "ws" / "trackers.ini"), "--weights", str(weights)]) == 0
    text = (tmp_path / "ws" / "trackers.ini").read_text()
    assert "@" not in text.replace("@@", "")
    assert f"command = {sys.executable} -m jcat_core.eval.trax_tracker --tracker jcat --region mask --weights " \
        f"{weights.resolve()}" in text
    assert {"[jcat]", "[jcat_mask]", "[jcat_rotated]", "[csrt]"} <= set(text.split())
