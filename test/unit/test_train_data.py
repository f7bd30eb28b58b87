"""Training data: YouTube-VOS / DAVIS / folder layouts on small fixtures, the pair processing (its crops sample
the pixels the tracker's do), and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from jcat_core.cli.train import main as train_main
from jcat_core.tracker import geometry
from jcat_core.tracker.geometry import CropWindow
from jcat_core.train.config import config_from_dict, load_config
from jcat_core.train.datasets import DatasetLayoutError, Mix, SyntheticVideos, VosFolder, davis, youtube_vos
from jcat_core.train.processing import PairDataset, ProcessingConfig, contour_map, crop

PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9)


def write_video(images: Path, annotations: Path, frames: int, objects: int = 2, size: tuple[int, int] = (48, 64),
                empty: bool = False) -> None:
    """JPEG frames and palette PNG annotations: object k is a square moving right, id k."""
    images.mkdir(parents=True)
    annotations.mkdir(parents=True)
    h, w = size
    for t in range(frames):
        image = np.full((h, w, 3), 90, np.uint8)
        ids = np.zeros((h, w), np.uint8)
        for k in range(1, objects + 1):
            x, y = 4 + t % 20 + 20 * (k - 1), 8 + 12 * (k - 1)
            image[y:y + 10, x:x + 10] = (200, 40 * k, 40)
            ids[y:y + 10, x:x + 10] = 0 if empty else k
        cv2.imwrite(str(images / f"{t:05d}.jpg"), image)
        png = Image.fromarray(ids, mode="P")
        png.putpalette(PALETTE)
        png.save(annotations / f"{t:05d}.png")


def youtube_fixture(root: Path, frames: int = 24) -> Path:
    write_video(root / "JPEGImages" / "vid1", root / "Annotations" / "vid1", frames)
    stems = [f"{t:05d}" for t in range(frames)]
    meta = {"videos": {"vid1": {"objects": {"1": {"category": "box", "frames": stems},
                                            "2": {"category": "box", "frames": stems}}}}}
    (root / "meta.json").write_text(json.dumps(meta))
    return root


def test_youtube_vos_layout_gives_one_sequence_per_object(tmp_path) -> None:
    source = youtube_vos(youtube_fixture(tmp_path / "ytvos"))
    assert len(source) == 2 and source.num_frames(0) == 24
    image, mask = source.frame(1, 3)
    assert image.shape == (48, 64, 3) and mask.sum() == 100  # object 2 only


def test_davis_and_plain_folder_layouts(tmp_path) -> None:
    root = tmp_path / "davis"
    write_video(root / "JPEGImages/480p/seq", root / "Annotations/480p/seq", 22, objects=1)
    (root / "ImageSets/2017").mkdir(parents=True)
    (root / "ImageSets/2017/train.txt").write_text("seq\n")
    assert len(davis(root)) == 1
    folder = tmp_path / "mine"
    write_video(folder / "JPEGImages/a", folder / "Annotations/a", 21)
    assert len(VosFolder(folder)) == 2


def test_pairs_follow_the_recipe_and_are_deterministic(tmp_path) -> None:
    config = ProcessingConfig(crop_size=64)
    dataset = PairDataset(Mix((youtube_vos(youtube_fixture(tmp_path / "y")), SyntheticVideos(10)), (1.0, 1.0)),
                          config, seed=3)
    a, b = dataset[5], dataset[5]
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    assert a["ref_image"].shape == (3, 64, 64) and a["test_dist"].shape == (1, 64, 64)
    # reference: the target at the crop centre filling 1/4 of the side (search area 4.0) -> about 1/16 of the area
    assert 0.03 < float(a["ref_mask"].mean()) < 0.12
    assert np.array_equal(a["test_contour"][0].numpy() > 0, contour_map(a["test_mask"][0].numpy() > 0))
    assert float(a["test_dist"].min()) < 32


def grid(rows: str) -> np.ndarray:
    """A bool mask from lines of '#' (set) and '.' (clear)."""
    return np.array([[c == "#" for c in line.strip()] for line in rows.strip().splitlines()])


def test_contour_is_the_masks_own_boundary() -> None:
    """As the authors' processing (external contours drawn 1 px wide): the mask's edge pixels, inside it."""
    mask = np.zeros((10, 10), bool)
    mask[3:7, 2:7] = True  # 5 wide, 4 high
    expected = grid("""
        ..........
        ..........
        ..........
        ..#####...
        ..#...#...
        ..#...#...
        ..#####...
        ..........
        ..........
        ..........""")
    assert np.array_equal(contour_map(mask), expected)


def test_contour_skips_holes_and_closes_at_the_crop_edge() -> None:
    """External contours only (RETR_EXTERNAL): a hole's edge is not marked; a mask at the crop edge is closed there."""
    mask = grid("""
        ...###
        ...###
        ...###
        ......
        #####.
        ##.##.
        #####.""")
    expected = grid("""
        ...###
        ...#.#
        ...###
        ......
        #####.
        #...#.
        #####.""")
    assert np.array_equal(contour_map(mask), expected)


