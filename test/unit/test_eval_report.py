"""Scoring result folders: published raw results beside ours, attribute breakdowns, mask benchmarks with their
label PNGs, test splits listed as unscored."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from jcat_core.cli.eval import main
from jcat_core.eval.datasets import load_dataset
from jcat_core.eval.datasets.base import encode_rle
from jcat_core.eval.metrics import OTB_TOOLKIT, aggregate, evaluate_boxes
from jcat_core.eval.report import ResultSource, report
from jcat_core.eval.results import write_boxes

H, W = 40, 60


def write_frames(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        cv2.imwrite(str(folder / name), np.full((H, W, 3), 90, np.uint8))


def otb_fixture(root: Path) -> dict[str, np.ndarray]:
    """Two OTB sequences; returns their 1-based ground truth as written."""
    truth = {"Car": np.array([[11.0, 6.0, 20.0, 10.0]] * 6) + np.arange(6)[:, None] * [1, 0, 0, 0],
             "Dog": np.array([[3.0, 4.0, 8.0, 8.0]] * 4)}
    for name, boxes in truth.items():
        write_frames(root / name / "img", [f"{i:04d}.jpg" for i in range(1, len(boxes) + 1)])
        np.savetxt(root / name / "groundtruth_rect.txt", boxes, fmt="%g", delimiter=",")
    return truth


def test_compare_scores_published_raw_results(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    truth = otb_fixture(tmp_path / "OTB100")
    perfect, shifted = tmp_path / "published" / "perfect", tmp_path / "published" / "shifted"
    perfect.mkdir(parents=True)
    shifted.mkdir(parents=True)
    for name, boxes in truth.items():  # pytracking's style: <Seq>.txt, tab separated, 1-based
        np.savetxt(perfect / f"{name}.txt", boxes, fmt="%d", delimiter="\t")
        np.savetxt(shifted / f"{name}.txt", boxes + np.array([5, 0, 0, 0]), fmt="%d", delimiter="\t")
    out = tmp_path / "out"
    assert main(["compare", "--dataset", "otb", "--root", str(tmp_path / "OTB100"), "--out", str(out),
                 "--results", f"perfect={perfect}:otb", "--results", f"shifted={shifted}"]) == 0
    summary = json.loads((out / "otb" / "summary.json").read_text())
    assert summary["trackers"]["perfect"]["overall"]["auc"] == pytest.approx(20 / 21)  # OTB scores frame 1 too
    expected = aggregate([evaluate_boxes(b - [1, 1, 0, 0] + [5, 0, 0, 0], b - [1, 1, 0, 0], protocol=OTB_TOOLKIT)
                          for b in truth.values()])
    for key, value in expected.scores().items():
        assert summary["trackers"]["shifted"]["overall"][key] == pytest.approx(value)
    # OTB's toolkit replaces the first prediction by the ground truth: IoU 1, then 3 frames of 24 / 104
    assert summary["trackers"]["shifted"]["per_sequence"]["Dog"]["mean_iou"] == pytest.approx((1 + 3 * 3 / 13) / 4)
    for plot in ("success", "precision", "sequences_auc"):
        assert (out / "otb" / "plots" / f"{plot}.png").is_file() and (out / "otb" / "plots" / f"{plot}.svg").is_file()
    assert "| perfect | 0.952 |" in capsys.readouterr().out
    assert main(["compare", "--dataset", "otb", "--root", str(tmp_path / "OTB100"), "--out", str(out)]) == 2
    assert "compare needs at least one --results" in capsys.readouterr().err

def test_missing_published_sequences_are_listed(tmp_path: Path) -> None:
    truth = otb_fixture(tmp_path / "OTB100")
    partial = tmp_path / "partial"
    partial.mkdir()
    np.savetxt(partial / "Car.txt", truth["Car"], fmt="%g", delimiter=",")
    (partial / "Dog.txt").write_text("1,1,2,2\n")  # too short
    dataset = load_dataset("otb", tmp_path / "OTB100")
    summary = report(dataset, [ResultSource("partial", partial, "otb")], tmp_path / "out")
    entry = summary["trackers"]["partial"]
    assert set(entry["per_sequence"]) == {"Car"}
    assert entry["missing"] == {"Dog": "1 result boxes for 4 frames"}
    assert "## partial: sequences without a usable result" in (tmp_path / "out" / "report.md").read_text()


def test_attribute_breakdowns_and_test_split(tmp_path: Path) -> None:
    root = tmp_path / "val"
    classes = {"GOT-10k_Val_000001": "zebra", "GOT-10k_Val_000002": "car"}
    for name, cls in classes.items():
        write_frames(root / name, [f"{i:08d}.jpg" for i in range(1, 5)])
        (root / name / "groundtruth.txt").write_text("2,2,10,10\n" * 4)
        (root / name / "meta_info.ini").write_text(f"[METAINFO]\nobject_class: {cls}\nmotion_class: running\n")
    write_frames(root / "GOT-10k_Test_000001", [f"{i:08d}.jpg" for i in range(1, 4)])
    (root / "GOT-10k_Test_000001" / "groundtruth.txt").write_text("2,2,10,10\n")
    ours = tmp_path / "ours"
    write_boxes(ours, "got10k", "GOT-10k_Val_000001", np.array([[2, 2, 10, 10]] * 4), np.full(4, 0.01))
    write_boxes(ours, "got10k", "GOT-10k_Val_000002", np.array([[2, 2, 10, 10]] + [[7, 2, 10, 10]] * 3),
                np.full(4, 0.02))
    dataset = load_dataset("got10k", root)
    summary = report(dataset, [ResultSource("ours", ours, "got10k")], tmp_path / "out")
    entry = summary["trackers"]["ours"]
    attributes = entry["attributes"]
    assert attributes["object_class=zebra"]["ao"] == pytest.approx(1.0)
    assert attributes["object_class=car"]["ao"] == pytest.approx(1 / 3)  # frame 1 is left out (GOT-10k)
    assert attributes["motion_class=running"]["sequences"] == 2
    assert entry["overall"]["ao"] == pytest.approx(2 / 3)
    assert entry["per_sequence"]["GOT-10k_Val_000001"]["fps"] == pytest.approx(100.0)
    assert summary["unscored"] == ["GOT-10k_Test_000001"]
    text = (tmp_path / "out" / "report.md").read_text()
    assert "| object_class=car | 0.333 |" in text and "| GOT-10k_Val_000002 | 0.333 |" in text


def test_got10k_bounds_boxes_by_the_image_as_its_toolkit_and_otb_does_not(tmp_path: Path) -> None:
    """Boxes leaving the image: AO/SR as got10k's ExperimentGOT10k.report on the same files; OTB unbounded."""
    got10k_metrics = pytest.importorskip("got10k.utils.metrics", reason="the got10k package (eval extra)")
    from got10k.experiments.got10k import ExperimentGOT10k

    root, folder = tmp_path / "GOT-10k" / "val", tmp_path / "results" / "GOT-10k" / "wild"
    rng = np.random.default_rng(5)
    names = ["GOT-10k_Val_000001", "GOT-10k_Val_000002"]
    for name in names:
        write_frames(root / name, [f"{i:08d}.jpg" for i in range(1, 13)])
        truth = np.column_stack([rng.uniform(0, 30, 12), rng.uniform(0, 15, 12), rng.uniform(8, 25, (12, 2))])  # inside
        np.savetxt(root / name / "groundtruth.txt", truth, fmt="%.4f", delimiter=",")
        (root / name / "meta_info.ini").write_text(f"[METAINFO]\nresolution: ({W}, {H})\nobject_class: cat\n")
        for label, values in (("cover", rng.integers(0, 9, 12)), ("absence", np.zeros(12)),
                              ("cut_by_image", np.zeros(12))):
            np.savetxt(root / name / f"{label}.label", values, fmt="%d")
        pred = truth + np.column_stack([rng.normal(0, 25, (12, 2)), rng.normal(0, 10, (12, 2))])
        pred[:, 2:] = np.abs(pred[:, 2:]) + 2
        write_boxes(folder, "got10k", name, pred, np.full(12, 0.01))
    (root / "list.txt").write_text("\n".join(names) + "\n")

    toolkit = ExperimentGOT10k(str(tmp_path / "GOT-10k"), subset="val", result_dir=str(tmp_path / "results"),
                               report_dir=str(tmp_path / "reports")).report(["wild"])["wild"]
    summary = report(load_dataset("got10k", root), [ResultSource("wild", folder, "got10k")], tmp_path / "out")
    ours = summary["trackers"]["wild"]
    assert ours["overall"]["ao"] == pytest.approx(toolkit["overall"]["ao"], abs=1e-9)
    assert ours["overall"]["sr50"] == pytest.approx(toolkit["overall"]["sr"], abs=1e-9)
    for name in names:
        assert ours["per_sequence"][name]["ao"] == pytest.approx(toolkit["seq_wise"][name]["ao"], abs=1e-9)

    truth = otb_fixture(tmp_path / "OTB100")
    published = tmp_path / "published"
    published.mkdir()
    offset = np.array([-12.0, -7.0, 5.0, 3.0])  # over the left and top edges
    for name, boxes in truth.items():
        np.savetxt(published / f"{name}.txt", boxes + offset, fmt="%g", delimiter=",")
    otb = report(load_dataset("otb", tmp_path / "OTB100"), [ResultSource("p", published, "otb")], tmp_path / "otb")
    for name, boxes in truth.items():
        pred = boxes + offset
        pred[0] = boxes[0]  # frame 1 scored as its ground truth, as OTB's toolkit and got10k's ExperimentOTB do
        unbounded = got10k_metrics.rect_iou(pred, boxes.copy())
        assert otb["trackers"]["p"]["per_sequence"][name]["mean_iou"] == pytest.approx(unbounded.mean(), abs=1e-9)


