"""jcat-bag make and eval without ROS processes: bag contents in both storages, CompressedImage, eval figures equal
to jcat_core.eval.metrics on the core tracker's own output over the same sequence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import Reader

from jcat_core.data.synthetic import SyntheticSequence, synthetic_suite
from jcat_core.eval.datasets import write_synthetic
from jcat_core.eval.metrics import evaluate_boxes
from jcat_core.tracker import build_tracker
from jcat_ros.bag import types as T
from jcat_ros.bag.cli import main as jcat_bag
from jcat_ros.bag.writer import INIT_TOPIC
from jcat_ros.message_fields import box_xywh

REPO = Path(__file__).resolve().parents[2]
SIZE = dict(width=160, height=120)
FRAMES = 8


def make(tmp_path: Path, name: str, *extra: str, width: int = 160, height: int = 120) -> Path:
    out = tmp_path / name
    assert jcat_bag(["make", "synthetic:clean", str(out), "--frames", str(FRAMES), "--width", str(width), "--height",
                     str(height), *extra]) == 0
    return out


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_make_writes_a_rosbag2_with_the_expected_types_and_counts(tmp_path, storage) -> None:
    bag = make(tmp_path, storage, "--storage", storage, "--rate", "20")
    assert (bag / "metadata.yaml").is_file()
    assert [p.suffix for p in bag.iterdir() if p.name != "metadata.yaml"] == [".mcap" if storage == "mcap" else ".db3"]
    with Reader(bag) as reader:
        topics = {t: (i.msgtype, i.msgcount) for t, i in reader.topics.items()}
        assert topics == {"/camera/image_raw": (T.IMAGE, FRAMES), "/camera/camera_info": (T.CAMERA_INFO, FRAMES),
                          "/camera/ground_truth/detections": (T.DETECTIONS, FRAMES),
                          "/camera/ground_truth/mask": (T.IMAGE, FRAMES)}
        store = T.typestore()
        images = [store.deserialize_cdr(raw, c.msgtype) for c, _, raw in reader.messages()
                  if c.topic == "/camera/image_raw"]
    stamps = np.array([i.header.stamp.sec * 10**9 + i.header.stamp.nanosec for i in images])
    assert np.allclose(np.diff(stamps), 50e6, rtol=0.1)  # 20 Hz, with a little jitter
    assert images[0].encoding == "rgb8" and (images[0].width, images[0].height) == (160, 120)


@pytest.mark.parametrize(("family", "start"), [("synthetic", "box"), ("synthetic", "mask"), ("got10k", "box")])
def test_make_then_eval_equals_jcat_eval_on_the_same_sequence(tmp_path, one_thread, family, start) -> None:
    """One protocol in both tools, from the first box unless --init-mask asks for the first ground-truth mask: the
    same box figures and mask IoU (J) on a GOT-10k-layout folder with masks, read as the synthetic suite or as
    GOT-10k (the real-clip case: a sequence folder with a mask/ folder)."""
    from jcat_core.cli.eval import main as jcat_eval

    data = write_synthetic(tmp_path / "data", ("clean",), height=120, width=160, num_frames=FRAMES)
    option = ["--init-mask"] if start == "mask" else []
    assert jcat_eval(["run", "--dataset", family, "--root", str(data), "--trackers", "standin", "--out",
                      str(tmp_path / "jcat-eval"), "--no-progress", *option]) == 0
    expected = json.loads((tmp_path / "jcat-eval" / family / "summary.json").read_text())
    expected = expected["trackers"]["standin"]["per_sequence"]["clean"]
    # the same folder as a bag (all its frames, by default), evaluated in-process by jcat-bag
    assert jcat_bag(["make", str(data / "clean"), str(tmp_path / "bag")]) == 0
    assert jcat_bag(["eval", str(tmp_path / "bag"), "--weights", "standin", "--device", "cpu", "--out",
                     str(tmp_path / "eval"), "--no-video", *option]) == 0
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    accuracy = report["accuracy"]
    assert report["init"]["start"] == start
    assert accuracy["frames_with_truth"] == FRAMES - 1  # the init frame is not scored, in either
    # jcat-eval scores the boxes it wrote to its result files (4 decimals), jcat-bag the tracker's own floats
    for name in ("auc", "precision_20", "normalized_precision", "ao", "sr50", "sr75", "mean_iou"):
        assert accuracy[name] == pytest.approx(expected[name], abs=1e-5), name
    assert accuracy["mask_iou"] == pytest.approx(expected["j"], abs=1e-9)  # the same masks, no rounding
    written = {p.name for p in (tmp_path / "eval").iterdir()}
    assert {"iou_over_time.png", "latency_histogram.png", "success.png"} <= written


@pytest.mark.parametrize("start", ["box", "mask"])
def test_eval_scores_with_jcat_core_metrics(tmp_path, one_thread, start) -> None:
    """On a raw (lossless) bag: the core tracker run directly over the same frames, started from the first box (as
    the node is) or, with --init-mask, from the first ground-truth mask, and scored by evaluate_boxes."""
    bag = make(tmp_path, "bag")
    assert jcat_bag(["eval", str(bag), "--weights", "standin", "--device", "cpu", "--out", str(tmp_path / "eval"),
                     "--no-video", *(["--init-mask"] if start == "mask" else [])]) == 0
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    accuracy = report["accuracy"]
    sequence = SyntheticSequence(synthetic_suite(num_frames=FRAMES, seed=0, **SIZE)["clean"])
    tracker = build_tracker(weights="standin", device="cpu")
    given = {"box": tuple(report["init"]["box"])} if start == "box" else {"mask": sequence[0].mask}
    tracker.initialize(sequence[0].image, **given)
    boxes = [tuple(tracker.track(f.image).box) for f in sequence[1:]]
    expected = evaluate_boxes(np.array(boxes), np.array([f.box for f in sequence[1:]]),
                              np.array([f.visible for f in sequence[1:]]))
    for name in ("auc", "precision_20", "normalized_precision", "ao", "sr50", "sr75", "mean_iou"):
        assert accuracy[name] == pytest.approx(getattr(expected, name), abs=1e-12), name
    assert accuracy["success_curve"]["success"] == pytest.approx(expected.success.tolist())
    assert accuracy["mask_iou"] > 0.5  # J wherever the bag has ground-truth masks, whichever the start
    assert report["init"]["start"] == start


def test_a_compressed_image_bag_is_written_and_evaluated(tmp_path, one_thread) -> None:
    # 320x240 (a 47x35 target): at 160x120 the 23x17 target's box is ~1 px wider per side by the published tracker's
    # box convention (mask extent + 1 image px on a 5x upsampled crop), which this decoding check should not measure
    bag = make(tmp_path, "jpeg", "--compressed", "jpeg", width=320, height=240)
    with Reader(bag) as reader:
        assert reader.topics["/camera/image_raw/compressed"].msgtype == T.COMPRESSED
        assert reader.topics["/camera/image_raw/compressed"].msgcount == FRAMES
    out = tmp_path / "eval"
    assert jcat_bag(["eval", str(bag), "--weights", "standin", "--device", "cpu", "--out", str(out),
                     "--max-frames", "4"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["image_topic"] == "/camera/image_raw/compressed"
    assert report["frames"] == 4 and report["accuracy"]["mean_iou"] > 0.8
    assert (out / "overlay.mp4").stat().st_size > 1000 and (out / "frame_strip.png").is_file()


def test_compare_puts_runs_side_by_side(tmp_path, capsys) -> None:
    runs = []
    for name, iou in (("a", 0.9), ("b", 0.5)):
        (tmp_path / name).mkdir()
        report = {"mode": "eval", "frames": 3, "system": {"track_time": {"median_ms": 10.0, "p95_ms": 12.0}},
                  "states": {"time_lost_percent": 0.0},
                  "accuracy": {"mean_iou": iou, "mask_iou": None, "auc": iou, "precision_20": 1.0,
                               "success_curve": {"thresholds": [0.0, 1.0], "success": [1.0, 0.0]}}}
        (tmp_path / name / "report.json").write_text(json.dumps(report))
        runs.append(str(tmp_path / name))
    assert jcat_bag(["--compare", *runs]) == 0
    table = capsys.readouterr().out
    assert "mean IoU / mask IoU" in table and "0.900 / -" in table and "0.500 / -" in table
    assert jcat_bag(["compare", *runs, "--out", str(tmp_path / "cmp")]) == 0
    assert (tmp_path / "cmp" / "compare_success.png").is_file() and (tmp_path / "cmp" / "compare.json").is_file()


def test_make_and_eval_work_without_rclpy(tmp_path) -> None:
    script = f"""
