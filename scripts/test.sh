#!/usr/bin/env bash
# Runs every test, as CI does: makes the environment if needed (scripts/setup.sh, idempotent), then the
# linter and the whole pytest suite (unit, ROS processes and slow tests; GPU tests skip without CUDA).
# Extra arguments go to pytest, e.g. scripts/test.sh -m "not slow" -x
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/setup.sh
# shellcheck disable=SC1091
source env.sh
echo "[test] ruff check"
ruff check .
echo "[test] pytest"
exec pytest "$@"
