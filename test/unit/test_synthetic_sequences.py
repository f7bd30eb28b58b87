"""The synthetic sequences: deterministic, with ground truth that matches what is drawn, and a GOT-10k round trip."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from jcat_core.data.sources import open_source
from jcat_core.data.synthetic import (
    Got10kSequence,
    Occlusion,
    SequenceSpec,
    SyntheticSequence,
    synthetic_suite,
    write_got10k,
)

SUITE = synthetic_suite(num_frames=40)


def test_the_suite_names_one_sequence_per_challenge() -> None:
    assert set(SUITE) == {"clean", "scale", "rotation", "occlusion", "distractor", "exit_reentry", "shake",
                          "illumination"}


@pytest.mark.parametrize("name", ["clean", "shake", "illumination", "distractor"])
def test_same_spec_renders_identical_frames_and_another_seed_differs(name: str) -> None:
    first, second = SyntheticSequence(SUITE[name]), SyntheticSequence(SUITE[name])
    for index in (0, 17, 39):
        a, b = first[index], second[index]
        assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
        assert a.box == b.box and a.rotated_box == b.rotated_box
    other = SyntheticSequence(replace(SUITE[name], seed=SUITE[name].seed + 99))
    assert not np.array_equal(other[0].image, first[0].image)


def test_frames_are_rgb_uint8_at_any_resolution() -> None:
    for height, width in ((48, 64), (720, 1280), (300, 200)):
        frame = SyntheticSequence(replace(SUITE["rotation"], height=height, width=width))[5]
        assert frame.image.shape == (height, width, 3) and frame.image.dtype == np.uint8
        assert frame.mask.shape == (height, width) and frame.mask.dtype == bool and frame.mask.any()


def test_mask_is_exactly_the_pixels_drawn_over_the_background() -> None:
    sequence = SyntheticSequence(SUITE["clean"])
    background = sequence._background[1:-1, 1:-1]  # no shake: the margin is one pixel
    for frame in sequence[:10]:
        changed = (frame.image != background).any(axis=-1)
        assert not (changed & ~frame.mask).any()
        assert changed[frame.mask].mean() > 0.97  # texture noise may repeat a background value by chance


@pytest.mark.parametrize("name", sorted(SUITE))
def test_box_is_the_masks_bounding_box_whenever_the_target_is_fully_visible(name: str) -> None:
    for frame in SyntheticSequence(SUITE[name]):
        if frame.visible_fraction < 1.0:
            continue
        rows, cols = np.nonzero(frame.mask)
        expected = (cols.min(), rows.min(), cols.max() + 1 - cols.min(), rows.max() + 1 - rows.min())
        assert frame.box == tuple(float(v) for v in expected)


def test_rotated_box_encloses_the_mask_and_fits_a_rectangle_tightly() -> None:
    import cv2

    spec = SequenceSpec(name="r", shape="rectangle", rotation_speed=7.0, num_frames=20, seed=3)
    for frame in SyntheticSequence(spec):
        cx, cy, w, h, angle = frame.rotated_box
        corners = cv2.boxPoints(((cx, cy), (w + 2, h + 2), angle))
        rows, cols = np.nonzero(frame.mask)
        centres = np.stack([cols + 0.5, rows + 0.5], 1).astype(np.float32)
        inside = [cv2.pointPolygonTest(corners, (float(x), float(y)), False) >= 0 for x, y in centres[::7]]
        assert all(inside)
        assert frame.mask.sum() == pytest.approx(w * h, rel=0.06)


def test_occlusion_lowers_visibility_and_keeps_the_amodal_box() -> None:
    spec = SequenceSpec(name="o", num_frames=30, seed=5,
                        occlusions=(Occlusion(5, 10, coverage=0.5), Occlusion(15, 25, coverage=1.0)))
    sequence = SyntheticSequence(spec)
    for index, frame in enumerate(sequence):
        if 15 <= index < 25:
            assert not frame.visible and frame.visible_fraction == 0.0 and frame.box[2] > 0
        elif 5 <= index < 10:
            assert 0.2 < frame.visible_fraction < 0.8 and frame.visible
        else:
            assert frame.visible_fraction == 1.0


def test_exit_and_reentry_leave_the_image_and_come_back() -> None:
    frames = list(SyntheticSequence(SUITE["exit_reentry"]))
    visible = [frame.visible for frame in frames]
    gone = [i for i, v in enumerate(visible) if not v]
    assert gone and visible[0] and visible[-1]
    assert all(frames[i].box == (0.0, 0.0, 0.0, 0.0) for i in gone)
    assert any(0 < frame.visible_fraction < 1 for frame in frames)  # cut by the image border on the way


def test_distractor_looks_like_the_target_but_is_not_in_its_mask() -> None:
    frame = SyntheticSequence(SUITE["distractor"])[0]
    plain = SyntheticSequence(replace(SUITE["distractor"], distractor=False))[0]
    extra = (frame.image != plain.image).any(axis=-1) & ~frame.mask
    assert extra.sum() > 0.5 * frame.mask.sum()
    target_colours = frame.image[frame.mask].mean(axis=0)
    assert np.abs(frame.image[extra].mean(axis=0) - target_colours).max() < 40


def test_got10k_round_trip(tmp_path) -> None:
    sequence = SyntheticSequence(replace(SUITE["exit_reentry"], num_frames=25, exit_window=(5, 20)))
    folder = write_got10k(sequence, tmp_path / "seq")
    assert (folder / "img" / "00000001.jpg").is_file() and (folder / "mask" / "00000025.png").is_file()
    first_line = (folder / "groundtruth.txt").read_text().splitlines()[0]
    assert len(first_line.split(",")) == 4
    loaded = Got10kSequence(folder)
    assert len(loaded) == len(sequence)
    for original, read in zip(sequence, loaded, strict=True):
        assert np.allclose(read.box, original.box, atol=1e-4)
        assert np.array_equal(read.mask, original.mask)
        assert read.absent == (not original.visible)
        assert np.abs(read.image.astype(int) - original.image).mean() < 8  # JPEG of a noisy texture
    assert loaded.rotated_boxes is not None and loaded.absent.any()


def test_a_flat_png_got10k_folder_is_read_as_jcat_eval_reads_it(tmp_path) -> None:
    """Frames beside groundtruth.txt (as GOT-10k ships them), PNG, and a NaN box: the camera node's source too."""
    sequence = SyntheticSequence(replace(SUITE["clean"], num_frames=3, height=48, width=64))
    folder = tmp_path / "flat"
    folder.mkdir()
    for index, frame in enumerate(sequence):
        cv2.imwrite(str(folder / f"{index + 1:08d}.png"), cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
    (folder / "groundtruth.txt").write_text("1,2,10,8\nnan,nan,nan,nan\n3,4,10,8\n")
    frames = list(open_source(str(folder)))
    assert len(frames) == 3 and frames[0].box == (1.0, 2.0, 10.0, 8.0) and frames[1].box is None
    np.testing.assert_array_equal(frames[2].image, sequence[2].image)  # PNG: lossless
