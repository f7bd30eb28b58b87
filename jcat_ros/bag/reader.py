"""Reading rosbag2 recordings (mcap or sqlite3, split or not) for the bag tools, with messages that say what is
wrong with a bag and what to do: no metadata.yaml, not a bag, truncated, a topic that is not there or not images."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from rosbags.rosbag2 import Reader
from rosbags.rosbag2.errors import ReaderError

from jcat_ros.bag import convert
from jcat_ros.bag import types as T
from jcat_ros.bag.writer import INIT_TOPIC, BagError
from jcat_ros.message_fields import box_xywh, time_ns


@dataclass(frozen=True)
class BagFrame:
    """One camera message: its header stamp, its bag time and its serialized (CDR) form."""

    index: int
    stamp_ns: int
    bag_ns: int
    raw: bytes
    msgtype: str

    def message(self):
        return T.typestore().deserialize_cdr(self.raw, self.msgtype)


@dataclass(frozen=True)
class InitRequest:
    """An ~/init request recorded in a bag: the box and the stamp of the frame it was drawn on."""

    box: tuple[float, float, float, float]
    stamp_ns: int
    target_id: str


@dataclass
class GroundTruth:
    """Boxes (None = target not visible) and masks by header stamp, and the stamps whose box is not finite."""

    boxes: dict[int, tuple[float, float, float, float] | None] = field(default_factory=dict)
    masks: dict[int, bytes] = field(default_factory=dict)  # stamp -> serialized mono8 Image
    not_finite: list[int] = field(default_factory=list)

    def mask(self, stamp_ns: int) -> np.ndarray | None:
        """The HxW bool ground-truth mask of the frame with this stamp, None when the bag has none for it."""
        raw = self.masks.get(stamp_ns)
        return None if raw is None else convert.decode_mask(T.typestore().deserialize_cdr(raw, T.IMAGE))


def open_reader(path: Path) -> Reader:
    """An open rosbags Reader, or BagError saying why the path is not a readable bag."""
    path = Path(path)
    if not path.exists():
        raise BagError(f"{path} does not exist")
    if path.is_dir() and not (path / "metadata.yaml").is_file():
        files = sorted(p.name for p in path.iterdir() if p.suffix in (".mcap", ".db3"))
        hint = (f"; it holds {', '.join(files)}: give an .mcap file itself (mcap is self-describing), or "
                "rebuild metadata.yaml with `ros2 bag reindex` on a ROS machine") if files else ""
        raise BagError(f"{path} has no metadata.yaml, so it is not a rosbag2 folder{hint}")
    if path.is_file() and path.suffix != ".mcap":
        raise BagError(f"{path} is a file: give the bag's folder (with metadata.yaml) or an .mcap file")
    reader = Reader(path)
    try:
        reader.open()
    except ReaderError as err:
        text = str(err)
        if "magic" in text.lower():
            text += " (the mcap file is truncated or was not closed: the recorder was killed or the copy is partial)"
        elif "database" in text.lower():
            text += " (the .db3 file is not a rosbag2 sqlite3 storage file)"
        raise BagError(f"cannot read {path}: {text}") from err
    except (OSError, ValueError, KeyError) as err:
        raise BagError(f"cannot read {path} as a rosbag2: {err}") from err
    return reader


def topic_list(reader: Reader) -> str:
    return "; ".join(f"{t} ({i.msgtype}, {i.msgcount} messages)" for t, i in sorted(reader.topics.items()))


class Bag:
    """A bag opened for evaluation or replay: its image topic, ground truth and recorded init request."""

    def __init__(self, path: Path, image_topic: str | None = None, truth_topic: str | None = None) -> None:
        self.path = Path(path)
        self.reader = open_reader(self.path)
        topics = self.reader.topics
        self.image_topic = self._image_topic(image_topic)
        self.image_type = topics[self.image_topic].msgtype
        self.truth_topic = self._optional_topic(truth_topic, T.DETECTIONS, "ground_truth")
        self.mask_topic = next((t for t, i in sorted(topics.items()) if i.msgtype == T.IMAGE and "ground_truth" in t
                                and t.endswith("mask")), None)
        self.init_topic = INIT_TOPIC if topics.get(INIT_TOPIC, None) and topics[INIT_TOPIC].msgtype == T.INIT_REQUEST \
            else None
        self.problems: list[str] = []  # what went wrong while reading; the frames before it are still used

    def _image_topic(self, requested: str | None) -> str:
        topics = self.reader.topics
        if requested:
            if requested not in topics:
                raise BagError(f"{self.path} has no topic {requested}; its topics: {topic_list(self.reader)}")
            if topics[requested].msgtype not in T.IMAGE_TYPES:
                raise BagError(f"{requested} carries {topics[requested].msgtype}, not images "
                               f"({' or '.join(T.IMAGE_TYPES)}); its topics: {topic_list(self.reader)}")
            return requested
        candidates = [t for t, i in sorted(topics.items()) if i.msgtype in T.IMAGE_TYPES and "ground_truth" not in t
                      and not t.endswith(("mask", "debug_image"))]
        if len(candidates) > 1:
            candidates = [t for t in candidates if "image_raw" in t] or candidates
        if len(candidates) != 1:
            found = "several" if candidates else "no"
            raise BagError(f"{self.path}: {found} camera image topics; choose one with --image-topic. Its topics: "
                           f"{topic_list(self.reader)}")
        return candidates[0]

    def _optional_topic(self, requested: str | None, msgtype: str, hint: str) -> str | None:
        topics = self.reader.topics
        if requested:
            if requested not in topics or topics[requested].msgtype != msgtype:
                raise BagError(f"{self.path} has no {msgtype} topic {requested}; its topics: {topic_list(self.reader)}")
            return requested
        return next((t for t, i in sorted(topics.items()) if i.msgtype == msgtype and hint in t), None)

    def _messages(self, topics: list[str]) -> Iterator[tuple[str, int, bytes]]:
        """(topic, bag time, CDR) of these topics in bag-time order; a read error ends the stream and is kept in
        `problems` so that everything before it still counts."""
        connections = [c for c in self.reader.connections if c.topic in topics]
        if not connections:  # rosbags reads every topic when given none
            return
        try:
            for connection, bag_ns, raw in self.reader.messages(connections=connections):
                yield connection.topic, bag_ns, bytes(raw)
        except (ReaderError, OSError, ValueError, KeyError) as err:
            self.problems.append(f"reading stopped early: {err}")

    def frames(self) -> Iterator[BagFrame]:
        store = T.typestore()
        for index, (_, bag_ns, raw) in enumerate(self._messages([self.image_topic])):
            try:
                head = store.deserialize_cdr(raw, self.image_type).header
            except Exception as err:  # rosbags raises several types for a corrupt message
                self.problems.append(f"frame {index}: cannot be deserialized: {err}")
                continue
            yield BagFrame(index, time_ns(head.stamp), bag_ns, raw, self.image_type)

    def frame_index(self, max_frames: int = 0) -> list[BagFrame]:
        """Every camera frame's stamps without its pixels (where to start, how many), for a second, streaming pass
        over `frames()`; the problems met are left to that pass to report."""
        index = [replace(f, raw=b"") for f in self.frames()]
        self.problems.clear()
        return index[:max_frames] if max_frames else index

    def ground_truth(self) -> GroundTruth:
        truth = GroundTruth()
        topics = [t for t in (self.truth_topic, self.mask_topic) if t]
        store = T.typestore()
        for topic, _, raw in self._messages(topics):
            if topic == self.mask_topic:
                truth.masks[time_ns(store.deserialize_cdr(raw, T.IMAGE).header.stamp)] = raw
                continue
            msg = store.deserialize_cdr(raw, T.DETECTIONS)
            at = time_ns(msg.header.stamp)
            box = convert.detection_box(msg)
            if box is not None and not convert.finite_box(box):
                truth.not_finite.append(at)
                continue
            truth.boxes[at] = box
        return truth

    def init_request(self) -> InitRequest | None:
        """The first init request recorded in the bag (by `make --box` or a replay), if any."""
        for _, _, raw in self._messages([self.init_topic] if self.init_topic else []):
            msg = T.typestore().deserialize_cdr(raw, T.INIT_REQUEST)
            return InitRequest(box_xywh(msg.box), time_ns(msg.stamp), msg.target_id)
        return None

    def close(self) -> None:
        self.reader.close()