def test_vot_per_frame_attributes(tmp_path: Path) -> None:
    root = tmp_path / "vot"
    write_frames(root / "ball" / "color", [f"{i:08d}.jpg" for i in range(1, 5)])
    (root / "ball" / "groundtruth.txt").write_text("0,0,10,10\n" * 4)
    (root / "ball" / "occlusion.tag").write_text("0\n0\n1\n1\n")
    (root / "list.txt").write_text("ball\n")
    results = tmp_path / "res" / "ball"
    results.mkdir(parents=True)
    (results / "ball_001.txt").write_text("1\n0,0,10,10\n5,0,10,10\n0,0,10,10\n")
    summary = report(load_dataset("vot", root), [ResultSource("r", tmp_path / "res", "vot")], tmp_path / "out")
    occlusion = summary["trackers"]["r"]["attributes"]["occlusion"]
    assert occlusion == {"frames": 2, "mean_iou": pytest.approx((1 / 3 + 1) / 2)}


def test_davis_run_writes_label_pngs_and_scores_j_and_f(tmp_path: Path) -> None:
    root = tmp_path / "DAVIS"
    frames = [f"{i:05d}.jpg" for i in range(5)]
    for i, name in enumerate(frames):
        image = np.full((H, W, 3), 60, np.uint8)
        image[10:20, 5 + 2 * i:17 + 2 * i] = (220, 40, 40)
        image[25:35, 35:50] = (40, 200, 220)
        (root / "JPEGImages" / "480p" / "cats").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "JPEGImages" / "480p" / "cats" / name), image)
        labels = np.zeros((H, W), np.uint8)
        labels[10:20, 5 + 2 * i:17 + 2 * i] = 1
        labels[25:35, 35:50] = 2
        (root / "Annotations" / "480p" / "cats").mkdir(parents=True, exist_ok=True)
        png = Image.fromarray(labels, mode="P")
        png.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * 759)
        png.save(root / "Annotations" / "480p" / "cats" / name.replace(".jpg", ".png"))
    out = tmp_path / "out"
    assert main(["run", "--dataset", "davis", "--root", str(root), "--trackers", "csrt", "--out", str(out),
                 "--no-progress"]) == 0
    labels = out / "davis" / "csrt" / "cats"
    assert sorted(p.name for p in labels.glob("*.png")) == [f.replace(".jpg", ".png") for f in frames]
    with Image.open(labels / "00003.png") as image:
        assert image.mode == "P" and set(np.unique(np.asarray(image))) <= {0, 1, 2}
    summary = json.loads((out / "davis" / "summary.json").read_text())
    masks = summary["trackers"]["csrt"]["overall_masks"]
    assert 0.5 < masks["jf"] <= 1 and masks["jf"] == pytest.approx((masks["j"] + masks["f"]) / 2)
    # the merged label PNGs score like published DAVIS results
    rescored = report(load_dataset("davis", root), [ResultSource("published", out / "davis" / "csrt", "davis")],
                      tmp_path / "rescored")
    assert rescored["trackers"]["published"]["overall_masks"]["jf"] == pytest.approx(masks["jf"], abs=0.05)


def test_published_vot2020_mask_results(tmp_path: Path) -> None:
    root = tmp_path / "vot2020"
    write_frames(root / "fish" / "color", [f"{i:08d}.jpg" for i in range(1, 5)])
    masks = []
    for i in range(4):
        mask = np.zeros((H, W), bool)
        mask[10:20, 10 + i:25 + i] = True
        masks.append(mask)
    (root / "fish" / "groundtruth.txt").write_text("\n".join(encode_rle(m) for m in masks) + "\n")
    (root / "list.txt").write_text("fish\n")
    published = tmp_path / "published" / "fish"
    published.mkdir(parents=True)
    shifted = [np.roll(m, 5, axis=1) for m in masks]  # 10 of 15 columns overlap: IoU 0.5
    (published / "fish_001.txt").write_text("1\n" + "\n".join(encode_rle(m) for m in shifted[1:]) + "\n")
    summary = report(load_dataset("vot", root), [ResultSource("p", tmp_path / "published", "vot")], tmp_path / "out")
    entry = summary["trackers"]["p"]
    assert entry["overall_masks"]["j"] == pytest.approx(0.5)
    assert entry["overall"]["mean_iou"] == pytest.approx(0.5)
