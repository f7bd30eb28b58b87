#!/usr/bin/env bash
# The main job, end to end: makes the environment if needed, then runs jcat_ros.demo — a demo bag (synthetic with
# exact ground truth, or --video FILE / --bag DIR with --box x,y,w,h), the tracker node started with `ros2 launch`,
# the bag replayed into it, the target initialised with init_client, and a summary with a report in runs/demo/
# (report.json, plots, overlay.mp4, the recorded outputs). Arguments go to the demo: scripts/demo.sh --help
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/setup.sh
# shellcheck disable=SC1091
source env.sh
exec python -m jcat_ros.demo "$@"
