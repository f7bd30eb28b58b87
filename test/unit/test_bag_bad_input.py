"""jcat-bag on bad input: clear messages on stderr, exit status 1, partial results kept, nothing overwritten
without --force."""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from jcat_ros.bag import convert
from jcat_ros.bag import types as T
from jcat_ros.bag.cli import main as jcat_bag


@pytest.fixture(scope="module")
def bag(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bags") / "good"
    assert jcat_bag(["make", "synthetic:clean", str(out), "--frames", "4", "--width", "64", "--height", "48"]) == 0
    return out


def fails(capsys, *args: str) -> str:
    """Run jcat-bag, expect exit status 1, return what it wrote to stderr."""
    assert jcat_bag(list(args)) == 1
    return capsys.readouterr().err


def test_truncated_mcap(bag, tmp_path, capsys) -> None:
    broken = tmp_path / "truncated"
    shutil.copytree(bag, broken)
    mcap = next(broken.glob("*.mcap"))
    os.truncate(mcap, mcap.stat().st_size // 2)
    err = fails(capsys, "eval", str(broken), "--weights", "standin", "--out", str(tmp_path / "out"))
    assert "truncated" in err and str(broken) in err


def test_sqlite3_file_that_is_not_a_bag(bag, tmp_path, capsys) -> None:
    folder = tmp_path / "notabag"
    assert jcat_bag(["make", "synthetic:clean", str(folder), "--frames", "2", "--width", "32", "--height", "32",
                     "--storage", "sqlite3"]) == 0
    capsys.readouterr()
    database = next(folder.glob("*.db3"))
    database.unlink()
    with sqlite3.connect(database) as connection:  # a valid sqlite3 database, but no rosbag2 tables in it
        connection.execute("CREATE TABLE notes (text TEXT)")
    err = fails(capsys, "eval", str(folder), "--weights", "standin", "--out", str(tmp_path / "out"))
    assert "cannot read" in err and "not a rosbag2 sqlite3 storage file" in err
    database.write_bytes(b"plain text, not a database at all\n" * 20)
    err = fails(capsys, "eval", str(folder), "--weights", "standin", "--out", str(tmp_path / "out"))
    assert "cannot read" in err and "not a rosbag2 sqlite3 storage file" in err


def test_missing_metadata_yaml(bag, tmp_path, capsys) -> None:
    broken = tmp_path / "no_metadata"
    shutil.copytree(bag, broken)
    (broken / "metadata.yaml").unlink()
    err = fails(capsys, "eval", str(broken), "--weights", "standin", "--out", str(tmp_path / "out"))
    assert "no metadata.yaml" in err and ".mcap" in err  # and it says how to go on: give the .mcap itself


def test_a_topic_that_does_not_exist_lists_the_topics_that_do(bag, tmp_path, capsys) -> None:
    err = fails(capsys, "eval", str(bag), "--image-topic", "/camera/color/image_raw", "--weights", "standin",
                "--out", str(tmp_path / "out"))
    assert "no topic /camera/color/image_raw" in err
    assert "/camera/image_raw (sensor_msgs/msg/Image, 4 messages)" in err and "/camera/camera_info" in err


def test_a_topic_that_is_not_images(bag, tmp_path, capsys) -> None:
    err = fails(capsys, "eval", str(bag), "--image-topic", "/camera/camera_info", "--weights", "standin",
                "--out", str(tmp_path / "out"))
    assert "carries sensor_msgs/msg/CameraInfo, not images" in err


def test_ground_truth_with_nan_is_reported_and_left_out(tmp_path, capsys, one_thread) -> None:
    path = tmp_path / "nan"
    store = T.typestore()
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[10:30, 20:44] = (220, 40, 40)
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        image = writer.add_connection("/camera/image_raw", T.IMAGE, typestore=store)
        truth = writer.add_connection("/camera/ground_truth/detections", T.DETECTIONS, typestore=store)
        for i in range(4):
            at = 10**18 + i * 10**8
            head = convert.header(at, "camera")
            writer.write(image, at, store.serialize_cdr(convert.image_message(rgb, head), T.IMAGE))
            box = (20.0, 10.0, 24.0, 20.0) if i != 2 else (math.nan, 10.0, 24.0, 20.0)
            writer.write(truth, at, store.serialize_cdr(convert.detections_message(head, box), T.DETECTIONS))
    out = tmp_path / "out"
    assert jcat_bag(["eval", str(path), "--weights", "standin", "--device", "cpu", "--out", str(out),
                     "--no-video"]) == 0
    assert "1 ground-truth boxes are not finite" in capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["accuracy"]["frames_with_truth"] == 2  # frames 1 and 3: the NaN frame 2 is left out (and 0, the init)
    assert any("not finite" in p for p in report["problems"])


def test_images_that_cannot_be_decoded_are_counted_and_the_rest_evaluated(tmp_path, capsys, one_thread) -> None:
    path = tmp_path / "bad_encoding"
    store = T.typestore()
    rgb = np.zeros((48, 64, 3), np.uint8)
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        image = writer.add_connection("/camera/image_raw", T.IMAGE, typestore=store)
        for i in range(3):
            at = 10**18 + i * 10**8
            msg = convert.image_message(rgb, convert.header(at, "camera"))
            if i == 2:
                msg.encoding = "yuv422_yuy2"
            writer.write(image, at, store.serialize_cdr(msg, T.IMAGE))
    out = tmp_path / "out"
    assert jcat_bag(["eval", str(path), "--box", "20,10,24,20", "--weights", "standin", "--device", "cpu",
                     "--out", str(out), "--no-video"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["states"]["counts"]["DROPPED"] == 1
    assert any("unsupported image encoding 'yuv422_yuy2'" in p for p in report["problems"])
    assert report["accuracy"] == {}  # no ground truth in this bag: system figures only


def test_nothing_is_overwritten_without_force(bag, tmp_path, capsys) -> None:
    err = fails(capsys, "make", "synthetic:clean", str(bag), "--frames", "2")
    assert "exists; pass --force" in err
    with Reader(bag) as reader:
        assert reader.topics["/camera/image_raw"].msgcount == 4  # untouched
    folder = tmp_path / "precious"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    err = fails(capsys, "make", "synthetic:clean", str(folder), "--frames", "2", "--force")
    assert "not a bag" in err and (folder / "notes.txt").read_text() == "keep me"
    out = tmp_path / "report"
    out.mkdir()
    (out / "report.json").write_text("{}")
    err = fails(capsys, "eval", str(bag), "--weights", "standin", "--out", str(out))
    assert "already holds a report" in err and (out / "report.json").read_text() == "{}"


def test_an_unreadable_frame_in_a_folder_keeps_the_frames_before_it(tmp_path, capsys) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        cv2.imwrite(str(images / f"{i:04d}.png"), np.full((32, 48, 3), 60 * i, np.uint8))
    (images / "0003.png").write_bytes(b"not a png")
    cv2.imwrite(str(images / "0004.png"), np.zeros((32, 48, 3), np.uint8))
    err = fails(capsys, "make", str(images), str(tmp_path / "partial"), "--frames", "0")
    assert "stopped after 3 frames" in err and "kept" in err
    with Reader(tmp_path / "partial") as reader:
        assert reader.topics["/camera/image_raw"].msgcount == 3


def test_init_mask_on_a_bag_without_masks_says_so(tmp_path, capsys) -> None:
    images = tmp_path / "images"
    images.mkdir()
    for i in range(2):
        cv2.imwrite(str(images / f"{i:04d}.png"), np.full((32, 48, 3), 60 * i, np.uint8))
    assert jcat_bag(["make", str(images), str(tmp_path / "bag"), "--box", "4,5,10,8"]) == 0
    err = fails(capsys, "eval", str(tmp_path / "bag"), "--init-mask", "--weights", "standin", "--out",
                str(tmp_path / "out"))
    assert "no ground-truth mask" in err and "init frame 0" in err
