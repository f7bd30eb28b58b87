"""jcat-bag make on real sources: all their frames unless --frames says otherwise, a video's own frame rate, and
every GOT-10k layout jcat-eval reads (frames in img/ or beside groundtruth.txt, JPEG or PNG, masks in mask/)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from jcat_core.eval.datasets import load_dataset
from jcat_ros.bag.cli import main as jcat_bag
from jcat_ros.bag.reader import Bag

H, W = 24, 32
FRAMES = 6
ABSENT = 3  # the frame on which the target is not visible
MASKED = (0, 1, 4)  # the frames with a mask/ file


def square(index: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A frame with a bright 6x5 square moving right, and the square's box."""
    image = np.full((H, W, 3), 40, np.uint8)
    x, y = 3 + 2 * index, 7
    image[y:y + 5, x:x + 6] = 220
    return image, (x, y, 6, 5)


def got10k_folder(root: Path, layout: str, suffix: str) -> Path:
    """A GOT-10k sequence: frames in img/ or beside groundtruth.txt, absence.label, masks on some frames."""
    folder = root / "seq"
    frames = folder / "img" if layout == "img" else folder
    frames.mkdir(parents=True)
    (folder / "mask").mkdir()
    boxes = []
    for i in range(FRAMES):
        image, box = square(i)
        cv2.imwrite(str(frames / f"{i + 1:08d}{suffix}"), image)
        if i in MASKED:
            cv2.imwrite(str(folder / "mask" / f"{i + 1:08d}.png"), (image[..., 0] > 128).astype(np.uint8) * 255)
        boxes.append(",".join(str(v) for v in box))
    (folder / "groundtruth.txt").write_text("\n".join(boxes) + "\n")
    (folder / "absence.label").write_text("\n".join("1" if i == ABSENT else "0" for i in range(FRAMES)) + "\n")
    return folder


@pytest.mark.parametrize(("layout", "suffix"), [("flat", ".jpg"), ("flat", ".png"), ("img", ".png")])
def test_every_got10k_layout_jcat_eval_reads_becomes_a_bag_of_its_frames_and_truth(tmp_path, layout, suffix) -> None:
    folder = got10k_folder(tmp_path, layout, suffix)
    assert jcat_bag(["make", str(folder), str(tmp_path / "bag")]) == 0
    sequence = load_dataset("got10k", tmp_path)["seq"]  # what jcat-eval scores
    bag = Bag(tmp_path / "bag")
    try:
        frames, truth = bag.frame_index(), bag.ground_truth()
        images = [frame.message() for frame in bag.frames()]
    finally:
        bag.close()
    assert len(frames) == FRAMES
    for i, frame in enumerate(frames):
        assert np.array_equal(np.asarray(images[i].data).reshape(H, W, 3), sequence.image(i))
        expected = None if i == ABSENT else pytest.approx(tuple(sequence.boxes[i]))
        assert truth.boxes[frame.stamp_ns] == expected  # an empty detection array while the target is not visible
        mask = truth.mask(frame.stamp_ns)
        assert (mask is not None) == (i in MASKED)
        if mask is not None:
            assert np.array_equal(mask, sequence.mask(i))


def test_a_video_gives_all_its_frames_stamped_at_its_own_rate(tmp_path, capsys) -> None:
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25, (W, H))
    for i in range(130):  # more than the 120 frames once kept without a word
        writer.write(square(i % 10)[0])
    writer.release()
    assert jcat_bag(["make", str(video), str(tmp_path / "own")]) == 0
    assert "130 frames at 25 Hz (the video's own rate)" in capsys.readouterr().out
    assert jcat_bag(["make", str(video), str(tmp_path / "given"), "--rate", "5", "--frames", "7"]) == 0
    for name, count, period in (("own", 130, 0.04), ("given", 7, 0.2)):
        bag = Bag(tmp_path / name)
        try:
            stamps = np.array([frame.stamp_ns for frame in bag.frame_index()]) / 1e9
        finally:
            bag.close()
        assert len(stamps) == count and np.diff(stamps) == pytest.approx(period, rel=0.1), name


def test_a_synthetic_sequence_keeps_its_default_length_and_rate(tmp_path, capsys) -> None:
    assert jcat_bag(["make", "synthetic:clean", str(tmp_path / "bag"), "--width", str(W), "--height", str(H)]) == 0
    assert "120 frames at 10 Hz (the default: the source has no rate of its own)" in capsys.readouterr().out
