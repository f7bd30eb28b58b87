#!/usr/bin/env bash
# Real videos for the held-out evaluation set (docs/REAL_CLIPS.md), from the Debian package opencv-doc, decoded into
# GOT-10k folders outside git: DEST/<clip>/00000001.jpg ..., groundtruth.txt (and absence.label) copied from the
# committed labels in benchmarks/real_clips/, DEST/list.txt, DEST/SOURCES.txt (package and version).
#   box, cup      opencv4/html/{box,cup}.mp4.gz: hand-held objects     vtest_*  examples/data/vtest.avi: pedestrians
# Usage: scripts/fetch_real_clips.sh [DEST]   (default: $JCAT_REAL_CLIPS_DIR or ~/.cache/jcat/real_clips)
# Needs apt-get (download only, nothing is installed), dpkg-deb, gunzip and the repository's Python with OpenCV.
# Idempotent: with every clip's frames already there it only refreshes the labels. Refuses when a video decodes to
# another number of frames than the labels have.
set -euo pipefail
dest="${1:-${JCAT_REAL_CLIPS_DIR:-$HOME/.cache/jcat/real_clips}}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="$root/.venv/bin/python"; [[ -x "$python" ]] || python=python3
extract="$root/benchmarks/real_clips/extract.py"
if [[ -f "$dest/SOURCES.txt" ]] && "$python" "$extract" --labels-only "$dest" >/dev/null 2>&1; then
  echo "fetch_real_clips: already in $dest (labels refreshed)"; exit 0
fi
mkdir -p "$dest"; dest="$(cd "$dest" && pwd)"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download opencv-doc >/dev/null || {
  echo "fetch_real_clips: apt-get download opencv-doc failed (no Debian mirror reachable?)" >&2; exit 1; }
dpkg-deb -x opencv-doc_*.deb x
docs=x/usr/share/doc/opencv-doc
gunzip -f "$docs/opencv4/html/box.mp4.gz" "$docs/opencv4/html/cup.mp4.gz"
version="$(dpkg-deb -f opencv-doc_*.deb Version)"
"$python" "$extract" --doc-root "$docs" --package-version "$version" "$dest"
dpkg-deb -f opencv-doc_*.deb Package Version > "$dest/SOURCES.txt"
echo "fetch_real_clips: clips in $dest"
