"""`jcat-bag make`: a synthetic sequence, a GOT-10k sequence folder, a video file or an image folder as a rosbag2.

The camera topic carries sensor_msgs/Image (or CompressedImage) stamped at the source's own rate (a video's; else
--rate, 10 Hz by default) with a little jitter, as a real driver's are, with camera_info beside it; every frame of a
real source is taken unless --frames says otherwise. Ground truth, when the source has it, goes on
`<camera>/ground_truth/detections` (vision_msgs/Detection2DArray, empty while the target is not visible) and
`<camera>/ground_truth/mask` (mono8). A box given for a source without ground truth is stored as the init request.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer

from jcat_core.data.sources import SourceFrame, open_source
from jcat_core.eval.datasets.base import Sequence, SequenceError
from jcat_core.eval.datasets.got10k import load_got10k_sequence
from jcat_ros.bag import convert
from jcat_ros.bag import types as T

STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
INIT_TOPIC = "/jcat_bag/init_request"
TRANSPORT_DELAY_NS = 2_000_000  # bag receive time after the stamp, as a recorder on the camera's machine sees it
DEFAULT_RATE = 10.0  # stamps per second for sources without a rate of their own
SYNTHETIC_FRAMES = 120  # length of a synthetic sequence when --frames does not say


class BagError(Exception):
    """A bag that cannot be made or read, with what to do about it."""


@dataclass
class MakeOptions:
    """What `make` writes and where."""

    source: str  # synthetic:<name>, a GOT-10k folder, an image folder or a video file
    out: Path
    storage: str = "mcap"
    rate: float | None = None  # frames per second of the stamps; None = the source's own, else DEFAULT_RATE
    frames: int = 0  # the most frames taken (0 = all); a synthetic sequence's length (0 = SYNTHETIC_FRAMES)
    width: int = 640  # synthetic size
    height: int = 480
    seed: int = 0
    camera: str = "/camera"  # namespace of image_raw, camera_info and ground_truth/*
    compressed: str = ""  # "" = sensor_msgs/Image; "jpeg" or "png" = CompressedImage on image_raw/compressed
    encoding: str = "rgb8"  # rgb8 | bgr8 for raw images
    frame_id: str = "camera"
    box: tuple[float, float, float, float] | None = None  # init box on the first frame for sources without truth
    start_ns: int = 0  # stamp of the first frame; 0 = now
    force: bool = False


@dataclass
class MakeResult:
    """The bag written: where, how many frames, whether it has ground truth, and its topics."""

    path: Path
    frames: int
    ground_truth: bool
    topics: dict[str, str]  # topic -> message type
    rate: float  # stamps per second
    rate_from: str  # where that rate comes from, in words


def image_topic(options: MakeOptions) -> str:
    return f"{options.camera}/image_raw" + ("/compressed" if options.compressed else "")


def prepare_output(path: Path, force: bool) -> None:
    """Refuse to overwrite an existing path unless `force`, and then only a bag (never an arbitrary folder)."""
    if not path.exists():
        return
    if not force:
        raise BagError(f"{path} exists; pass --force to overwrite it")
    looks_like_bag = path.is_dir() and ((path / "metadata.yaml").exists() or any(
        p.suffix in (".mcap", ".db3") for p in path.iterdir()))
    if not looks_like_bag:
        raise BagError(f"{path} exists and is not a bag: not overwriting it even with --force")
    shutil.rmtree(path)


def make_bag(options: MakeOptions) -> MakeResult:
    """Write the bag; on a failing source frame the frames written so far are kept as a valid bag and BagError
    says where it stopped."""
    if options.storage not in STORAGES:
        raise BagError(f"storage must be one of {', '.join(STORAGES)}, got {options.storage!r}")
    if options.compressed not in ("", "jpeg", "png"):
        raise BagError(f"--compressed must be jpeg or png, got {options.compressed!r}")
    if options.rate is not None and not options.rate > 0:
        raise BagError(f"--rate must be positive, got {options.rate}")
    try:
        frames = source_frames(options)
    except (ValueError, FileNotFoundError, OSError) as err:
        raise BagError(str(err)) from err
    rate, rate_from = stamp_rate(options)
    prepare_output(options.out, options.force)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    store = T.typestore()
    period_ns = round(1e9 / rate)
    jitter = np.random.default_rng(options.seed)  # stamps 1 % of a period off the grid, as a driver's are
    start = options.start_ns or time.time_ns()
    topics = {image_topic(options): T.COMPRESSED if options.compressed else T.IMAGE,
              f"{options.camera}/camera_info": T.CAMERA_INFO}
    written, has_truth, stopped = 0, False, None
    with Writer(options.out, version=9, storage_plugin=STORAGES[options.storage]) as writer:
        connections = {topic: T.add_connection(writer, topic, kind) for topic, kind in topics.items()}

        def write(topic: str, kind: str, msg, at_ns: int) -> None:
            if topic not in connections:
                topics[topic] = kind
                connections[topic] = T.add_connection(writer, topic, kind)
            writer.write(connections[topic], at_ns + TRANSPORT_DELAY_NS, store.serialize_cdr(msg, kind))

        try:
            for index, frame in enumerate(frames):
                if options.frames and index >= options.frames:
                    break
                at = start + index * period_ns + int(jitter.normal(0.0, 0.01 * period_ns))
                head = convert.header(at, options.frame_id)
                image = (convert.compressed_message(frame.image, head, options.compressed) if options.compressed
                         else convert.image_message(frame.image, head, options.encoding))
                write(image_topic(options), topics[image_topic(options)], image, at)
                height, width = frame.image.shape[:2]
                write(f"{options.camera}/camera_info", T.CAMERA_INFO, convert.camera_info_message(head, width, height),
                      at)
                if frame.box is not None:
                    has_truth = True
                    box = frame.box if frame.visible is not False else None
                    write(f"{options.camera}/ground_truth/detections", T.DETECTIONS,
                          convert.detections_message(head, box), at)
                if frame.mask is not None:
                    write(f"{options.camera}/ground_truth/mask", T.IMAGE, convert.mask_message(frame.mask, head), at)
                if index == 0 and options.box is not None:
                    write(INIT_TOPIC, T.INIT_REQUEST, convert.init_request_message(options.box, at, "target"), at)
                written += 1
        except (OSError, ValueError) as err:
            stopped = err
    if written == 0:
        shutil.rmtree(options.out, ignore_errors=True)
        raise BagError(f"{options.source}: no frame could be read ({stopped or 'the source is empty'})")
    if stopped is not None:
        raise BagError(f"{options.source}: stopped after {written} frames: {stopped}; those are kept in {options.out}")
    return MakeResult(options.out, written, has_truth, dict(topics), rate, rate_from)


def source_frames(options: MakeOptions) -> Iterator[SourceFrame]:
    """The source's frames: a GOT-10k sequence folder through jcat-eval's own loader, so that the bag holds the
    frames and ground truth jcat-eval scores (any layout and image type it reads), anything else through open_source."""
    folder = Path(options.source).expanduser()
    if folder.is_dir() and (folder / "groundtruth.txt").is_file():
        try:
            sequence = load_got10k_sequence(folder)
        except SequenceError as err:
            raise BagError(f"{folder}: {err}") from err
        return (got10k_frame(sequence, index) for index in range(len(sequence)))
    return open_source(options.source, width=options.width, height=options.height,
                       num_frames=options.frames or SYNTHETIC_FRAMES, seed=options.seed)


def got10k_frame(sequence: Sequence, index: int) -> SourceFrame:
    """Frame `index` of a loaded sequence; a box that is not known (NaN: jcat-eval does not score it) is left out."""
    box = sequence.boxes[index]
    visible = None if sequence.visible is None else bool(sequence.visible[index])
    return SourceFrame(sequence.image(index), tuple(float(v) for v in box) if np.isfinite(box).all() else None,
                       sequence.mask(index), visible)


def stamp_rate(options: MakeOptions) -> tuple[float, str]:
    """Stamps per second and where that figure comes from: --rate, else the source's own (a video file's), else
    DEFAULT_RATE."""
    if options.rate is not None:
        return options.rate, "--rate"
    own = video_rate(Path(options.source).expanduser())
    return (own, "the video's own rate") if own else (DEFAULT_RATE, "the default: the source has no rate of its own")


def video_rate(path: Path) -> float | None:
    """A video file's frame rate as OpenCV reads it from the container; None for anything else or no usable rate."""
    if not path.is_file():
        return None
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) if capture.isOpened() else 0.0
    capture.release()
    return fps if math.isfinite(fps) and fps > 0 else None
