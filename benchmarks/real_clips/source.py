"""The real clips as clips.json defines them (which video of the opencv-doc package, which frames) and their decoded
frames, shared by extract.py (the fetch script) and label.py (how the committed labels were made)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
CLIPS_FILE = HERE / "clips.json"


@dataclass(frozen=True)
class Clip:
    """One evaluation clip: frames [start, start + frames) of a video whose decoder gives ``video_frames`` frames."""

    name: str
    video: str  # path under the package's doc root (usr/share/doc/opencv-doc)
    start: int
    frames: int
    video_frames: int
    size: tuple[int, int]  # (width, height)
    target: str

    @property
    def labels(self) -> Path:
        """The committed label folder (groundtruth.txt, absence.label, keyframes.json)."""
        return HERE / self.name


@dataclass(frozen=True)
class Catalogue:
    """clips.json: the Debian package the videos come from and the clips cut from them."""

    package: str
    version: str
    doc_root: str
    clips: dict[str, Clip]


def load_catalogue(path: Path = CLIPS_FILE) -> Catalogue:
    """Read clips.json."""
    data = json.loads(Path(path).read_text())
    clips = {name: Clip(name=name, video=c["video"], start=c["start"], frames=c["frames"],
                        video_frames=c["video_frames"], size=tuple(c["size"]), target=c["target"])
             for name, c in data["clips"].items()}
    return Catalogue(data["package"], data["version"], data["doc_root"], clips)


def video_frames(path: Path) -> Iterator[np.ndarray]:
    """Every frame OpenCV decodes from a video, BGR, in order (the container's frame count is not trusted: box.mp4
    says 456 and decodes to 455)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"no video at {path}")
    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()