import sys
for name in ("rclpy", "sensor_msgs", "sensor_msgs.msg", "vision_msgs", "std_msgs", "cv_bridge"):
    sys.modules[name] = None  # importing them fails, as on a machine without ROS
import torch
torch.set_num_threads(1)
from jcat_ros.bag.cli import main
assert main(["make", "synthetic:clean", r"{tmp_path / 'bag'}", "--frames", "3", "--width", "64", "--height", "48"]) == 0
assert main(["eval", r"{tmp_path / 'bag'}", "--weights", "standin", "--device", "cpu", "--out", r"{tmp_path / 'out'}",
             "--no-video"]) == 0
assert "rclpy" not in {{m for m, v in sys.modules.items() if v is not None}}
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_split_bag_is_read_as_one_recording(tmp_path, one_thread) -> None:
    from ruamel.yaml import YAML

    # two recordings made one after the other (later stamps in the second), joined as rosbag2 joins the files of
    # a split recording: one metadata.yaml listing both files, with the totals
    parts = [make(tmp_path, f"part{i}", "--frames", "4") for i in range(2)]
    split = tmp_path / "split"
    split.mkdir()
    yaml = YAML()
    metadata = [yaml.load((p / "metadata.yaml").read_text()) for p in parts]
    for i, part in enumerate(parts):
        (split / f"split_{i}.mcap").write_bytes(next(part.glob("*.mcap")).read_bytes())
    info = metadata[0]["rosbag2_bagfile_information"]
    info["relative_file_paths"] = ["split_0.mcap", "split_1.mcap"]
    info["files"] = [dict(m["rosbag2_bagfile_information"]["files"][0], path=f"split_{i}.mcap")
                     for i, m in enumerate(metadata)]
    info["message_count"] = sum(m["rosbag2_bagfile_information"]["message_count"] for m in metadata)
    for topic, other in zip(info["topics_with_message_count"],
                            metadata[1]["rosbag2_bagfile_information"]["topics_with_message_count"], strict=True):
        topic["message_count"] += other["message_count"]
    with (split / "metadata.yaml").open("w") as file:
        yaml.dump(metadata[0], file)
    out = tmp_path / "eval"
    assert jcat_bag(["eval", str(split), "--weights", "standin", "--device", "cpu", "--out", str(out),
                     "--no-video"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["frames"] == 8 and report["accuracy"]["frames_with_truth"] == 7  # all but the init frame


@pytest.mark.parametrize("msgtype", [T.IMAGE, T.COMPRESSED, T.CAMERA_INFO, T.DETECTIONS, T.TRACKER_STATE,
                                     T.INIT_REQUEST])
def test_bag_types_have_the_hashes_rosidl_generates(msgtype) -> None:
    """The type hashes written into metadata.yaml and mcap equal those of the built interfaces (what
    `ros2 bag play` and the nodes check)."""
    package, kind, name = msgtype.split("/")
    file = f"{name.removesuffix('_Request')}.json"
    roots = [*(REPO / "install").glob("*/share"), REPO / ".venv" / "share"]  # colcon's, and the ros-* wheels'
    found = [p for root in roots if (p := root / package / kind / file).is_file()]
    if not found:
        pytest.skip(f"no rosidl type description of {msgtype} here (interfaces not built)")
    hashes = {h["type_name"]: h["hash_string"] for h in json.loads(found[0].read_text())["type_hashes"]}
    assert T.typestore().hash_rihs01(msgtype) == hashes[msgtype]


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_the_init_request_decodes_with_rosbags_own_reader_under_its_ros_name(tmp_path, storage) -> None:
    """rosbags' AnyReader builds its types from the definitions stored in the bag: with no types registered and
    nothing renamed it opens a bag holding an init request and decodes it as jcat_ros/srv/InitTarget_Request."""
    bag = make(tmp_path, storage, "--storage", storage, "--box", "10,20,30,40")
    with AnyReader([bag]) as reader:
        [connection] = [c for c in reader.connections if c.topic == INIT_TOPIC]
        [(_, _, raw)] = list(reader.messages(connections=[connection]))
        request = reader.deserialize(raw, connection.msgtype)
    assert connection.msgtype == "jcat_ros/srv/InitTarget_Request"
    assert box_xywh(request.box) == pytest.approx((10, 20, 30, 40)) and request.target_id == "target"
