#!/usr/bin/env bash
# The main job, end to end: makes the environment if needed, then runs jcat_ros.demo — a synthetic camera node,
# the tracker node started with `ros2 launch`, the target initialised with init_client, and a summary against
# the exact ground truth (report in runs/demo/). Arguments go to the demo: scripts/demo.sh --help
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/setup.sh
# shellcheck disable=SC1091
source env.sh
exec python -m jcat_ros.demo "$@"
