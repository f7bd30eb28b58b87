"""Result files of each format round-trip, in the conventions their servers and toolkits use."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jcat_core.eval import results
from jcat_core.eval.datasets.base import decode_rle, encode_rle, read_label_png

BOXES = np.array([[0.0, 1.5, 10.25, 20.0], [3.0, 4.0, 5.0, 6.0], [np.nan] * 4])
TIMES = np.array([0.5, 0.031, 0.0305])


@pytest.mark.parametrize("fmt", ["got10k", "otb", "lasot", "trackingnet"])
def test_box_formats_round_trip(tmp_path: Path, fmt: str) -> None:
    path = results.write_boxes(tmp_path, fmt, "seq", BOXES, TIMES)
    np.testing.assert_allclose(results.read_boxes(tmp_path, fmt, "seq"), BOXES, atol=1e-4, equal_nan=True)
    np.testing.assert_allclose(results.read_times(tmp_path, fmt, "seq"), TIMES, atol=1e-6)
    first = path.read_text().splitlines()[0]
    # OTB and LaSOT files are 1-based like their ground truth; the others are written as the contract's 0-based
    assert first == ("1,2.5,10.25,20" if fmt in ("otb", "lasot") else "0,1.5,10.25,20")


def test_official_layouts(tmp_path: Path) -> None:
    assert results.write_boxes(tmp_path, "got10k", "GOT-10k_Test_000001", BOXES, TIMES) == \
        tmp_path / "GOT-10k_Test_000001" / "GOT-10k_Test_000001_001.txt"
    assert (tmp_path / "GOT-10k_Test_000001" / "GOT-10k_Test_000001_time.txt").is_file()
    results.write_boxes(tmp_path / "tn", "trackingnet", "abc", BOXES, TIMES)
    # the TrackingNet folder holds only <seq>.txt files (zipped for the server); times go to a subfolder
    assert sorted(p.name for p in (tmp_path / "tn").iterdir()) == ["abc.txt", "times"]


def test_published_results_are_found_in_their_own_layouts(tmp_path: Path) -> None:
    # pytracking-style OTB results: <Seq>.txt, tab separated, integer boxes, 1-based; and a name in other case
    (tmp_path / "Basketball.txt").write_text("198\t214\t34\t81\n197\t214\t34\t81\n")
    np.testing.assert_allclose(results.read_boxes(tmp_path, "otb", "Basketball"), [[197, 213, 34, 81],
                                                                                   [196, 213, 34, 81]])
    (tmp_path / "jogging-1.txt").write_text("1,1,2,2\n")
    np.testing.assert_allclose(results.read_boxes(tmp_path, "otb", "Jogging-1"), [[0, 0, 2, 2]])
    # GOT-10k results written flat as <seq>.txt
    (tmp_path / "got").mkdir()
    (tmp_path / "got" / "GOT-10k_Val_000001.txt").write_text("1,2,3,4\n")
    np.testing.assert_allclose(results.read_boxes(tmp_path / "got", "got10k", "GOT-10k_Val_000001"), [[1, 2, 3, 4]])
    with pytest.raises(FileNotFoundError, match="no result for missing"):
        results.read_boxes(tmp_path, "otb", "missing")


def test_vot_entries_round_trip(tmp_path: Path) -> None:
    mask = np.zeros((20, 30), bool)
    mask[4:8, 5:9] = True
    entries = [results.VOT_INIT, "1.5,2,10,12", "1,1,9,1,9,5,1,5", results.VOT_FAILURE, results.VOT_SKIP,
               encode_rle(mask)]
    results.write_vot(tmp_path, "ball", entries, np.zeros(len(entries)))
    assert results.read_vot(tmp_path / "ball" / "ball_001.txt") == entries
    boxes = results.read_boxes(tmp_path, "vot", "ball")
    assert np.isnan(boxes[[0, 3, 4]]).all()
    np.testing.assert_allclose(boxes[[1, 2, 5]], [[1.5, 2, 10, 12], [1, 1, 8, 4], [5, 4, 4, 4]])
    np.testing.assert_array_equal(decode_rle(entries[-1], mask.shape), mask)


def test_label_pngs_for_davis_and_youtube_vos(tmp_path: Path) -> None:
    one = np.zeros((10, 12), bool)
    one[1:5, 1:5] = True
    two = np.zeros((10, 12), bool)
    two[3:8, 3:10] = True
    labels = results.merge_labels({1: one, 2: two, 3: None}, (10, 12))
    assert labels[2, 2] == 1 and labels[4, 4] == 2 and labels[9, 0] == 0  # the higher id wins the overlap
    for fmt, sub in (("davis", ""), ("youtube-vos", "Annotations")):
        folder = results.label_folder(tmp_path / fmt, fmt)
        assert folder == tmp_path / fmt / sub if sub else folder == tmp_path / fmt
        results.write_labels(folder / "v" / "00000.png", labels)
        with Image.open(folder / "v" / "00000.png") as image:
            assert image.mode == "P" and image.getpalette()[3:6] == [128, 0, 0]  # DAVIS's colour for object 1
        np.testing.assert_array_equal(read_label_png(folder / "v" / "00000.png"), labels)
        np.testing.assert_array_equal(results.read_object_mask(tmp_path / fmt, fmt, "v", "00000", 2), labels == 2)
        assert results.read_object_mask(tmp_path / fmt, fmt, "v", "00001", 2) is None


def test_object_masks_round_trip(tmp_path: Path) -> None:
    mask = np.zeros((6, 7), bool)
    mask[2:4, 1:6] = True
    path = results.mask_file(tmp_path, "seq", "00000001")
    results.write_mask(path, mask)
    np.testing.assert_array_equal(results.read_mask(path), mask)
    assert results.read_mask(tmp_path / "none.png") is None


def test_unknown_formats_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown box result format 'csv'"):
        results.write_boxes(tmp_path, "csv", "s", BOXES, TIMES)
    with pytest.raises(ValueError, match="unknown mask result format"):
        results.label_folder(tmp_path, "otb")
