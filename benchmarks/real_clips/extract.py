"""Decode the real clips from an unpacked opencv-doc package into GOT-10k folders (scripts/fetch_real_clips.sh calls
it): DEST/<clip>/00000001.jpg ..., groundtruth.txt and absence.label copied from the committed labels, DEST/list.txt.
Refuses when a video decodes to another number of frames than clips.json and the labels expect.

    python benchmarks/real_clips/extract.py --doc-root X/usr/share/doc/opencv-doc DEST
    python benchmarks/real_clips/extract.py --labels-only DEST     (exit 1 when frames are missing)
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
from source import Catalogue, Clip, load_catalogue, video_frames

LABEL_FILES = ("groundtruth.txt", "absence.label")
JPEG_QUALITY = 95


def label_count(clip: Clip) -> int:
    """Lines of the committed groundtruth.txt."""
    return sum(1 for line in (clip.labels / "groundtruth.txt").read_text().splitlines() if line.strip())


def has_frames(clip: Clip, dest: Path) -> bool:
    """DEST/<clip> holds exactly the clip's JPEG frames."""
    folder = dest / clip.name
    return folder.is_dir() and len(list(folder.glob("*.jpg"))) == clip.frames


def decode(clip: Clip, doc_root: Path, dest: Path) -> None:
    """Write the clip's frames as 00000001.jpg ...; SystemExit when the video's decoded length is not the expected
    one (another package version or decoder would give other frames than the labels describe)."""
    folder = dest / clip.name
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for index, frame in enumerate(video_frames(doc_root / clip.video)):
        total += 1
        if clip.start <= index < clip.start + clip.frames:
            path = folder / f"{index - clip.start + 1:08d}.jpg"
            cv2.imwrite(str(path), frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if total != clip.video_frames:
        shutil.rmtree(folder)
        sys.exit(f"extract: {clip.video} decodes to {total} frames, the labels of {clip.name} expect "
                 f"{clip.video_frames}; refusing")


def copy_labels(catalogue: Catalogue, dest: Path) -> None:
    """Copy the committed label files into DEST and write DEST/list.txt."""
    for clip in catalogue.clips.values():
        for name in LABEL_FILES:
            if (clip.labels / name).is_file():
                shutil.copyfile(clip.labels / name, dest / clip.name / name)
    (dest / "list.txt").write_text("\n".join(catalogue.clips) + "\n")


def check_labels(catalogue: Catalogue) -> None:
    """SystemExit when a committed groundtruth.txt does not have one line per clip frame."""
    for clip in catalogue.clips.values():
        if label_count(clip) != clip.frames:
            sys.exit(f"extract: {clip.labels / 'groundtruth.txt'} has {label_count(clip)} lines for {clip.frames} "
                     "frames; refusing")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--doc-root", type=Path, help="the unpacked usr/share/doc/opencv-doc")
    parser.add_argument("--labels-only", action="store_true",
                        help="only refresh the labels when every clip's frames are there; exit 1 otherwise")
    parser.add_argument("--package-version", help="the downloaded package's version, compared with clips.json's")
    args = parser.parse_args()
    catalogue = load_catalogue()
    check_labels(catalogue)
    if args.labels_only or args.doc_root is None:
        if not all(has_frames(clip, args.dest) for clip in catalogue.clips.values()):
            sys.exit(1)
    else:
        if args.package_version and args.package_version != catalogue.version:
            print(f"extract: warning: {catalogue.package} {args.package_version} downloaded, the labels were made on "
                  f"{catalogue.version}; the frame counts are checked", file=sys.stderr)
        for clip in catalogue.clips.values():
            decode(clip, args.doc_root, args.dest)
    copy_labels(catalogue, args.dest)
    frames = sum(clip.frames for clip in catalogue.clips.values())
    print(f"extract: {len(catalogue.clips)} clips, {frames} frames in {args.dest}")


if __name__ == "__main__":
    main()
