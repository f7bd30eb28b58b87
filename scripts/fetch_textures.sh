#!/usr/bin/env bash
# Photographs for synthetic training textures, from Debian packages, into a cache folder outside git:
#   mate-backgrounds-nature/  12 nature photos of Debian mate-backgrounds (GPL-2+), the demo weights' textures
#   darknet-data/             6 photos of Debian darknet's data/ (GPL-3.0+ or MIT or WTFPL), held out for evaluation
# Usage: scripts/fetch_textures.sh [DEST]   (default: $JCAT_TEXTURE_DIR or ~/.cache/jcat/textures)
# Needs apt-get (download only, nothing is installed) and dpkg-deb. Idempotent.
set -euo pipefail
dest="${1:-${JCAT_TEXTURE_DIR:-$HOME/.cache/jcat/textures}}"
if [[ -n "$(ls -A "$dest/mate-backgrounds-nature" 2>/dev/null)" && -n "$(ls -A "$dest/darknet-data" 2>/dev/null)" ]]; then
  echo "fetch_textures: already in $dest"; exit 0
fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
apt-get download mate-backgrounds darknet >/dev/null || {
  echo "fetch_textures: apt-get download failed (no Debian mirror reachable?)" >&2; exit 1; }
for deb in ./*.deb; do dpkg-deb -x "$deb" x; done
mkdir -p "$dest/mate-backgrounds-nature" "$dest/darknet-data"
cp x/usr/share/backgrounds/mate/nature/*.jpg "$dest/mate-backgrounds-nature/"
for name in dog eagle giraffe horses kite person; do cp "x/usr/share/darknet/data/$name.jpg" "$dest/darknet-data/"; done
dpkg-deb -f mate-backgrounds_*.deb Package Version > "$dest/SOURCES.txt"
dpkg-deb -f darknet_*.deb Package Version >> "$dest/SOURCES.txt"
echo "fetch_textures: $(ls "$dest"/*/ | wc -l) files in $dest"