def test_box_mask_pairs(tmp_path) -> None:
    dataset = PairDataset(Mix((SyntheticVideos(5),), (1.0,)),
                          ProcessingConfig(crop_size=64, box_mask_probability=1.0, scale_jitter=0, center_jitter=0))
    s = dataset[0]
    ref_mask = s["ref_mask"][0].numpy() > 0
    rows, cols = np.nonzero(ref_mask)
    assert ref_mask[rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()  # the reference mask is a box


def test_missing_dataset_names_the_expected_layout(tmp_path) -> None:
    with pytest.raises(DatasetLayoutError, match=r"meta\.json"):
        youtube_vos(tmp_path / "nowhere")
    with pytest.raises(DatasetLayoutError, match="ImageSets/2017"):
        davis(tmp_path / "nowhere")
    with pytest.raises(DatasetLayoutError, match="JPEGImages/<video>"):
        VosFolder(tmp_path / "nowhere")


def test_empty_annotation_is_reported(tmp_path) -> None:
    root = tmp_path / "f"
    write_video(root / "JPEGImages/v", root / "Annotations/v", 25, empty=True)
    (root / "JPEGImages/w").mkdir()
    (root / "Annotations/w").mkdir()
    with pytest.raises(DatasetLayoutError, match="no usable sequence") as info:
        VosFolder(root)
    assert "annotations hold no object" in str(info.value) and "empty annotation folder" in str(info.value)


def test_corrupt_image_is_skipped_and_counted(tmp_path) -> None:
    root = youtube_fixture(tmp_path / "y", frames=20)
    for t in range(0, 20, 2):
        (root / "JPEGImages/vid1" / f"{t:05d}.jpg").write_bytes(b"not a jpeg")
    dataset = PairDataset(Mix((youtube_vos(root),), (1.0,)), ProcessingConfig(crop_size=64))
    with pytest.warns(UserWarning, match="skipped unreadable frame"):
        skipped = sum(int(dataset[i]["skipped"]) for i in range(20))
    assert skipped > 0


def test_unknown_config_keys_are_rejected_by_name(tmp_path) -> None:
    base = {"train_sources": [{"type": "synthetic"}]}
    with pytest.raises(ValueError, match="'bogus'"):
        config_from_dict({**base, "bogus": 1})
    with pytest.raises(ValueError, match=r"'train_sources\[0\]\.rooot'"):
        config_from_dict({"train_sources": [{"type": "folder", "rooot": "x"}]})
    with pytest.raises(ValueError, match=r"'model\.backbon'"):
        config_from_dict({**base, "model": {"backbon": "resnet50"}})
    path = tmp_path / "bad.yaml"
    path.write_text("train_sources: [{type: synthetic}]\nlearning_rate: 0.1\n")
    assert train_main(["--config", str(path)]) == 2


def test_published_config_carries_the_authors_defaults() -> None:
    config = load_config(Path(__file__).parents[2] / "config/train/jcat_published.yaml")
    assert (config.lr, config.lr_step, config.lr_gamma, config.epochs, config.iterations, config.batch_size) == (
        1e-3, 20, 0.2, 80, 1000, 32)
    assert config.processing == ProcessingConfig() and not config.train_backbone and config.backbone_bn == "train"
    assert config.model.backbone == "resnet50" and config.model.crop_size == 384


def test_show_samples_writes_a_png_grid(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model: {backbone: resnet18, crop_size: 64}\nprocessing: {crop_size: 64}\n"
                    "train_sources: [{type: synthetic, num_sequences: 4}]\n")
    assert train_main(["--config", str(path), "--show-samples", "3", "--output-dir", str(tmp_path / "o")]) == 0
    grid = cv2.imread(str(tmp_path / "o/samples.png"))
    assert grid.shape == (3 * 64, 5 * 64, 3)


def test_training_crops_sample_the_same_pixels_as_the_trackers() -> None:
    yy, xx = np.mgrid[0:100, 0:120]
    ramp = np.stack([xx * 2, yy * 2, xx + yy], axis=-1).astype(np.uint8)  # linear: bilinear sampling is exact
    window = CropWindow(50.3, 47.6, 40.0, 32)
    train_crop = crop(ramp, window, cv2.INTER_LINEAR, cv2.BORDER_REPLICATE).astype(np.float32)
    tracker_crop = geometry.crop(torch.from_numpy(ramp), window)[0].permute(1, 2, 0).numpy()
    assert train_crop.shape == tracker_crop.shape == (32, 32, 3)
    assert np.abs(train_crop - tracker_crop).max() <= 1.0  # OpenCV rounds to uint8
    # crop pixel 0's centre lies at origin + scale / 2 in the image; column c's centre is c + 0.5 and holds 2c
    assert tracker_crop[0, 0, 0] == pytest.approx(2 * (window.origin[0] + window.scale / 2 - 0.5), abs=1e-3)
