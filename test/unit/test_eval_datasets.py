"""Each benchmark loader on a tiny fixture written in its layout, and the loaders' messages on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite
from jcat_core.eval.datasets import LayoutError, load_dataset, write_synthetic
from jcat_core.eval.datasets.base import decode_rle, encode_rle

H, W = 24, 32


def frames(folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        cv2.imwrite(str(folder / name), np.full((H, W, 3), 10 * i, np.uint8))


def lines(path: Path, rows: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n")


def label_png(path: Path, labels: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(labels.astype(np.uint8), mode="P")
    image.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9))
    image.save(path)


def test_otb_is_1_based_with_two_target_sequences(tmp_path: Path) -> None:
    frames(tmp_path / "Car" / "img", [f"{i:04d}.jpg" for i in range(1, 4)])
    lines(tmp_path / "Car" / "groundtruth_rect.txt", ["11\t21\t5\t6", "12\t21\t5\t6", "13\t21\t5\t6"])
    frames(tmp_path / "Jogging" / "img", [f"{i:04d}.jpg" for i in range(1, 3)])
    lines(tmp_path / "Jogging" / "groundtruth_rect.1.txt", ["1,1,4,4", "2,2,4,4"])
    lines(tmp_path / "Jogging" / "groundtruth_rect.2.txt", ["5 5 4 4", "6 6 4 4"])
    data = load_dataset("otb", tmp_path)
    assert [s.name for s in data.sequences] == ["Car", "Jogging-1", "Jogging-2"]
    np.testing.assert_allclose(data["Car"].boxes[2], [12, 20, 5, 6])
    np.testing.assert_allclose(data["Jogging-2"].boxes[0], [4, 4, 4, 4])
    assert data["Car"].image(1).shape == (H, W, 3) and data["Car"].image(1)[0, 0, 0] == 10
    assert data.result_format == "otb" and not data.problems


def test_got10k_val_and_test_split(tmp_path: Path) -> None:
    seq = tmp_path / "GOT-10k_Val_000001"
    frames(seq, [f"{i:08d}.jpg" for i in range(1, 5)])
    lines(seq / "groundtruth.txt", ["1,2,10,8"] * 4)
    lines(seq / "absence.label", ["0", "0", "1", "0"])
    lines(seq / "cover.label", ["8", "0", "0", "5"])
    lines(seq / "meta_info.ini", ["[METAINFO]", "object_class: zebra", "motion_class: walking"])
    test = tmp_path / "GOT-10k_Test_000001"
    frames(test, [f"{i:08d}.jpg" for i in range(1, 4)])
    lines(test / "groundtruth.txt", ["3,4,5,6"])
    data = load_dataset("got10k", tmp_path)
    val = data["GOT-10k_Val_000001"]
    np.testing.assert_array_equal(val.visible, [True, False, False, True])
    np.testing.assert_allclose(val.boxes[0], [1, 2, 10, 8])  # used as written
    assert val.tags == {"object_class": "zebra", "motion_class": "walking"} and val.scored
    test_seq = data["GOT-10k_Test_000001"]
    assert not test_seq.scored and len(test_seq.boxes) == 3 and np.isnan(test_seq.boxes[1:]).all()


def test_got10k_masks_are_read_where_a_frame_has_one_and_scored(tmp_path: Path) -> None:
    """A GOT-10k folder with a mask/ folder (a real clip annotated with masks, some frames without one): its masks
    are read, None where a frame has no file, and the dataset is scored on masks too; one without mask/ is not."""
    clip = tmp_path / "masked" / "cup"
    frames(clip, [f"{i:08d}.png" for i in range(1, 4)])
    lines(clip / "groundtruth.txt", ["1,2,10,8"] * 3)
    mask = np.zeros((H, W), np.uint8)
    mask[2:10, 1:11] = 255
    for name in ("00000001.png", "00000003.png"):
        (clip / "mask").mkdir(exist_ok=True)
        cv2.imwrite(str(clip / "mask" / name), mask)
    data = load_dataset("got10k", clip.parent)
    assert data.masks and not data.problems
    cup = data["cup"]
    np.testing.assert_array_equal(cup.mask(0), mask > 0)
    assert cup.mask(1) is None and cup.mask(2) is not None
    frames(tmp_path / "plain" / "car", ["00000001.jpg"])
    lines(tmp_path / "plain" / "car" / "groundtruth.txt", ["1,2,10,8"])
    assert not load_dataset("got10k", tmp_path / "plain").masks


def test_synthetic_sequences_in_the_got10k_layout(tmp_path: Path) -> None:
    write_synthetic(tmp_path, ("clean", "exit_reentry"), height=48, width=64, num_frames=12)
    data = load_dataset("synthetic", tmp_path)
    assert [s.name for s in data.sequences] == ["clean", "exit_reentry"] and data.masks
    truth = SyntheticSequence(synthetic_suite(height=48, width=64, num_frames=12)["exit_reentry"])
    seq = data["exit_reentry"]
    for i in (0, 5):
        np.testing.assert_allclose(seq.boxes[i], truth[i].box, atol=1e-3)
        np.testing.assert_array_equal(seq.mask(i), truth[i].mask)
        assert seq.visible[i] == truth[i].visible


def test_lasot_is_1_based_with_visibility(tmp_path: Path) -> None:
    seq = tmp_path / "airplane" / "airplane-1"
    frames(seq / "img", [f"{i:08d}.jpg" for i in range(1, 4)])
    lines(seq / "groundtruth.txt", ["2,3,4,5"] * 3)
    lines(seq / "full_occlusion.txt", ["0,1,0"])
    lines(seq / "out_of_view.txt", ["0,0,1"])
    data = load_dataset("lasot", tmp_path)
    s = data["airplane-1"]
    np.testing.assert_allclose(s.boxes[0], [1, 2, 4, 5])
    np.testing.assert_array_equal(s.visible, [True, False, False])
    assert s.tags == {"category": "airplane"} and data.result_format == "lasot"


def test_trackingnet_orders_frames_numerically(tmp_path: Path) -> None:
    frames(tmp_path / "TEST" / "frames" / "abc", [f"{i}.jpg" for i in range(12)])
    lines(tmp_path / "TEST" / "anno" / "abc.txt", ["1,2,3,4"])
    s = load_dataset("trackingnet", tmp_path)["abc"]
    assert [p.stem for p in s.frames] == [str(i) for i in range(12)]
    assert not s.scored and s.image(10)[0, 0, 0] == 100


def test_vot_rectangles_polygons_and_tags(tmp_path: Path) -> None:
    lines(tmp_path / "list.txt", ["ball", "car"])
    frames(tmp_path / "ball", [f"{i:08d}.jpg" for i in range(1, 4)])  # VOT2016 layout: frames in the folder
    lines(tmp_path / "ball" / "groundtruth.txt", ["1,1,9,1,9,5,1,5", "2,1,10,1,10,5,2,5", "0"])
    lines(tmp_path / "ball" / "occlusion.tag", ["0", "1", "1"])
    frames(tmp_path / "car" / "color", [f"{i:08d}.jpg" for i in range(1, 3)])
    lines(tmp_path / "car" / "groundtruth.txt", ["3,4,5,6", "4,4,5,6"])
    data = load_dataset("vot", tmp_path)
    ball = data["ball"]
    np.testing.assert_allclose(ball.boxes[:2], [[1, 1, 8, 4], [2, 1, 8, 4]])
    assert np.isnan(ball.boxes[2]).all()
    np.testing.assert_array_equal(ball.attributes["occlusion"], [False, True, True])
    np.testing.assert_allclose(data["car"].polygons[0], [3, 4, 8, 4, 8, 10, 3, 10])
    assert data.result_format == "vot" and not data.masks


def test_vot2020_rle_masks(tmp_path: Path) -> None:
    mask = np.zeros((H, W), bool)
    mask[5:9, 10:15] = True
    mask[6, 10] = False
    code = encode_rle(mask)
    np.testing.assert_array_equal(decode_rle(code, (H, W)), mask)
    assert code.startswith("m10,5,5,4,")
    frames(tmp_path / "fish" / "color", [f"{i:08d}.jpg" for i in range(1, 3)])
    lines(tmp_path / "fish" / "groundtruth.txt", [code, encode_rle(np.roll(mask, 2, axis=1))])
    data = load_dataset("vot", tmp_path)
    fish = data["fish"]
    assert data.masks
    np.testing.assert_array_equal(fish.mask(0), mask)
    np.testing.assert_allclose(fish.boxes[1], [12, 5, 5, 4])


def test_davis_one_sequence_per_object(tmp_path: Path) -> None:
    frames(tmp_path / "JPEGImages" / "480p" / "dogs", ["00000.jpg", "00001.jpg"])
    labels = np.zeros((H, W), np.uint8)
    labels[2:6, 3:8] = 1
    labels[10:20, 20:30] = 2
    for name in ("00000", "00001"):
        label_png(tmp_path / "Annotations" / "480p" / "dogs" / f"{name}.png", labels)
    lines(tmp_path / "ImageSets" / "2017" / "val.txt", ["dogs"])
    data = load_dataset("davis", tmp_path)
    assert [s.name for s in data.sequences] == ["dogs_1", "dogs_2"] and data.masks
    np.testing.assert_allclose(data["dogs_2"].init_box, [20, 10, 10, 10])
    np.testing.assert_array_equal(data["dogs_1"].mask(1), labels == 1)
    assert data["dogs_1"].scored


def test_youtube_vos_objects_start_where_they_appear(tmp_path: Path) -> None:
    base = tmp_path / "valid"
    frames(base / "JPEGImages" / "v1", ["00000.jpg", "00005.jpg", "00010.jpg"])
    first = np.zeros((H, W), np.uint8)
    first[1:4, 1:4] = 1
    later = first.copy()
    later[10:14, 10:20] = 2
    label_png(base / "Annotations" / "v1" / "00000.png", first)
    label_png(base / "Annotations" / "v1" / "00005.png", later)
    meta = {"videos": {"v1": {"objects": {"1": {"frames": ["00000", "00005", "00010"]},
                                          "2": {"frames": ["00005", "00010"]}}}}}
    (base / "meta.json").write_text(json.dumps(meta))
    data = load_dataset("youtube-vos", tmp_path)
    two = data["v1_2"]
    assert two.start == 1 and not two.scored
    np.testing.assert_allclose(two.init_box, [10, 10, 10, 4])


def test_bad_sequences_are_skipped_with_reasons(tmp_path: Path) -> None:
    ok = tmp_path / "ok"
    frames(ok, [f"{i:08d}.jpg" for i in range(1, 4)])
    lines(ok / "groundtruth.txt", ["1,1,5,5", "NaN,NaN,NaN,NaN", "1,1,5,5"])
    gap = tmp_path / "gap"
    frames(gap, ["00000001.jpg", "00000002.jpg", "00000004.jpg"])
    lines(gap / "groundtruth.txt", ["1,1,5,5"] * 4)
    short = tmp_path / "short"
    frames(short, [f"{i:08d}.jpg" for i in range(1, 5)])
    lines(short / "groundtruth.txt", ["1,1,5,5"] * 2)
    nan_first = tmp_path / "nan_first"
    frames(nan_first, [f"{i:08d}.jpg" for i in range(1, 3)])
    lines(nan_first / "groundtruth.txt", ["nan,nan,nan,nan", "1,1,5,5"])
    data = load_dataset("got10k", tmp_path)
    assert [s.name for s in data.sequences] == ["ok"]
    reasons = {p.sequence: p.message for p in data.problems if p.skipped}
    assert "missing frames" in reasons["gap"] and "3" in reasons["gap"]
    assert "ground truth has 2 boxes for 4 frames" in reasons["short"]
    assert "first-frame box" in reasons["nan_first"]
    notes = [p for p in data.problems if not p.skipped]
    assert notes[0].sequence == "ok" and "1 frame(s) with NaN ground truth" in notes[0].message


@pytest.mark.parametrize("family", ["otb", "vot", "got10k", "lasot", "trackingnet", "davis", "youtube-vos"])
def test_empty_folder_names_the_expected_layout(tmp_path: Path, family: str) -> None:
    with pytest.raises(LayoutError, match="Expected layout:\n  ROOT/"):
        load_dataset(family, tmp_path)
    with pytest.raises(LayoutError):
        load_dataset(family, tmp_path / "does-not-exist")


def test_unknown_family() -> None:
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'; choose one of: otb"):
        load_dataset("imagenet", ".")
