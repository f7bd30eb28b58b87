"""Frame sources: synthetic, image folder, GOT-10k folder and video all give RGB frames; bad specs say why."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from jcat_core.data.sources import open_source
from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite, write_got10k


def test_synthetic_source_matches_the_suite_and_carries_ground_truth() -> None:
    frames = list(open_source("synthetic:scale", width=96, height=64, num_frames=5, seed=3))
    reference = SyntheticSequence(synthetic_suite(height=64, width=96, num_frames=5, seed=3)["scale"])
    assert len(frames) == 5
    for got, want in zip(frames, reference, strict=True):
        np.testing.assert_array_equal(got.image, want.image)
        assert got.box == want.box and got.visible == want.visible
        np.testing.assert_array_equal(got.mask, want.mask)
    assert next(iter(open_source("synthetic", width=96, height=64, num_frames=1))).image.shape == (64, 96, 3)


def test_image_folder_and_got10k_folder(tmp_path: Path) -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    for i, rgb in enumerate(colours):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), np.full((8, 10, 3), rgb[::-1], np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    frames = list(open_source(str(tmp_path)))
    assert [tuple(f.image[0, 0]) for f in frames] == colours
    assert all(f.box is None and f.visible is None for f in frames)

    sequence = SyntheticSequence(synthetic_suite(height=48, width=64, num_frames=3)["clean"])
    folder = write_got10k(sequence, tmp_path / "got" / "clean")
    frames = list(open_source(str(folder)))
    assert len(frames) == 3
    assert frames[1].box == pytest.approx(sequence[1].box, abs=1e-3)
    assert frames[1].visible is True


def test_video_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    assert writer.isOpened(), "OpenCV cannot write MJPG here"
    for value in (40, 120, 200):
        writer.write(np.full((24, 32, 3), (value, value, value), np.uint8))
    writer.release()
    frames = list(open_source(str(path)))
    assert [float(f.image.mean()) for f in frames] == pytest.approx([40, 120, 200], abs=3)


def test_bad_sources_raise_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown synthetic sequence 'nope'; choose one of: clean"):
        open_source("synthetic:nope")
    with pytest.raises(FileNotFoundError, match="does not exist: give synthetic:<name>"):
        open_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(ValueError, match="no images"):
        open_source(str(tmp_path))
    (tmp_path / "fake.mp4").write_text("not a video")
    with pytest.raises(ValueError, match=r"could not open .* as a video"):
        open_source(str(tmp_path / "fake.mp4"))
